"""Solve for embedding parameters that realize the configured error rates.

For each error-rate group, ``sigma`` (capture noise) sets the genuine score
distribution and so FNMR, in closed form; ``rho`` (how tightly the group's identities cluster)
sets the same-group impostor distribution and so FMR. For each pair of groups,
``kappa`` (the inner product of their centres) sets the cross-group FMR.

Impostor rates assume no score distribution: they are *counted* on a fixed
Monte Carlo sample of the model's own geometry (common random numbers, so the
counted rate is a monotone step function of the parameter and a bracketing root
finder converges), and the result is then checked by `measure_rates` on fresh
vectors drawn through `EmbeddingModel.observe`, the code path the pipeline uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import betaincinv

from riskclass import (
    Algorithm,
    ConditionEffects,
    ConfigError,
    ErrorRates,
    Progress,
    Stream,
    report_progress,
    rng_for,
)

from ._embeddings import DIMENSIONS, EmbeddingModel, orthogonal_noise, unit_rows

# Sample sizes: enough comparisons that each target is hit about this many times,
# bounded so that calibrating a handful of groups takes seconds.
TARGET_HITS = 2000
CROSS_TARGET_HITS = 800
MIN_SIDE, MAX_SIDE = 4_000, 20_000
# Root finding runs on a sample of this side, then a few secant steps refine the
# root on the full-size sample, which costs up to 14x more per evaluation.
SEARCH_SIDE = 4_000
_SECANT_STEPS = 2
_BLOCK_ROWS = 1_024
_UNREACHABLE_FMR = (
    "FMR {target:g} is unreachable at threshold {threshold}: with the noise needed for "
    "FNMR {fnmr:g} impostors score at least {floor:.3g} even for unclustered identities"
)


def side_for(rate: float, hits: int = TARGET_HITS) -> int:
    """Identities on each side of an all-pairs sample that hits ``rate`` about ``hits`` times."""
    return int(np.clip(math.ceil(math.sqrt(hits / rate)), MIN_SIDE, MAX_SIDE))


@dataclass(frozen=True)
class _Side:
    """One side of an impostor sample: unit identity parts ``z`` and unit noise ``nu``."""

    z: npt.NDArray[np.float32]
    nu: npt.NDArray[np.float32]

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, dims: int) -> _Side:
        z = unit_rows(rng.standard_normal((n, dims), dtype=np.float32))
        return cls(z, orthogonal_noise(rng, z))

    def head(self, n: int) -> _Side:
        """The first ``n`` identities of this side."""
        return _Side(self.z[:n], self.nu[:n])

    def observations(self, rho: float, sigma: float, scale: float) -> npt.NDArray[np.float32]:
        """Free-coordinate parts of the observations, with one extra column.

        Every unnormalised observation has norm ``sqrt(1 + sigma^2)``. The extra
        column holds ``scale`` times it, so that one matrix product of a left side
        built with ``scale = -threshold`` and a right side built with ``scale = 1``
        gives ``free . free - threshold x norm x norm`` for every pair at once.
        """
        r = math.sqrt(1.0 - rho)
        norm = np.full(len(self.z), scale * math.sqrt(1.0 + sigma**2))
        return np.column_stack([r * self.z + sigma * self.nu, norm]).astype(np.float32)


def _pair_margins(
    left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]
) -> Iterator[npt.NDArray[np.float32]]:
    for start in range(0, len(left), _BLOCK_ROWS):
        yield left[start : start + _BLOCK_ROWS] @ right.T


def _count_at_or_above(
    enrolled: _Side, probes: _Side, rho: float, sigma: float, threshold: float
) -> int:
    """Same-group impostor comparisons scoring at or above ``threshold``."""
    # score >= t  <=>  rho + free . free - t norm norm >= 0
    left = enrolled.observations(rho, sigma, -threshold)
    right = probes.observations(rho, sigma, 1.0)
    return sum(int(np.count_nonzero(m >= -rho)) for m in _pair_margins(left, right))


def sigma_for_fnmr(fnmr: float, threshold: float, dims: int) -> float:
    """The noise at which genuine comparisons fail ``fnmr`` of the time, exactly.

    A genuine score is ``(1 + sigma^2 t) / (1 + sigma^2)`` with ``t`` the inner
    product of two independent unit noise vectors in the ``dims - 1`` coordinates
    orthogonal to the identity, so ``(1 + t) / 2 ~ Beta(k, k)`` with
    ``k = (dims - 2) / 2``. Solving ``P(score < threshold) = fnmr`` for ``sigma``
    needs only the Beta quantile.
    """
    shape = (dims - 2) / 2
    t = 2.0 * float(betaincinv(shape, shape, fnmr)) - 1.0
    return math.sqrt((1.0 - threshold) / (threshold - t))


def calibrate(
    algorithm: Algorithm, *, seed: int, progress: Progress | None = None
) -> EmbeddingModel:
    """Solve ``rho``, ``sigma`` and ``kappa`` so the model realizes ``algorithm``'s rates.

    Raises
    ------
    ConfigError
        If a group's targets cannot be reached together at the threshold.
    """
    groups = tuple(algorithm.error_rates)
    dims = DIMENSIONS - len(groups)
    threshold = algorithm.threshold
    rho = np.zeros(len(groups))
    sigma = np.zeros(len(groups))
    steps = len(groups) + len(groups) * (len(groups) - 1) // 2
    for index, key in enumerate(groups):
        rng = rng_for(seed, Stream.CALIBRATION, 0, index)
        rho[index], sigma[index] = _solve_group(
            key, algorithm.error_rates[key], threshold, rng, dims
        )
        report_progress(progress, "calibrate", index + 1, steps)

    kappa = np.eye(len(groups))
    done = len(groups)
    for g in range(len(groups)):
        for h in range(g + 1, len(groups)):
            target = cross_group_target(algorithm, groups[g], groups[h])
            kappa[g, h] = kappa[h, g] = _solve_kappa(
                seed, (g, h), (rho[g], rho[h]), (sigma[g], sigma[h]), threshold, target, dims
            )
            done += 1
            report_progress(progress, "calibrate", done, steps)
    return EmbeddingModel(
        algorithm=algorithm,
        seed=seed,
        groups=groups,
        rho=rho,
        sigma=sigma,
        kappa=_nearest_correlation(kappa),
    )


def _solve_group(
    key: str, rates: ErrorRates, threshold: float, rng: np.random.Generator, dims: int
) -> tuple[float, float]:
    """``(rho, sigma)`` at which one group realizes its FMR and FNMR."""
    side = side_for(rates.fmr)
    enrolled, probes = _Side.draw(rng, side, dims), _Side.draw(rng, side, dims)
    sigma = sigma_for_fnmr(rates.fnmr, threshold, dims)

    def log_fmr_gap(rho: float, n: int) -> float:
        hits = _count_at_or_above(enrolled.head(n), probes.head(n), rho, sigma, threshold)
        return math.log(hits / (n * n) + 1e-12) - math.log(rates.fmr)

    floor = math.exp(log_fmr_gap(0.0, SEARCH_SIDE)) * rates.fmr
    if floor >= rates.fmr:
        message = _UNREACHABLE_FMR.format(
            target=rates.fmr, threshold=threshold, fnmr=rates.fnmr, floor=floor
        )
        raise ConfigError("algorithm", [(f"error_rates.{key}", message)])
    rho = _solve_root(lambda r: log_fmr_gap(r, SEARCH_SIDE), 0.0, 0.999)
    if side > SEARCH_SIDE:
        rho = _refine(lambda r: log_fmr_gap(r, side), rho, step=2e-3)
    return rho, sigma


def _solve_root(gap: Callable[[float], float], low: float, high: float) -> float:
    """Where an increasing, counted gap crosses zero, within a bracket."""
    return float(brentq(gap, low, high, xtol=2e-5))


def _refine(gap: Callable[[float], float], start: float, *, step: float) -> float:
    """A few secant steps from ``start``: the root is already close, evaluations are dear."""
    previous, current = start, start + step
    gap_previous, gap_current = gap(previous), gap(current)
    for _ in range(_SECANT_STEPS):
        if gap_current == gap_previous:
            break
        previous, current = (
            current,
            current - gap_current * (current - previous) / (gap_current - gap_previous),
        )
        gap_previous, gap_current = gap_current, gap(current)
    return float(np.clip(current, 0.0, 0.999))


def cross_group_target(algorithm: Algorithm, first: str, second: str) -> float:
    """Target FMR of impostor pairs from two different groups.

    ``cross_group_factor`` times the lower of the two groups' same-group FMR, so
    that for both groups same-group impostors match more often than these.
    """
    rates = algorithm.error_rates
    return algorithm.cross_group_factor * min(rates[first].fmr, rates[second].fmr)


def _solve_kappa(
    seed: int,
    pair: tuple[int, int],
    rho: tuple[float, float],
    sigma: tuple[float, float],
    threshold: float,
    target: float,
    dims: int,
) -> float:
    """The centre inner product at which cross-group impostors match at ``target``.

    A cross-group score is ``(kappa sqrt(rho_g rho_h) + free . free) / (norm norm)``,
    linear in ``kappa``: each pair matches once ``kappa`` reaches its own critical
    value, so the solution is the ``target`` quantile of those critical values.
    """
    rng = rng_for(seed, Stream.CALIBRATION, 1, *pair)
    side = side_for(target, CROSS_TARGET_HITS)
    scale = math.sqrt(rho[0] * rho[1])
    if scale < 1e-9:
        return 0.0
    left = _Side.draw(rng, side, dims).observations(rho[0], sigma[0], -threshold)
    right = _Side.draw(rng, side, dims).observations(rho[1], sigma[1], 1.0)
    rank = max(1, round(target * side * side))
    # A pair's critical kappa is -margin / scale: keep the `rank` largest margins,
    # letting through from each block only those above the smallest kept so far.
    largest = np.empty(0, dtype=np.float32)
    for margins in _pair_margins(left, right):
        fresh = margins[margins > largest.min()] if len(largest) == rank else margins.ravel()
        candidates = np.concatenate([largest, fresh])
        if len(candidates) > rank:
            candidates = np.partition(candidates, len(candidates) - rank)[-rank:]
        largest = candidates
    return float(np.clip(-largest.min() / scale, -1.0, 1.0))


def _nearest_correlation(kappa: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``kappa`` if it is a valid (positive definite) correlation matrix, else the nearest one."""
    values, vectors = np.linalg.eigh(kappa)
    if values.min() > 1e-9:
        return kappa
    fixed = vectors @ np.diag(np.maximum(values, 1e-6)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


GENUINE_CHECKS = 100_000
FTA_CHECKS = 100_000


@dataclass(frozen=True)
class RateCount:
    """A counted error rate: ``hits`` of ``n`` trials, for one group and metric.

    For impostor rates counted over all pairs of ``n_rows`` enrolled and
    ``n_cols`` probe identities, ``hit_rows`` and ``hit_cols`` locate each hit, so
    that an interval can account for pairs that share identities.
    """

    group: str
    metric: str
    target: float
    hits: int
    n: int
    hit_rows: npt.NDArray[np.intp] | None = None
    hit_cols: npt.NDArray[np.intp] | None = None
    n_rows: int = 0
    n_cols: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.n


def measure_rates(
    model: EmbeddingModel, *, seed: int, progress: Progress | None = None
) -> list[RateCount]:
    """Count FMR, FNMR and FTA per group, and cross-group FMR, on fresh vectors.

    Every vector comes from `EmbeddingModel.observe` at reference conditions, and
    every score from comparing vectors, as in the pipeline. Use a ``seed`` other
    than calibration's so the check is out of sample.
    """
    algorithm = model.algorithm
    counts: list[RateCount] = []
    n_groups = len(model.groups)
    steps = n_groups + n_groups * (n_groups - 1) // 2
    for index, key in enumerate(model.groups):
        rates = algorithm.error_rates[key]
        rng = rng_for(seed, Stream.CALIBRATION, 2, index)
        group = np.full(GENUINE_CHECKS, index)
        identity = model.identities(group, rng)
        enrolled = model.observe(identity, group, 1.0, rng)
        captured = model.observe(identity, group, 1.0, rng)
        misses = int(np.count_nonzero(np.einsum("ij,ij->i", enrolled, captured) < model.threshold))
        counts.append(RateCount(key, "fnmr", rates.fnmr, misses, GENUINE_CHECKS))
        counts.append(_impostor_count(model, rng, (index, index), key, rates.fmr, TARGET_HITS))
        failed = rng.random(FTA_CHECKS) < model.fta_probability(
            np.full(FTA_CHECKS, index), _no_deficits()
        )
        counts.append(RateCount(key, "fta", rates.fta, int(failed.sum()), FTA_CHECKS))
        report_progress(progress, "check", index + 1, steps)
    done = n_groups
    for g in range(n_groups):
        for h in range(g + 1, n_groups):
            rng = rng_for(seed, Stream.CALIBRATION, 3, g, h)
            target = cross_group_target(algorithm, model.groups[g], model.groups[h])
            name = f"{model.groups[g]} vs {model.groups[h]}"
            counts.append(_impostor_count(model, rng, (g, h), name, target, CROSS_TARGET_HITS))
            done += 1
            report_progress(progress, "check", done, steps)
    return counts


def _no_deficits() -> dict[str, npt.NDArray[np.float64]]:
    return {name: np.zeros(1) for name in ConditionEffects.model_fields}


def _impostor_count(
    model: EmbeddingModel,
    rng: np.random.Generator,
    pair: tuple[int, int],
    name: str,
    target: float,
    hits: int,
) -> RateCount:
    side = side_for(target, hits)
    observed = []
    for group in pair:
        groups = np.full(side, group)
        observed.append(model.observe(model.identities(groups, rng), groups, 1.0, rng))
    rows: list[npt.NDArray[np.intp]] = []
    cols: list[npt.NDArray[np.intp]] = []
    for start in range(0, side, _BLOCK_ROWS):
        scores = observed[0][start : start + _BLOCK_ROWS] @ observed[1].T
        # Hits are rare: find the rows that have any before locating them.
        with_hits = np.flatnonzero(scores.max(axis=1) >= model.threshold)
        hit_rows, hit_cols = np.nonzero(scores[with_hits] >= model.threshold)
        rows.append(with_hits[hit_rows] + start)
        cols.append(hit_cols)
    hit_rows, hit_cols = np.concatenate(rows), np.concatenate(cols)
    return RateCount(
        name, "fmr", target, len(hit_rows), side * side, hit_rows, hit_cols, side, side
    )
