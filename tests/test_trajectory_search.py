"""The running top-k of trajectory search does not depend on how captures are chunked."""

from __future__ import annotations

import itertools

import numpy as np

from riskclass.pipeline import TrajectorySearch


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_chunked_search_returns_the_exact_top_k() -> None:
    rng = np.random.default_rng(3)
    photos, captures = _unit(rng, 5), _unit(rng, 3000)
    event_ids = np.arange(3000, dtype=np.int64) + 100
    persons = rng.integers(0, 500, 3000)
    search = TrajectorySearch(np.arange(5, dtype=np.int64), photos, k=7)
    for start in range(0, 3000, 419):
        rows = slice(start, start + 419)
        search.update(event_ids[rows], persons[rows], captures[rows])
    found = search.candidates()
    expected = np.argsort(-(photos @ captures.T), axis=1)[:, :7]
    np.testing.assert_array_equal(found.event_id.reshape(5, 7), event_ids[expected])
    np.testing.assert_array_equal(found.person_id.reshape(5, 7), persons[expected])
    np.testing.assert_array_equal(found.target, np.repeat(np.arange(5), 7))


def test_threshold_drops_weak_candidates_and_few_captures_give_few_candidates() -> None:
    rng = np.random.default_rng(4)
    photos, captures = _unit(rng, 3), _unit(rng, 4)
    search = TrajectorySearch(np.arange(3, dtype=np.int64), photos, k=10, threshold=0.1)
    search.update(np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int64), captures)
    found = search.candidates()
    assert (found.score >= 0.1).all()
    assert len(found.score) == int(((photos @ captures.T) >= 0.1).sum())


def test_searches_of_parts_merged_with_their_event_offsets_are_the_whole_search() -> None:
    # As a run split into tasks does: each chunk searched apart, its events numbered
    # from 0, then merged in order with the chunk's first event id in the run.
    rng = np.random.default_rng(5)
    photos, captures = _unit(rng, 4), _unit(rng, 900)
    persons = rng.integers(0, 300, 900)
    targets = np.arange(4, dtype=np.int64)
    whole = TrajectorySearch(targets, photos, k=6, threshold=0.2)
    whole.update(np.arange(900, dtype=np.int64), persons, captures)
    merged = whole.emptied()
    for start, stop in itertools.pairwise((0, 250, 600, 900)):
        part = whole.emptied()
        rows = slice(start, stop)
        part.update(np.arange(stop - start, dtype=np.int64), persons[rows], captures[rows])
        merged.merge(part, event_offset=start)
    expected, found = whole.candidates(), merged.candidates()
    assert len(found.event_id) == len(expected.event_id) > 0
    for name in ("target", "event_id", "person_id", "score"):
        np.testing.assert_array_equal(getattr(found, name), getattr(expected, name))
