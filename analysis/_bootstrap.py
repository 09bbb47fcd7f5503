"""Confidence intervals for error rates: Wilson, and bootstraps over subjects.

Rates from independent trials get Wilson intervals (scipy's). Trials that repeat
within subjects do not: a person sighted twenty times contributes twenty searches
that share one face, one home and one gallery neighbourhood, and impostor pairs
share a subject on each side. Their replicates reweigh whole subjects with
Poisson(1) weights: persons (`cluster_bootstrap`), or the two sides of all-pairs
counts independently (`pair_bootstrap_interval`; the report's two-way impostor
bootstrap in `_impostors` uses the same weights and block size). Every bootstrap
interval is widened to the Wilson interval of the pooled counts where that is
wider, so a rare rate keeps an honest upper bound.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.stats import binomtest

CONFIDENCE = 0.95
# Subjects per block of bootstrap weights: bounds memory at replicates x block floats.
BLOCK = 16_384
# Enough for 95% percentile intervals (the coverage tests run with this number);
# the cost of a report grows with it, persons x metrics x replicates.
CLUSTER_REPLICATES = 400
# The calibration check's all-pairs intervals are few and cheap: more replicates.
PAIR_REPLICATES = 1000


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
    replicates: int = PAIR_REPLICATES,
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


@dataclass(frozen=True)
class BootstrapRates:
    """Rates per cell and metric, with their replicates.

    ``numerator``/``denominator``: ``(cells, metrics)`` sums; ``rate`` their ratio
    (NaN where the denominator is 0); ``replicates``: ``(replicates, cells, metrics)``.
    """

    numerator: npt.NDArray[np.float64]
    denominator: npt.NDArray[np.float64]
    replicates: npt.NDArray[np.float64]

    @property
    def rate(self) -> npt.NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.denominator > 0, self.numerator / self.denominator, np.nan)

    def interval(
        self, *, proportion: npt.NDArray[np.bool_], confidence: float = CONFIDENCE
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Percentile interval per cell and metric.

        For metrics that are proportions (``proportion`` per metric) the interval
        is widened to the Wilson interval of the pooled counts where that is wider,
        so that a rate with no or few events keeps an honest upper bound.
        """
        tail = (1.0 - confidence) / 2.0
        with warnings.catch_warnings():
            # Cells with no trials have only NaN replicates; their interval is NaN.
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanquantile(self.replicates, [tail, 1.0 - tail], axis=0)
        low = np.where(np.isnan(self.rate), np.nan, low)
        high = np.where(np.isnan(self.rate), np.nan, high)
        for cell, metric in zip(*np.nonzero(~np.isnan(self.rate)), strict=True):
            if not proportion[metric]:
                continue
            hits, n = self.numerator[cell, metric], self.denominator[cell, metric]
            wilson = wilson_interval(int(np.rint(hits)), int(np.rint(n)), confidence=confidence)
            low[cell, metric] = min(low[cell, metric], wilson[0])
            high[cell, metric] = max(high[cell, metric], wilson[1])
        return low, high


def cluster_bootstrap(
    numerators: npt.NDArray[np.float64],
    denominators: npt.NDArray[np.float64],
    profile: npt.NDArray[np.intp],
    cells: npt.NDArray[np.bool_],
    *,
    rng: np.random.Generator,
    replicates: int = CLUSTER_REPLICATES,
) -> BootstrapRates:
    """Rates of several metrics over many (overlapping) groups of persons.

    Parameters
    ----------
    numerators, denominators:
        ``(persons, metrics)`` per-person counts.
    profile:
        ``(persons,)`` each person's profile: the combination of all their
        attribute values, coded ``0 .. profiles - 1``.
    cells:
        ``(profiles, cells)``: which profiles make up each reported group.
    rng, replicates:
        Random source and number of bootstrap replicates.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> num = np.array([[1.0], [0.0], [3.0]]); den = np.array([[10.0], [10.0], [10.0]])
    >>> rates = cluster_bootstrap(num, den, np.array([0, 0, 1]), np.eye(2, dtype=bool), rng=rng)
    >>> rates.rate.ravel().tolist()
    [0.05, 0.3]
    """
    n_profiles = cells.shape[0]
    metrics = numerators.shape[1]
    counts = np.concatenate([numerators, denominators], axis=1)
    # Persons with nothing to count add nothing to any replicate.
    active = counts.any(axis=1)
    counts, profile = counts[active], profile[active]
    # (side x metric x profile, replicates): summed weighted counts per profile.
    by_profile = np.zeros((2 * metrics * n_profiles, replicates))
    point = np.zeros(2 * metrics * n_profiles)
    for start in range(0, len(profile), BLOCK):
        block = counts[start : start + BLOCK]
        persons = np.arange(len(block))
        # One sparse row per (side, metric, profile), holding its persons' counts.
        spread = sparse.csr_matrix(
            (
                block.T.ravel(),
                (
                    (
                        np.arange(2 * metrics)[:, None] * n_profiles
                        + profile[start : start + BLOCK]
                    ).ravel(),
                    np.tile(persons, 2 * metrics),
                ),
            ),
            shape=(2 * metrics * n_profiles, len(block)),
        )
        weights = rng.poisson(1.0, (len(block), replicates)).astype(np.float64)
        by_profile += spread @ weights
        point += np.asarray(spread.sum(axis=1)).ravel()
    cell_matrix = cells.astype(np.float64)
    point_sums = np.einsum("smp,pc->scm", point.reshape(2, metrics, n_profiles), cell_matrix)
    replicated_sums = np.einsum(
        "smpb,pc->sbcm", by_profile.reshape(2, metrics, n_profiles, replicates), cell_matrix
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        replicated = replicated_sums[0] / replicated_sums[1]
    return BootstrapRates(point_sums[0], point_sums[1], replicated)
