"""Per-person counts of a report: kept in the narrowest type their rows allow, never
overflowing it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from riskclass.analysis import SCORE_EDGES, DeploymentSpec, count_run

PERSONS = 50
MEMBERS = np.arange(10, dtype=np.int64)  # persons 0 to 9 are on the list
THRESHOLDS = [0.5, 0.6]


def _tables(rng: np.random.Generator, events: int, busy: float) -> tuple[pa.Table, pa.Table]:
    """``events`` decisions of one watchlist deployment, and a hit of each search: a
    share ``busy`` of them person 40's non-mated searches, all alerting."""
    person = np.where(rng.random(events) < busy, 40, rng.integers(0, PERSONS, events))
    mated = person < len(MEMBERS)
    score = np.where(person == 40, 0.9, rng.uniform(0.3, 0.8, events)).astype(np.float32)
    candidate = np.where(mated, person, rng.integers(0, len(MEMBERS), events))
    deployment = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(events, np.int16)), pa.array(["street"])
    )
    decisions = pa.table(
        {
            "deployment": deployment,
            "person_id": person,
            "detected": np.ones(events, bool),
            "mated": mated,
            "candidate_id": candidate,
            "score": score,
        }
    )
    hits = pa.table(
        {
            "deployment": deployment,
            "event_id": np.arange(events, dtype=np.int64),
            "person_id": person,
            "candidate_id": candidate,
            "score": score,
        }
    )
    return decisions, hits


def _pieces(table: pa.Table) -> list[pa.Table]:
    """Row groups of 40 rows, as a run's files are read."""
    return [table.slice(start, 40) for start in range(0, table.num_rows, 40)]


def _count(decisions: pa.Table, hits: pa.Table, rows: int) -> dict[str, np.ndarray]:
    found = count_run(
        _pieces(decisions),
        _pieces(hits),
        specs=[DeploymentSpec("street", "watchlist_screening", 0.6, MEMBERS)],
        profile=np.zeros(PERSONS, np.intp),
        n_profiles=1,
        thresholds=THRESHOLDS,
        fractions=[0.5, 1.0],
        rng=np.random.default_rng(0),
        rows=rows,
    )["street"]
    return {
        name: getattr(found, name)
        for name in (
            "sweep_nonmated_alerts",
            "sweep_true_alerts",
            "impostor_hits",
            "mate_hits",
            "gallery_nonmated_alerts",
        )
    }


def test_counts_in_the_narrowest_type_equal_int64_counts() -> None:
    """120 rows: every count in int8 equals the one kept in int64."""
    decisions, hits = _tables(np.random.default_rng(2), 60, busy=0.5)
    narrow = _count(decisions, hits, decisions.num_rows + hits.num_rows)
    wide = _count(decisions, hits, 2**40)
    for name, counts in narrow.items():
        assert (counts.dtype, wide[name].dtype) == (np.int8, np.int64), name
        np.testing.assert_array_equal(counts, wide[name], err_msg=name)
        assert counts.any(), name


def test_a_count_reaches_its_types_largest_value() -> None:
    """127 decisions, all one person's alerts, and no hits: int8, and that person's
    count is 127, the most int8 holds, not wrapped around to -128."""
    decisions, hits = _tables(np.random.default_rng(3), 127, busy=1.0)
    counts = _count(decisions, hits.slice(0, 0), decisions.num_rows)
    alerts = counts["sweep_nonmated_alerts"]
    assert alerts.dtype == np.int8
    assert alerts[:, 40].tolist() == [127, 127]


def test_more_rows_than_declared_is_refused() -> None:
    decisions, hits = _tables(np.random.default_rng(1), 70, busy=0.5)
    with pytest.raises(ValueError, match="more than rows=139 rows"):
        _count(decisions, hits, decisions.num_rows + hits.num_rows - 1)


def test_sweep_and_histogram_counts_equal_plain_ones() -> None:
    """3,000 random decisions, thresholds unsorted and some scores exactly at a
    threshold or a histogram edge: each person's alerts at each threshold are the
    scores ``>=`` it, and the histogram bins are `np.searchsorted`'s."""
    rng = np.random.default_rng(5)
    thresholds = [0.6, 0.35, 0.75, 0.5]
    decisions, _ = _tables(rng, 3000, busy=0.0)
    score = decisions.column("score").to_numpy().copy()
    at = rng.random(len(score)) < 0.2
    score[at] = np.float32(rng.choice(thresholds, at.sum()))
    # Every edge, and the float32 just below each (as -1e-45 below 0, where a bin
    # found by arithmetic alone is one too high).
    edges = SCORE_EDGES.astype(np.float32)
    special = np.r_[edges, np.nextafter(edges, np.float32(-2))]
    score[-len(special) :] = special
    detected = rng.random(len(score)) < 0.9
    correct = rng.random(len(score)) < 0.8
    candidate = decisions.column("candidate_id").to_numpy()
    person = decisions.column("person_id").to_numpy()
    decisions = (
        decisions.set_column(5, "score", pa.array(score))
        .set_column(2, "detected", pa.array(detected))
        .set_column(4, "candidate_id", pa.array(np.where(correct, candidate, PERSONS - 1)))
    )
    found = count_run(
        _pieces(decisions),
        [],
        specs=[DeploymentSpec("street", "watchlist_screening", 0.6, MEMBERS)],
        profile=np.zeros(PERSONS, np.intp),
        n_profiles=1,
        thresholds=thresholds,
        fractions=[],
        rng=rng,
        rows=decisions.num_rows,
    )["street"]
    mated = decisions.column("mated").to_numpy()
    true = mated & (decisions.column("candidate_id").to_numpy() == person)
    for i, threshold in enumerate(thresholds):
        above = detected & (score >= np.float32(threshold))
        nonmated = np.bincount(person[above & ~mated], minlength=PERSONS)
        hits = np.bincount(person[above & true], minlength=PERSONS)
        np.testing.assert_array_equal(found.sweep_nonmated_alerts[i], nonmated)
        np.testing.assert_array_equal(found.sweep_true_alerts[i], hits)
        assert nonmated.any() and hits.any()
    bins = np.clip(np.searchsorted(SCORE_EDGES, score, side="right"), 1, len(SCORE_EDGES) - 1)
    bins = np.where(mated & ~true, 0, bins)
    histogram = np.zeros((1, 2, len(SCORE_EDGES)), np.int64)
    np.add.at(histogram, (0, mated[detected].astype(np.intp), bins[detected]), 1)
    np.testing.assert_array_equal(found.histogram, histogram)


def test_hit_counts_equal_plain_bincounts() -> None:
    """2,000 random searches: each person's impostor and mate hits at the threshold
    are those a bincount over every hit finds."""
    decisions, hits = _tables(np.random.default_rng(6), 2000, busy=0.1)
    counts = _count(decisions, hits, 2**40)
    person = hits.column("person_id").to_numpy()
    candidate = hits.column("candidate_id").to_numpy()
    matched = hits.column("score").to_numpy() >= np.float32(0.6)
    for name, mine in (("impostor_hits", candidate != person), ("mate_hits", candidate == person)):
        expected = np.bincount(person[matched & mine], minlength=PERSONS)
        np.testing.assert_array_equal(counts[name], expected, err_msg=name)
        assert expected.any(), name
