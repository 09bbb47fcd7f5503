"""Solve for embedding parameters that realize the configured error rates, and check them.

Solving uses the model's closed forms (see `_scores`): for each error-rate group,
``sigma`` (capture noise) sets the genuine score distribution and so FNMR;
``rho`` (how tightly the group's identities cluster) sets the same-group impostor
distribution and so FMR at the threshold; for a group whose FMR is given at
several thresholds, ``rho`` and the look-alike family (``family_share``,
``family_weight``) are fitted to all of them. For each pair of groups, ``kappa``
(the inner product of their centres) sets the cross-group FMR. Every solution is
a Beta quantile or a root of a monotone closed form, so calibration takes
milliseconds and reaches rates far below what counting pairs could.

`measure_rates` then checks the model on fresh vectors drawn through
`EmbeddingModel.observe`, the code path the pipeline uses, by counting wherever a
bounded sample reaches (at least `MIN_COUNTED_HITS` expected matches in
`MAX_CHECK_PAIRS` impostor pairs, so down to about 1e-7); below that it reports
the rate computed from the model, marked as such.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from riskclass import (
    CROSS_GROUP_SEPARATOR,
    SCENARIO,
    Algorithm,
    ConditionShifts,
    ConfigError,
    ErrorRates,
    Progress,
    Stream,
    report_progress,
    rng_for,
)

from ._embeddings import EmbeddingModel, free_dimensions
from ._scores import GroupShape, genuine_fnmr, pair_fmr, sigma_for_fnmr, tail_cut

# A configured point of an FMR tail is realized when the fitted model gives it within this.
TAIL_TOLERANCE = 0.1
# The largest centre weight (rho plus a family's weight) an identity may carry.
_MAX_SHARED = 0.995
# A tail fit whose log FMR misses no point by more than this (1%) ends the search.
_GOOD_FIT = 0.01
# What a mismatch costs a tail fit, per unit of its share, in log FMR.
_MISMATCH_COST = 1e-3
# The largest mismatch, as a share of what FNMR allows (genuine scores reach at
# most 1 - mismatch, which must stay above the threshold).
_MAX_MISMATCH = 0.95
# Starting points of the tail fit: mismatch and family weight (as shares of what
# is left for them) and log10 of the family's share of the group.
_FIT_STARTS = [
    (mismatch, weight, share)
    for mismatch in (0.0, 0.4)
    for weight in (0.2, 0.5, 0.8)
    for share in (-6.0, -4.0, -2.0, -1.0)
]
_UNREACHABLE_FMR = (
    "FMR {target:g} is unreachable at threshold {threshold:g}: impostors of unclustered "
    "identities (rho = 0) already match at FMR {floor:.3g}, the lowest this model "
    "gives in its {dims} free dimensions; raise the threshold or the target"
)
_TOO_HIGH_FMR = (
    "FMR {target:g} is unreachable at threshold {threshold:g}: with the noise needed "
    "for FNMR {fnmr:g}, even tightly clustered identities match at most at FMR {ceiling:.3g}"
)
_TAIL_OFF = (
    "FMR {wanted} cannot be realized within {tolerance:.0%} at FNMR {fnmr:g}; the closest "
    "this model comes is {fitted}"
)
_CROSS_OFF = (
    "cross-group FMR {target:.3g} of {pair} is out of reach at threshold {threshold:g}: "
    "with these groups' own rates it lies between {low:.3g} and {high:.3g}"
)


def calibrate(
    algorithm: Algorithm, *, seed: int, progress: Progress | None = None
) -> EmbeddingModel:
    """Solve every group's and pair's parameters so the model realizes ``algorithm``'s rates.

    ``seed`` fixes the model's random rotation and identities (calibration itself
    draws nothing).

    Raises
    ------
    ConfigError
        If a group's targets, or a pair's, cannot be reached at the threshold.
    """
    groups = tuple(algorithm.error_rates)
    dims = free_dimensions(algorithm)
    steps = len(groups) + len(groups) * (len(groups) - 1) // 2
    shapes: list[GroupShape] = []
    for index, key in enumerate(groups):
        shapes.append(_solve_group(key, algorithm.error_rates[key], algorithm.threshold, dims))
        report_progress(progress, "calibrate", index + 1, steps)

    same_group = {
        key: float(_same_group_fmr(shape, algorithm.threshold, dims))
        for key, shape in zip(groups, shapes, strict=True)
    }
    kappa = np.eye(len(groups))
    done = len(groups)
    for g in range(len(groups)):
        for h in range(g + 1, len(groups)):
            target = cross_group_target(algorithm, groups[g], groups[h], same_group)
            kappa[g, h] = kappa[h, g] = _solve_kappa(
                algorithm, (groups[g], groups[h]), (shapes[g], shapes[h]), target, dims
            )
            done += 1
            report_progress(progress, "calibrate", done, steps)
    return EmbeddingModel(
        algorithm=algorithm,
        seed=seed,
        groups=groups,
        rho=np.array([shape.rho for shape in shapes]),
        sigma=np.array([shape.sigma for shape in shapes]),
        kappa=_nearest_correlation(kappa),
        family_share=np.array([shape.family_share for shape in shapes]),
        family_weight=np.array([shape.family_weight for shape in shapes]),
        mismatch=np.array([shape.mismatch for shape in shapes]),
    )


def _same_group_fmr(
    shape: GroupShape, threshold: float | npt.NDArray[np.float64], dims: int
) -> npt.NDArray[np.float64]:
    return np.asarray(
        pair_fmr(shape, shape, kappa=1.0, same_group=True, threshold=threshold, dims=dims)
    )


def _solve_group(key: str, rates: ErrorRates, threshold: float, dims: int) -> GroupShape:
    """One group's parameters: closed forms for a number, a least-squares fit for a tail."""
    field = f"error_rates.{key}.fmr"
    points = rates.fmr_points
    if points is None:
        assert isinstance(rates.fmr, float)
        sigma = sigma_for_fnmr(rates.fnmr, threshold, dims)
        return GroupShape(_rho_for_fmr(field, rates, rates.fmr, threshold, sigma, dims), sigma)
    return _fit_tail(field, rates, points, threshold, dims)


