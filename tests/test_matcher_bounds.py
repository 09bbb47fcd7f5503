"""Int8 bounds: they hold for every score, and search with them stays exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from riskclass.pipeline import ExactMatcher
from riskclass.pipeline.matching import SLICE, Int8Bounds, cpu_probe_levels

# Full int8 probe codes are exact only where the CPU's int8 product does not
# saturate (VNNI); elsewhere the matcher itself uses 7-bit codes.
_FULL_CODES = pytest.param(
    127,
    marks=pytest.mark.skipif(
        cpu_probe_levels() != 127, reason="this CPU has no VNNI: the matcher uses 7-bit codes here"
    ),
)


def _gallery(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """Vectors of uneven length, with zero rows, exact duplicates and near-duplicates
    (too close for their int8 codes to tell apart)."""
    vectors = rng.standard_normal((n, dims)) * rng.uniform(0.5, 2.0, (n, 1)) / np.sqrt(dims)
    vectors[::97] = 0.0
    vectors[1::89] = vectors[3]
    vectors[2::83] = vectors[5] + rng.normal(0, 1e-4, (len(vectors[2::83]), dims))
    return vectors.astype(np.float32)


@pytest.mark.parametrize("probe_levels", [_FULL_CODES, 63])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("dims", [128, 16])
def test_every_score_lies_within_its_slice_bounds(
    dtype: type, dims: int, probe_levels: int
) -> None:
    """Both probe code widths: 8 bits where the CPU has VNNI, 7 where it has not."""
    rng = np.random.default_rng(11)
    gallery = _gallery(rng, 10_000, dims).astype(dtype)
    probes = np.vstack([_gallery(rng, 300, dims), gallery[:40].astype(np.float32)])
    bounds = Int8Bounds(gallery, probe_levels=probe_levels)
    upper, lower = bounds.slice_bounds(probes)
    scores = probes.astype(np.float64) @ gallery.astype(np.float64).T
    starts = np.arange(0, len(gallery), SLICE)
    assert upper.shape == lower.shape == (len(probes), len(starts))
    best = np.maximum.reduceat(scores, starts, axis=1)
    assert (best <= upper).all()
    assert (best >= lower).all()
    # Bounds that hold only by being vacuous would fail this: the interval is a
    # few hundredths of the largest possible score.
    largest = (
        np.linalg.norm(probes, axis=1) * np.linalg.norm(gallery.astype(np.float64), axis=1).max()
    )
    assert np.median((upper - lower)[largest > 0] / largest[largest > 0, None]) < 0.1


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("k", [1, 7, 40])
def test_bounded_search_returns_what_scoring_everything_returns(threads: int, k: int) -> None:
    rng = np.random.default_rng(12)
    gallery = _gallery(rng, 20_000, 128)
    # Probes close to the duplicated rows make near-ties at the top; k = 40 is
    # more than the 20 slices, where the bounds cannot prune.
    probes = np.vstack([_gallery(rng, 500, 128), gallery[[3, 5, 7]] * 1.01])
    bounded = ExactMatcher(gallery, threads=threads)
    everything = ExactMatcher(gallery, threads=threads, bounded=False)
    positions, scores = bounded.search(probes, k=k)
    assert bounded.search(probes[:0], k=k)[0].shape == (0, k)
    expected, expected_scores = everything.search(probes, k=k)
    _same_up_to_ties(probes, gallery, positions, expected)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)
    floor = float(np.quantile(expected_scores[:, 0], 0.3))
    hits, expected_hits = (m.search_hits(probes, floor, limit=5) for m in (bounded, everything))
    np.testing.assert_array_equal(hits.probe, expected_hits.probe)
    _same_up_to_ties(probes, gallery, hits.best, expected_hits.best)
    _same_up_to_ties(probes[hits.probe], gallery, hits.position, expected_hits.position)
    assert len(hits.probe) > len(probes)


def _same_up_to_ties(
    probes: np.ndarray, gallery: np.ndarray, positions: np.ndarray, expected: np.ndarray
) -> None:
    """The same candidates, except that exact duplicates in the gallery may swap places.

    Duplicated rows score the same up to float32 rounding, which depends on how the
    product is tiled, so which of them comes first is not part of the contract.
    """
    rows = np.arange(len(probes)).reshape(-1, *([1] * (positions.ndim - 1)))

    def exact(where: np.ndarray) -> np.ndarray:
        return np.einsum(
            "...d,...d->...", probes[rows].astype(np.float64), gallery[where].astype(np.float64)
        )

    differ = positions != expected
    assert differ.mean() < 0.01
    np.testing.assert_allclose(exact(positions)[differ], exact(expected)[differ], atol=1e-6)


def test_float16_and_memory_mapped_galleries_search_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    gallery = _gallery(rng, 12_000, 128)
    probes = _gallery(rng, 400, 128)
    path = tmp_path / "gallery.npy"
    np.save(path, gallery.astype(np.float16))
    stored = np.load(path, mmap_mode="r")
    expected = np.argsort(-(probes @ stored.astype(np.float32).T), axis=1, kind="stable")[:, :3]
    for matcher in (
        ExactMatcher(stored, precision="float16"),
        ExactMatcher(gallery.astype(np.float16), precision="float16"),
    ):
        np.testing.assert_array_equal(matcher.search(probes, k=3)[0], expected)


def test_bounds_leave_most_slices_unscored() -> None:
    rng = np.random.default_rng(14)
    gallery = rng.standard_normal((65_536, 128)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    mates = gallery[:200] * 0.8 + rng.standard_normal((200, 128)).astype(np.float32) * 0.05
    strangers = rng.standard_normal((200, 128)).astype(np.float32)
    probes = np.vstack([mates, strangers / np.linalg.norm(strangers, axis=1, keepdims=True)])
    upper, lower = Int8Bounds(gallery).slice_bounds(probes)
    reached = upper >= lower.max(axis=1, keepdims=True)
    # Mated probes need only their mate's slice; strangers a few close calls.
    assert reached[:200].sum(axis=1).max() == 1
    # 7-bit probe codes (CPUs without VNNI) bound less tightly than 8-bit ones.
    assert reached[200:].mean() < (0.1 if cpu_probe_levels() == 127 else 0.2)
