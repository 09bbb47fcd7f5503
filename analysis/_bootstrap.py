"""Confidence intervals for error rates: Wilson, and bootstraps over subjects.

Rates from independent trials get Wilson intervals (as scipy's ``binomtest``
computes them). Trials that repeat
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

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.special import gammaincinv, ndtri

from riskclass import one_blas_thread

CONFIDENCE = 0.95
# Per-person counts: a ``(persons, columns)`` matrix, or its columns one by one.
Columns = npt.NDArray[np.float64] | Sequence[npt.NDArray[Any]]
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
    # scipy's binomtest(hits, n).proportion_ci(method="wilson") (Newcombe 1998), operation
    # for operation, so the same floats; binomtest first computes an exact p-value that
    # this never reads, which made a report's thousands of intervals cost seconds.
    p = hits / n
    z = ndtri(0.5 + 0.5 * confidence)
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z**2)
    low = 0.0 if hits == 0 else center - delta
    high = 1.0 if hits == n else center + delta
    return (float(low), float(high))


def poisson_interval(count: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean from one observed ``count``.

    Examples
    --------
    >>> low, high = poisson_interval(0)
    >>> low, round(high, 3)
    (0.0, 3.689)
    """
    tail = (1.0 - confidence) / 2.0
    # chi2.ppf(q, 2k) / 2 is the regularized incomplete gamma's inverse at k.
    low = 0.0 if count == 0 else float(gammaincinv(count, tail))
    return low, float(gammaincinv(count + 1, 1.0 - tail))


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
        self,
        *,
        proportion: npt.NDArray[np.bool_],
        per_count: npt.NDArray[np.float64] | None = None,
        confidence: float = CONFIDENCE,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Percentile interval per cell and metric.

        For metrics that are proportions (``proportion`` per metric) the interval
        is widened to the Wilson interval of the pooled counts where that is wider,
        so that a rate with no or few events keeps an honest upper bound. Metrics
        whose numerator is a count times ``per_count`` (a rate per resident per day,
        say; NaN for others) are widened likewise to the exact Poisson (Garwood)
        interval of the count.
        """
        tail = (1.0 - confidence) / 2.0
        low, high = _nan_quantiles(self.replicates, [tail, 1.0 - tail])
        low = np.where(np.isnan(self.rate), np.nan, low)
        high = np.where(np.isnan(self.rate), np.nan, high)
        for cell, metric in zip(*np.nonzero(~np.isnan(self.rate)), strict=True):
            hits, n = self.numerator[cell, metric], self.denominator[cell, metric]
            if proportion[metric]:
                bounds = wilson_interval(int(np.rint(hits)), int(np.rint(n)), confidence=confidence)
            elif per_count is not None and np.isfinite(per_count[metric]):
                scale = per_count[metric]
                count = poisson_interval(int(np.rint(hits / scale)), confidence=confidence)
                bounds = (count[0] * scale / n, count[1] * scale / n)
            else:
                continue
            low[cell, metric] = min(low[cell, metric], bounds[0])
            high[cell, metric] = max(high[cell, metric], bounds[1])
        return low, high


def _nan_quantiles(replicates: npt.NDArray[np.float64], q: list[float]) -> npt.NDArray[np.float64]:
    """``np.nanquantile(replicates, q, axis=0)``, the same floats: columns without NaN
    in one vectorised `np.quantile` (`nanquantile` goes column by column, seconds
    for a report's thousands of cells), the others column by column."""
    missing = np.isnan(replicates)
    whole = ~missing.any(axis=0)
    found = np.full((len(q), *replicates.shape[1:]), np.nan)
    found[:, whole] = np.quantile(replicates[:, whole], q, axis=0)
    partly = ~whole & ~missing.all(axis=0)
    # Cells with no trials have only NaN replicates; their interval stays NaN.
    found[:, partly] = np.nanquantile(replicates[:, partly], q, axis=0)
    return found


def cluster_bootstrap(
    numerators: Columns,
    denominators: Columns,
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
        ``(persons, metrics)`` per-person counts, or each a sequence of ``metrics``
        columns of length persons (left unstacked: at a million persons, stacking a
        report's metrics costs hundreds of megabytes).
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
    metrics = len(_columns(numerators))
    point, replicated = _weighted_sums(
        [*_columns(numerators), *_columns(denominators)],
        profile,
        cells,
        rng=rng,
        replicates=replicates,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = replicated[..., :metrics] / replicated[..., metrics:]
    return BootstrapRates(point[:, :metrics], point[:, metrics:], rates)


def cluster_shares(
    counts: npt.NDArray[np.float64],
    profile: npt.NDArray[np.intp],
    cells: npt.NDArray[np.bool_],
    *,
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
    replicates: int = CLUSTER_REPLICATES,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each group's share of all events, with a bootstrap interval over persons.

    ``counts``: ``(persons,)`` whole events per person (false alerts, say); ``profile``
    and ``cells`` as in `cluster_bootstrap`. A replicate reweighs persons with
    Poisson(1) weights and divides each group's weighted events by everyone's; the
    percentile interval is widened to the Wilson interval of the group's events
    among all events where that is wider, so a group with no events keeps an upper
    bound. Returns ``(share, low, high)`` per group; NaN where there are no events.

    Examples
    --------
    >>> counts = np.array([3.0, 0.0, 1.0, 0.0])
    >>> share, low, high = cluster_shares(
    ...     counts, np.array([0, 0, 1, 1]), np.eye(2, dtype=bool), rng=np.random.default_rng(0)
    ... )
    >>> share.tolist(), bool(low[1] == 0.0 and high[1] > 0.25)
    ([0.75, 0.25], True)
    """
    everyone = np.ones((cells.shape[0], 1), dtype=bool)
    point, replicated = _weighted_sums(
        [counts], profile, np.hstack([cells, everyone]), rng=rng, replicates=replicates
    )
    events, total = point[:-1, 0], point[-1, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = replicated[:, :-1, 0] / replicated[:, -1:, 0]
        share = events / total if total > 0 else np.full(len(events), np.nan)
    tail = (1.0 - confidence) / 2.0
    low = np.full(len(events), np.nan)
    high = np.full(len(events), np.nan)
    for cell in np.flatnonzero(np.isfinite(share)):
        column = shares[:, cell]
        found = np.quantile(column[~np.isnan(column)], [tail, 1.0 - tail])
        wilson = wilson_interval(
            int(np.rint(events[cell])), int(np.rint(total)), confidence=confidence
        )
        low[cell], high[cell] = min(found[0], wilson[0]), max(found[1], wilson[1])
    # A group of everyone has every event in every replicate: its share is 1 exactly.
    everyone_cells = cells.all(axis=0) & np.isfinite(share)
    low[everyone_cells] = high[everyone_cells] = 1.0
    return share, low, high


def _weighted_sums(
    counts: Sequence[npt.NDArray[np.float64]],
    profile: npt.NDArray[np.intp],
    cells: npt.NDArray[np.bool_],
    *,
    rng: np.random.Generator,
    replicates: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each of the ``counts`` columns (one value per person) summed per cell:
    ``(cells, columns)`` as counted and ``(replicates, cells, columns)`` under each
    replicate's Poisson weights."""
    n_profiles = cells.shape[0]
    # Metrics share columns (the sweeps' denominators, a gate's FMR and FPIR): each
    # distinct column is summed once, and only those are copied into one matrix.
    kept, column_of = _distinct_columns(counts)
    # Persons with nothing to count add nothing to any replicate.
    active = np.zeros(len(profile), dtype=bool)
    for column in kept:
        active |= column != 0
    everyone = bool(active.all())  # on the default run everyone is
    if not everyone:
        profile = profile[active]
    distinct = np.empty((len(profile), len(kept)))
    for j, column in enumerate(kept):
        distinct[:, j] = column if everyone else column[active]
    # Column by column: ``np.rint`` of the whole matrix is another copy of it.
    whole = np.array([np.array_equal(column, np.rint(column)) for column in distinct.T])
    point = np.zeros((distinct.shape[1], n_profiles))
    for start in range(0, len(profile), BLOCK):
        block = distinct[start : start + BLOCK]
        in_block = profile[start : start + BLOCK]
        point[whole] += [np.bincount(in_block, c, n_profiles) for c in block[:, whole].T]
        spread = _spread(block[:, ~whole], in_block, n_profiles)
        point[~whole] += np.asarray(spread.sum(axis=1)).reshape(-1, n_profiles)
    # Persons of one profile with the same counts enter every replicate only through
    # the sum of their Poisson(1) weights, which is Poisson(k) for k of them: one draw
    # per distinct (profile, counts) row, a tenth of the persons on the default run.
    # The rows are taken from ``distinct`` block by block: at a million persons over
    # 30 days most rows are distinct, and a matrix of them would be a second copy.
    first, repeats = _first_of_distinct([profile, *distinct.T])
    row_profile = profile[first]
    # (column, profile, replicates): summed weighted counts per profile.
    by_profile = np.zeros((distinct.shape[1], n_profiles, replicates))
    for start in range(0, len(first), BLOCK):
        block = distinct[first[start : start + BLOCK]]
        in_block = row_profile[start : start + BLOCK]
        weights = rng.poisson(
            repeats[start : start + BLOCK, None], (len(block), replicates)
        ).astype(np.float64)
        # Whole counts times whole weights sum exactly in any order: a dense matrix
        # product per profile. Fractional counts (false alerts per 1,000 per day)
        # keep the sparse product, which adds each profile's rows in order.
        by_profile[whole] += _profile_products(block[:, whole], in_block, weights, n_profiles)
        spread = _spread(block[:, ~whole], in_block, n_profiles)
        by_profile[~whole] += (spread @ weights).reshape(-1, n_profiles, replicates)
    cell_matrix = cells.astype(np.float64)
    point_sums = np.einsum("kp,pc->ck", point, cell_matrix)[:, column_of]
    # Each distinct column is summed into cells once, then copied to the metrics that
    # share it. Whole sums are exact in any order, so a matrix product does them (a
    # fifth of einsum's time); fractional ones keep einsum's order of addition.
    replicated_sums = np.empty((replicates, cells.shape[1], distinct.shape[1]))
    with one_blas_thread():
        replicated_sums[..., whole] = np.matmul(cell_matrix.T, by_profile[whole]).transpose(2, 1, 0)
    replicated_sums[..., ~whole] = np.einsum("kpb,pc->bck", by_profile[~whole], cell_matrix)
    return point_sums, replicated_sums[..., column_of]


def distinct_rows(rows: Columns) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The distinct rows of ``rows`` in lexicographic order, and how often each occurs.

    ``rows``: a matrix, or the sequence of its columns (which need not be stacked
    into one; the rows found are returned as a float64 matrix either way).

    Examples
    --------
    >>> found, repeats = distinct_rows(np.array([[1.0, 2.0], [0.0, 5.0], [1.0, 2.0]]))
    >>> found.tolist(), repeats.tolist()
    ([[0.0, 5.0], [1.0, 2.0]], [1, 2])
    >>> found, _ = distinct_rows([np.array([1, 0, 1]), np.array([2.0, 5.0, 2.0])])
    >>> found.tolist()
    [[0.0, 5.0], [1.0, 2.0]]
    """
    columns = _columns(rows)
    first, repeats = _first_of_distinct(columns)
    found = np.empty((len(first), len(columns)))
    for j, column in enumerate(columns):
        found[:, j] = column[first]
    return found, repeats


def _first_of_distinct(
    columns: Sequence[npt.NDArray[Any]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Where each distinct row of ``columns`` first occurs, the rows in lexicographic
    order, and how often each occurs."""
    # A key that orders rows as their values do, built column by column from sorted
    # codes in mixed radix: sorting whole rows (``np.unique(axis=0)``) compares bytes
    # and costs ten times more. The key is ranked afresh only when the next column
    # would overflow it, not after every column (half the factorizing).
    key = np.zeros(len(columns[0]), np.int64)
    size = 1  # key < size
    for column in columns:
        code, values = pd.factorize(column, sort=True)
        if size * len(values) >= 2**62:
            key, ranked = pd.factorize(key, sort=True)
            size = len(ranked)
        key = key * len(values) + code
        size *= len(values)
    _, first, repeats = np.unique(key, return_index=True, return_counts=True)
    return first, repeats.astype(np.int64)


def _columns(matrix: Columns) -> list[npt.NDArray[Any]]:
    """The columns of a matrix, or the sequence of columns given."""
    return list(matrix.T) if isinstance(matrix, np.ndarray) else list(matrix)


def _distinct_columns(
    counts: Sequence[npt.NDArray[np.float64]],
) -> tuple[list[npt.NDArray[np.float64]], npt.NDArray[np.intp]]:
    """The distinct columns of ``counts`` (equal bytes as float64), in order of first
    appearance, and which of them each column is."""
    kept: list[npt.NDArray[np.float64]] = []
    # A digest per column, not its bytes: a report's 38 columns at a million persons are
    # 304 MB.
    by_digest: dict[bytes, list[int]] = {}
    column_of = []
    for column in counts:
        column = np.ascontiguousarray(column, dtype=np.float64)
        same = by_digest.setdefault(hashlib.blake2b(column.data, digest_size=16).digest(), [])
        found = next((k for k in same if _same_bytes(kept[k], column)), None)
        if found is None:
            found = len(kept)
            same.append(found)
            kept.append(column)
        column_of.append(found)
    return kept, np.array(column_of, dtype=np.intp)


def _same_bytes(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    """Whether two float64 columns hold the same bytes (NaN equal to itself, 0.0 not
    to -0.0), as comparing their ``tobytes()`` would say, without copying them."""
    return bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


def _profile_products(
    block: npt.NDArray[np.float64],
    profile: npt.NDArray[np.intp],
    weights: npt.NDArray[np.float64],
    n_profiles: int,
) -> npt.NDArray[np.float64]:
    """``(columns, profiles, replicates)``: each profile's persons' counts times weights."""
    out = np.zeros((block.shape[1], n_profiles, weights.shape[1]))
    order = np.argsort(profile, kind="stable")
    bounds = np.searchsorted(profile[order], np.arange(n_profiles + 1))
    # Products of a few hundred rows: BLAS threads cost more than they share, and
    # on a busy machine their spinning costs ten times the work.
    with one_blas_thread():
        for index in np.flatnonzero(np.diff(bounds)):
            persons = order[bounds[index] : bounds[index + 1]]
            out[:, index] = block[persons].T @ weights[persons]
    return out


def _spread(
    block: npt.NDArray[np.float64], profile: npt.NDArray[np.intp], n_profiles: int
) -> sparse.csr_matrix:
    """One sparse row per (column, profile), holding its persons' counts in order."""
    columns = block.shape[1]
    return sparse.csr_matrix(
        (
            block.T.ravel(),
            (
                (np.arange(columns)[:, None] * n_profiles + profile).ravel(),
                np.tile(np.arange(len(block)), columns),
            ),
        ),
        shape=(columns * n_profiles, len(block)),
    )
