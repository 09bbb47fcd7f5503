"""Confidence intervals for error rates.

Wilson intervals for rates from independent trials (scipy's implementation); a
two-way cluster ("pigeonhole") bootstrap for rates counted over all pairs of two
sets of subjects, where pairs that share a subject are not independent.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest

CONFIDENCE = 0.95
BOOTSTRAP_REPLICATES = 1000


def wilson_interval(hits: int, n: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of ``hits / n``; ``(nan, nan)`` when ``n`` is 0.

    Examples
    --------
    >>> low, high = wilson_interval(5, 1000)
    >>> round(low, 4), round(high, 4)
    (0.0021, 0.0117)
    """
    if n == 0:
        return (float("nan"), float("nan"))
    interval = binomtest(hits, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))


def pair_bootstrap_interval(
    hit_rows: npt.NDArray[np.intp],
    hit_cols: npt.NDArray[np.intp],
    n_rows: int,
    n_cols: int,
    *,
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> tuple[float, float]:
    """Interval for a rate counted over all ``n_rows x n_cols`` pairs of two subject sets.

    Resamples rows and columns independently (Owen's pigeonhole bootstrap, with
    Poisson(1) weights): a replicate weighs each hit ``(i, j)`` by ``w_i x w'_j``
    and divides by ``sum(w) x sum(w')``. Only subjects with hits need their own
    weight; the others enter through the sum of their weights, itself Poisson. The
    result is widened to the Wilson interval where that is wider, so a rare rate
    with few or no hits still gets an honest upper bound.
    """
    n_pairs = n_rows * n_cols
    wilson = wilson_interval(len(hit_rows), n_pairs, confidence=confidence)
    if len(hit_rows) == 0:
        return wilson
    rates = _weighted_hits(hit_rows, n_rows, hit_cols, n_cols, rng, replicates)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(rates, [tail, 1.0 - tail])
    return (min(float(low), wilson[0]), max(float(high), wilson[1]))


def _weighted_hits(
    hit_rows: npt.NDArray[np.intp],
    n_rows: int,
    hit_cols: npt.NDArray[np.intp],
    n_cols: int,
    rng: np.random.Generator,
    replicates: int,
) -> npt.NDArray[np.float64]:
    sides = []
    for hits, n in ((hit_rows, n_rows), (hit_cols, n_cols)):
        subjects, position = np.unique(hits, return_inverse=True)
        weights = rng.poisson(1.0, (replicates, len(subjects))).astype(np.float64)
        total = weights.sum(axis=1) + rng.poisson(n - len(subjects), replicates)
        sides.append((weights[:, position], total))
    (row_w, row_total), (col_w, col_total) = sides
    return (row_w * col_w).sum(axis=1) / np.maximum(row_total * col_total, 1.0)