def _one_cluster_rho(fmr: float, threshold: float, sigma: float, dims: int) -> float:
    """``rho`` at which one cluster's impostors match at ``fmr`` (negative: unreachable)."""
    cut = tail_cut(fmr, dims)
    return (1.0 + sigma**2) * (threshold - cut) / (1.0 - cut)


def _rho_for_fmr(
    field: str, rates: ErrorRates, fmr: float, threshold: float, sigma: float, dims: int
) -> float:
    """The clustering at which same-group impostors match at ``fmr``, exactly.

    A same-group impostor score is ``(rho + (1 - rho + sigma^2) t) / (1 + sigma^2)``
    (see `_scores`): solving for the ``t`` that ``fmr`` of pairs reach leaves an
    equation linear in ``rho``.
    """
    rho = _one_cluster_rho(fmr, threshold, sigma, dims)
    if rho < 0.0:
        floor = float(_same_group_fmr(GroupShape(0.0, sigma), threshold, dims))
        message = _UNREACHABLE_FMR.format(target=fmr, threshold=threshold, floor=floor, dims=dims)
        raise ConfigError(SCENARIO, [(f"algorithm.{field}", message)])
    if rho > _MAX_SHARED:
        ceiling = float(_same_group_fmr(GroupShape(_MAX_SHARED, sigma), threshold, dims))
        message = _TOO_HIGH_FMR.format(
            target=fmr, threshold=threshold, fnmr=rates.fnmr, ceiling=ceiling
        )
        raise ConfigError(SCENARIO, [(f"algorithm.{field}", message)])
    return rho


