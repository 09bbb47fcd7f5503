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
    """Every (side, metric, profile) row as one sparse product, person by person."""
    n_profiles, metrics = cells.shape[0], numerators.shape[1]
    counts = np.concatenate([numerators, denominators], axis=1)
    active = counts.any(axis=1)
    counts, profile = counts[active], profile[active]
    rows = 2 * metrics * n_profiles
    by_profile, point = np.zeros((rows, replicates)), np.zeros(rows)
    for start in range(0, len(profile), block_size):
        block = counts[start : start + block_size]
        spread = sparse.csr_matrix(
            (
                block.T.ravel(),
                (
                    (
                        np.arange(2 * metrics)[:, None] * n_profiles + profile[start:][: len(block)]
                    ).ravel(),
                    np.tile(np.arange(len(block)), 2 * metrics),
                ),
            ),
            shape=(rows, len(block)),
        )
        by_profile += spread @ rng.poisson(1.0, (len(block), replicates)).astype(np.float64)
        point += np.asarray(spread.sum(axis=1)).ravel()
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
        # Blocks of 16,384 persons, as the bootstrap draws its weights.
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
