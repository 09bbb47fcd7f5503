"""The fast paths of the intervals give the very floats of their plain versions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.stats import binomtest

from riskclass.analysis import cluster_bootstrap, wilson_interval


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1_000, 54_321])
def test_wilson_interval_is_scipys_to_the_bit(n: int) -> None:
    for hits in sorted({0, 1, 2, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
        expected = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(hits, n) == (float(expected.low), float(expected.high))
    assert wilson_interval(3, 50, confidence=0.9) == tuple(
        float(bound) for bound in binomtest(3, 50).proportion_ci(0.9, method="wilson")
    )


def _plain_cluster_bootstrap(
    numerators: np.ndarray,
    denominators: np.ndarray,
    profile: np.ndarray,
    cells: np.ndarray,
    rng: np.random.Generator,
    replicates: int,
    block_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (side, metric, profile) row as one sparse product: point sums person by
    person; replicates over the distinct (profile, counts) rows in sorted order, each
    weighed Poisson(number of its persons)."""
    n_profiles, metrics = cells.shape[0], numerators.shape[1]
    counts = np.concatenate([numerators, denominators], axis=1)
    active = counts.any(axis=1)
    counts, profile = counts[active], profile[active]
    rows = 2 * metrics * n_profiles

    def spread(block: np.ndarray, of: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix(
            (
                block.T.ravel(),
                (
                    (np.arange(2 * metrics)[:, None] * n_profiles + of).ravel(),
                    np.tile(np.arange(len(block)), 2 * metrics),
                ),
            ),
            shape=(rows, len(block)),
        )

    point = np.zeros(rows)
    for start in range(0, len(profile), block_size):
        block = slice(start, start + block_size)
        point += np.asarray(spread(counts[block], profile[block]).sum(axis=1)).ravel()
    distinct, repeats = np.unique(np.column_stack([profile, counts]), axis=0, return_counts=True)
    by_profile = np.zeros((rows, replicates))
    for start in range(0, len(distinct), block_size):
        block = distinct[start : start + block_size]
        weights = rng.poisson(
            repeats[start : start + block_size, None], (len(block), replicates)
        ).astype(np.float64)
        by_profile += spread(block[:, 1:], block[:, 0].astype(np.intp)) @ weights
    matrix = cells.astype(np.float64)
    sums = np.einsum("smp,pc->scm", point.reshape(2, metrics, n_profiles), matrix)
    replicated = np.einsum(
        "smpb,pc->sbcm", by_profile.reshape(2, metrics, n_profiles, replicates), matrix
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums[0], sums[1], replicated[0] / replicated[1]


def test_cluster_bootstrap_is_the_plain_sparse_product_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    persons, n_profiles = 40_000, 12
    events = rng.poisson(2.0, persons).astype(np.float64)
    misses = rng.binomial(events.astype(int), 0.1).astype(np.float64)
    # Whole counts, a repeated denominator, a fractional rate per person and
    # persons who count nothing (filtered out) or count only in the fractional column.
    false_alerts = rng.poisson(0.05, persons) * 1000.0 / 7.0
    numerators = np.column_stack([misses, misses, false_alerts, np.zeros(persons)])
    denominators = np.column_stack([events, events, np.ones(persons), events])
    denominators[:50] = 0.0
    numerators[:50] = 0.0
    profile = rng.integers(0, n_profiles, persons)
    cells = np.column_stack([np.ones(n_profiles, bool), np.eye(n_profiles, dtype=bool)[:, :5]])
    fast = cluster_bootstrap(
        numerators, denominators, profile, cells, rng=np.random.default_rng(9), replicates=50
    )
    plain = _plain_cluster_bootstrap(
        # Blocks of 16,384 rows, as the bootstrap draws its weights.
        numerators,
        denominators,
        profile,
        cells,
        np.random.default_rng(9),
        50,
        16_384,
    )
    np.testing.assert_array_equal(fast.numerator, plain[0], strict=True)
    np.testing.assert_array_equal(fast.denominator, plain[1], strict=True)
    np.testing.assert_array_equal(fast.replicates, plain[2], strict=True)


def test_cluster_bootstrap_with_every_person_active_and_many_distinct_rows() -> None:
    """Nobody filtered out (the bootstrap then skips its copy), and columns of so
    many distinct values that the rows' sort key must be re-ranked before it
    overflows: still the plain product's floats."""
    rng = np.random.default_rng(5)
    persons, n_profiles = 20_000, 6
    # Five columns of 20,000 distinct values each: 20,000**5 keys overflow int64.
    numerators = np.column_stack([rng.random(persons) for _ in range(5)])
    denominators = np.ones((persons, 5))
    profile = rng.integers(0, n_profiles, persons)
    cells = np.eye(n_profiles, dtype=bool)
    fast = cluster_bootstrap(
        numerators, denominators, profile, cells, rng=np.random.default_rng(6), replicates=20
    )
    plain = _plain_cluster_bootstrap(
        numerators, denominators, profile, cells, np.random.default_rng(6), 20, 16_384
    )
    np.testing.assert_array_equal(fast.numerator, plain[0], strict=True)
    np.testing.assert_array_equal(fast.denominator, plain[1], strict=True)
    np.testing.assert_array_equal(fast.replicates, plain[2], strict=True)


def test_one_weight_per_distinct_row_keeps_the_person_level_variance() -> None:
    """Persons with the same profile and counts share one Poisson(k) weight: the
    replicated sums must keep the variance of a Poisson(1) weight per person,
    sum(x**2), not that of one Poisson(1) per distinct row."""
    rng = np.random.default_rng(11)
    persons, replicates = 3_000, 4_000
    # Few distinct values, so most persons share their row with hundreds of others.
    errors = rng.integers(0, 4, persons).astype(np.float64)
    trials = np.full(persons, 5.0)
    profile = np.zeros(persons, dtype=np.intp)
    rates = cluster_bootstrap(
        errors[:, None],
        trials[:, None],
        profile,
        np.ones((1, 1), dtype=bool),
        rng=np.random.default_rng(12),
        replicates=replicates,
    )
    # Rate = sum(w x) / sum(w t); linearised, its variance is sum((x - r t)^2) / T^2.
    rate = errors.sum() / trials.sum()
    expected = np.sum((errors - rate * trials) ** 2) / trials.sum() ** 2
    found = rates.replicates[:, 0, 0].var(ddof=1)
    # The sample variance of near-normal replicates has relative error sqrt(2 / (R - 1)).
    assert abs(found / expected - 1) < 4 * np.sqrt(2 / (replicates - 1)), found / expected