def _fit_tail(
    field: str, rates: ErrorRates, points: dict[float, float], threshold: float, dims: int
) -> GroupShape:
    """``rho``, mismatch and a look-alike family fitted to FMR at every configured threshold.

    Least squares in log FMR over the mismatch (a share of what FNMR at
    ``threshold`` allows), ``rho`` and the family weight (shares of what the
    others leave) and log10 of the family's share, from several starts; ``sigma``
    follows from FNMR in closed form. A fit that misses any point by more than
    `TAIL_TOLERANCE` is refused rather than realized off target.
    """
    # scipy.optimize is half a second of a command's start, and a run whose model
    # comes from the calibration cache solves nothing.
    from scipy import optimize

    thresholds = np.array(list(points))
    wanted = np.array(list(points.values()))

    def shape_of(x: npt.NDArray[np.float64]) -> GroupShape:
        mismatch_share, rho_share, weight, log_share = x
        mismatch = mismatch_share * _MAX_MISMATCH * (1.0 - threshold)
        rho = rho_share * (_MAX_SHARED - mismatch)
        return GroupShape(
            rho,
            sigma_for_fnmr(rates.fnmr, threshold, dims, mismatch),
            10.0**log_share,
            weight * (_MAX_SHARED - mismatch - rho),
            mismatch,
        )

    def residuals(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        fmr = _same_group_fmr(shape_of(x), thresholds, dims)
        misses = np.log(np.maximum(fmr, np.finfo(np.float64).tiny) / wanted)
        # Among fits that pass through the points, the one with the least mismatch.
        return np.append(misses, _MISMATCH_COST * x[0])

    # Start from the one-cluster model through the middle point, clipped into the box.
    middle = len(points) // 2
    sigma = sigma_for_fnmr(rates.fnmr, threshold, dims)
    rho = _one_cluster_rho(float(wanted[middle]), float(thresholds[middle]), sigma, dims)
    rho_share = float(np.clip(rho / _MAX_SHARED, 0.0, 0.9))
    best = None
    for mismatch, weight, share in _FIT_STARTS:
        # Starts without mismatch keep it at 0: it lowers the group's scores against
        # every group and so narrows what cross-group FMR can reach, so it is tried
        # only when no fit without it comes within _GOOD_FIT.
        ceiling = 1.0 if mismatch else 1e-12
        fit = optimize.least_squares(
            residuals,
            [mismatch, rho_share, weight, share],
            bounds=([0.0, 0.0, 0.0, -9.0], [ceiling, 1.0, 1.0, 0.0]),
        )
        if best is None or fit.cost < best.cost:
            best = fit
        # Each start costs a fit: stop at the first that is close enough.
        if np.max(np.abs(best.fun[:-1])) < _GOOD_FIT:
            break
    assert best is not None
    shape = shape_of(best.x)
    fitted = _same_group_fmr(shape, thresholds, dims)
    if np.max(np.abs(fitted / wanted - 1.0)) > TAIL_TOLERANCE:
        message = _TAIL_OFF.format(
            wanted=_curve(thresholds, wanted),
            tolerance=TAIL_TOLERANCE,
            fnmr=rates.fnmr,
            fitted=_curve(thresholds, fitted),
        )
        raise ConfigError(SCENARIO, [(f"algorithm.{field}", message)])
    return shape


def _curve(thresholds: npt.NDArray[np.float64], fmr: npt.NDArray[np.float64]) -> str:
    return "{" + ", ".join(f"{t:g}: {f:.3g}" for t, f in zip(thresholds, fmr, strict=True)) + "}"


def cross_group_target(
    algorithm: Algorithm, first: str, second: str, same_group_fmr: Mapping[str, float]
) -> float:
    """Target FMR of impostor pairs from two different groups, at the threshold.

    The pair's entry in ``cross_group_fmr`` if it has one; otherwise
    ``cross_group_factor`` times the lower of the two groups' same-group FMR at the
    threshold (``same_group_fmr``), so that for both groups same-group impostors
    match more often than these.
    """
    override = algorithm.cross_group_override(first, second)
    if override is not None:
        return override[1]
    return algorithm.cross_group_factor * min(same_group_fmr[first], same_group_fmr[second])


def _solve_kappa(
    algorithm: Algorithm,
    keys: tuple[str, str],
    shapes: tuple[GroupShape, GroupShape],
    target: float,
    dims: int,
) -> float:
    """The centre inner product at which cross-group impostors match at ``target``.

    A cross-group score is ``(kappa sqrt(rho_g rho_h) + f_g . f_h) / (norm norm)``,
    so FMR rises with ``kappa``: a root of a monotone closed form.
    """
    if shapes[0].rho * shapes[1].rho < 1e-18:
        # Identities that share nothing with their centres: kappa cannot matter.
        return 0.0

    def fmr(kappa: float) -> float:
        return float(
            pair_fmr(
                shapes[0],
                shapes[1],
                kappa=kappa,
                same_group=False,
                threshold=algorithm.threshold,
                dims=dims,
            )
        )

    def log_gap(kappa: float) -> float:
        return math.log(max(fmr(kappa), np.finfo(np.float64).tiny) / target)

    low, high = fmr(-1.0), fmr(1.0)
    if not low <= target <= high:
        override = algorithm.cross_group_override(*keys)
        pair = CROSS_GROUP_SEPARATOR.join(keys) if override is None else override[0]
        field = "cross_group_factor" if override is None else f"cross_group_fmr.{pair}"
        message = _CROSS_OFF.format(
            target=target, pair=pair, threshold=algorithm.threshold, low=low, high=high
        )
        raise ConfigError(SCENARIO, [(f"algorithm.{field}", message)])
    from scipy.optimize import brentq  # only when solving: see `_fit_tail`

    return float(brentq(log_gap, -1.0, 1.0, xtol=1e-12))


def _nearest_correlation(kappa: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``kappa`` if it is a valid (positive definite) correlation matrix, else the nearest one."""
    values, vectors = np.linalg.eigh(kappa)
    if values.min() > 1e-9:
        return kappa
    fixed = vectors @ np.diag(np.maximum(values, 1e-6)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


# Checks: a counted rate aims for CHECK_HITS matches (or misses), in at most
# MAX_CHECK_PAIRS impostor pairs (GENUINE_CHECKS genuine ones); a rate that would
# expect fewer than MIN_COUNTED_HITS there is computed instead. MAX_CHECK_HITS
# bounds the matches one check keeps (the pair bootstrap of its interval holds
# about 32 kB per match) by shrinking the sample for high rates.
CHECK_HITS = 1_000
MIN_COUNTED_HITS = 20
MAX_CHECK_PAIRS = 100_000_000
MAX_CHECK_HITS = 10_000
MIN_SIDE = 2_000
GENUINE_CHECKS = 100_000
FTA_CHECKS = 100_000
_BLOCK_ROWS = 1_024
REFERENCE = "reference"
# The worse capture condition at which the calibration table shows FMR: half the
# reference face size, 0.4 less light, 10 degrees more pose, 1 pixel more blur.
WORSE_CONDITIONS = {"face_size": 1.0, "darkness": 0.4, "pose": 1.0, "blur": 1.0, "years": 0.0}
WORSE = "face/2, light-0.4, pose+10, blur+1"


@dataclass(frozen=True)
class RateCount:
    """A checked error rate of one group (or pair of groups) and metric.

    Counted: ``hits`` of ``n`` trials. For impostor rates counted over all pairs
    of ``n_rows`` enrolled and ``n_cols`` probe identities, ``hit_rows`` and
    ``hit_cols`` locate each hit, so that an interval can account for pairs that
    share identities. Computed (``n`` = 0): below what a bounded count reaches,
    the rate is ``model``, the model's own closed form. ``model`` is given for
    counted impostor and genuine rates too, so the two can be compared.
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
    threshold: float = math.nan
    condition: str = REFERENCE
    model: float = math.nan

    @property
    def method(self) -> str:
        return "counted" if self.n > 0 else "computed"

    @property
    def rate(self) -> float:
        return self.hits / self.n if self.n > 0 else self.model


def measure_rates(
    model: EmbeddingModel,
    *,
    seed: int,
    progress: Progress | None = None,
    max_pairs: int = MAX_CHECK_PAIRS,
) -> list[RateCount]:
    """Check FMR, FNMR and FTA per group, and cross-group FMR, on fresh vectors.

    Every vector comes from `EmbeddingModel.observe` and every counted score from
    comparing vectors, as in the pipeline: per group FNMR, FMR at each configured
    threshold, FTA, and FMR of captures at `WORSE_CONDITIONS` against reference
    enrollments; per pair of groups their FMR. Rates that ``max_pairs`` impostor
    pairs (or the genuine and FTA samples) cannot count are computed from the
    model. Use a ``seed`` other than calibration's so the check is out of sample.
    """
    algorithm = model.algorithm
    counts: list[RateCount] = []
    n_groups = len(model.groups)
    same_group = {key: float(model.impostor_fmr(g, g)) for g, key in enumerate(model.groups)}
    steps = n_groups + n_groups * (n_groups - 1) // 2
    worse = {name: np.array([value]) for name, value in WORSE_CONDITIONS.items()}
    shift = float(weighted_effect(algorithm.fmr_effects, WORSE_CONDITIONS))
    for index, key in enumerate(model.groups):
        rates = algorithm.error_rates[key]
        rng = rng_for(seed, Stream.CALIBRATION, 2, index)
        counts.append(_genuine_count(model, rng, index, key, rates.fnmr))
        for threshold, fmr in rates.fmr_by_threshold(algorithm.threshold).items():
            pair = _ImpostorCheck(index, index, key, threshold)
            counts.append(pair.count(model, rng, fmr, max_pairs))
        counts.append(_fta_count(model, rng, index, key, rates.fta))
        scale, drift = model.capture_conditions(np.array([index]), worse)
        pair = _ImpostorCheck(
            index, index, key, algorithm.threshold, WORSE, float(scale[0]), float(drift[0])
        )
        counts.append(pair.count(model, rng, same_group[key] * math.exp(shift), max_pairs))
        report_progress(progress, "check", index + 1, steps)
    done = n_groups
    for g in range(n_groups):
        for h in range(g + 1, n_groups):
            rng = rng_for(seed, Stream.CALIBRATION, 3, g, h)
            first, second = model.groups[g], model.groups[h]
            target = cross_group_target(algorithm, first, second, same_group)
            name = f"{first}{CROSS_GROUP_SEPARATOR}{second}"
            pair = _ImpostorCheck(g, h, name, algorithm.threshold)
            counts.append(pair.count(model, rng, target, max_pairs))
            done += 1
            report_progress(progress, "check", done, steps)
    return counts


def weighted_effect(effects: ConditionShifts, deficits: Mapping[str, float]) -> float:
    """``sum over effects of effect * deficit`` for one condition."""
    return math.fsum(getattr(effects, name) * value for name, value in deficits.items())


def _genuine_count(
    model: EmbeddingModel, rng: np.random.Generator, index: int, key: str, fnmr: float
) -> RateCount:
    computed = genuine_fnmr(
        float(model.sigma[index]), model.threshold, model.free_dims, float(model.mismatch[index])
    )
    if fnmr * GENUINE_CHECKS < MIN_COUNTED_HITS:
        return RateCount(key, "fnmr", fnmr, 0, 0, threshold=model.threshold, model=computed)
    n = min(GENUINE_CHECKS, math.ceil(CHECK_HITS / fnmr))
    group = np.full(n, index)
    identity = model.identities(group, rng)
    enrolled = model.observe(identity, group, 1.0, rng, enrollment=True)
    captured = model.observe(identity, group, 1.0, rng)
    misses = int(np.count_nonzero(np.einsum("ij,ij->i", enrolled, captured) < model.threshold))
    return RateCount(key, "fnmr", fnmr, misses, n, threshold=model.threshold, model=computed)


def _fta_count(
    model: EmbeddingModel, rng: np.random.Generator, index: int, key: str, fta: float
) -> RateCount:
    if fta * FTA_CHECKS < MIN_COUNTED_HITS:
        return RateCount(key, "fta", fta, 0, 0, model=fta)
    no_deficits = {name: np.zeros(1) for name in ConditionShifts.model_fields}
    probability = model.fta_probability(np.full(FTA_CHECKS, index), no_deficits)
    failed = int(np.count_nonzero(rng.random(FTA_CHECKS) < probability))
    return RateCount(key, "fta", fta, failed, FTA_CHECKS, model=fta)


@dataclass(frozen=True)
class _ImpostorCheck:
    """Enrolled identities of one group against probes of another (or the same), at a threshold.

    Probes are captured with noise ``scale`` and ``drift`` (reference by default).
    """

    enrolled: int
    probe: int
    name: str
    threshold: float
    condition: str = REFERENCE
    scale: float = 1.0
    drift: float = 0.0

    def count(
        self, model: EmbeddingModel, rng: np.random.Generator, target: float, max_pairs: int
    ) -> RateCount:
        """Count matches on a sample sized from the model's rate, or compute the rate."""
        computed = float(
            model.impostor_fmr(
                self.enrolled,
                self.probe,
                threshold=self.threshold,
                scale=self.scale,
                drift=self.drift,
            )
        )
        checked = RateCount(
            self.name,
            "fmr",
            target,
            0,
            0,
            threshold=self.threshold,
            condition=self.condition,
            model=computed,
        )
        if computed * max_pairs < MIN_COUNTED_HITS:
            return checked
        side = side_for(computed, max_pairs)
        rows, cols = self._hits(model, rng, side)
        return replace(
            checked,
            hits=len(rows),
            n=side * side,
            hit_rows=rows,
            hit_cols=cols,
            n_rows=side,
            n_cols=side,
        )

    def _hits(
        self, model: EmbeddingModel, rng: np.random.Generator, side: int
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        enrolled_groups = np.full(side, self.enrolled)
        enrolled = model.observe(
            model.identities(enrolled_groups, rng), enrolled_groups, 1.0, rng, enrollment=True
        )
        probe_groups = np.full(side, self.probe)
        probes = model.observe(
            model.identities(probe_groups, rng), probe_groups, self.scale, rng, self.drift
        )
        rows: list[npt.NDArray[np.intp]] = []
        cols: list[npt.NDArray[np.intp]] = []
        for start, scores in _blocks(enrolled, probes):
            # Hits are rare: find the rows that have any before locating them.
            with_hits = np.flatnonzero(scores.max(axis=1) >= self.threshold)
            hit_rows, hit_cols = np.nonzero(scores[with_hits] >= self.threshold)
            rows.append(with_hits[hit_rows] + start)
            cols.append(hit_cols)
        return np.concatenate(rows), np.concatenate(cols)


def side_for(rate: float, max_pairs: int = MAX_CHECK_PAIRS) -> int:
    """Identities on each side of an all-pairs sample that checks ``rate``.

    Enough for about `CHECK_HITS` matches and at least `MIN_SIDE` identities, but
    at most ``max_pairs`` pairs and about `MAX_CHECK_HITS` matches.
    """
    side = max(math.ceil(math.sqrt(CHECK_HITS / rate)), MIN_SIDE)
    return max(1, min(side, math.isqrt(max_pairs), math.isqrt(int(MAX_CHECK_HITS / rate))))


def _blocks(
    left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]
) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """Scores of blocks of ``left``'s rows against all of ``right``, in one reused buffer.

    Reusing the buffer (and a contiguous transpose) takes a third off counting
    time, which allocating a fresh block each time spends on page faults.
    """
    right_t = np.ascontiguousarray(right.T)
    buffer = np.empty((min(_BLOCK_ROWS, len(left)), len(right)), dtype=np.float32)
    for start in range(0, len(left), _BLOCK_ROWS):
        block = left[start : start + _BLOCK_ROWS]
        scores = buffer[: len(block)]
        np.matmul(block, right_t, out=scores)
        yield start, scores
