"""Face embeddings: identity templates and noisy captures with per-group structure.

The geometry, in an un-rotated basis of ``DIMENSIONS`` coordinates:

- each error-rate group ``g`` has a unit *centre* ``m_g`` in the first ``G``
  coordinates; centres of groups ``g`` and ``h`` have inner product ``kappa[g, h]``;
- each group whose FMR is configured at several thresholds (a *shaped* group)
  has one more coordinate ``e_g`` of its own, after the centres: its look-alike
  family. With any shaped group, two more coordinates follow, ``E`` for
  enrollments and ``C`` for captures. The remaining ``DIMENSIONS - G - S - 2``
  coordinates (``S`` shaped groups; ``DIMENSIONS - G`` without any) are the
  *free* ones, the same number for every group;
- a person of group ``g`` has the identity vector
  ``u = sqrt(rho_g) m_g + sqrt(1 - rho_g) z`` with ``z`` a random unit vector in
  the free coordinates, so identities of a group cluster more tightly, and their
  impostor scores run higher, the larger ``rho_g``; a share ``family_share_g`` of
  a shaped group's persons are family members,
  ``u = sqrt(rho_g) m_g + sqrt(w_g) e_g + sqrt(1 - rho_g - w_g) z``
  (``w_g = family_weight_g``), who resemble each other more, so the group's
  impostor tail is heavier at high thresholds; a shaped group's identities also
  carry ``sqrt(mismatch_g)`` on ``E`` in enrollments and on ``C`` in captures, a
  part that enrollment and capture never share, so impostor scores spread less
  and the tail falls faster;
- an enrollment photo or a capture is ``normalize(u + sigma_g * s * nu + d m_g)``
  with ``nu`` a random unit vector in the free coordinates, orthogonal to ``z``,
  ``s`` the capture's noise scale (1 at reference conditions, larger when worse)
  and ``d`` its drift toward the group centre (0 at reference conditions, and
  solved so that the capture's FMR follows ``algorithm.fmr_effects``; more noise
  alone would lower it). Noise of fixed norm orthogonal to the identity puts
  every capture at the same angle from its identity, so every probe has the same
  chance of a false match against a random identity, and FPIR against a gallery
  of N follows ``1 - (1 - FMR)^N`` rather than being dominated by a few unlucky
  probes;
- the vectors stay in this basis. Scores, inner products, are the same in any
  orthonormal basis, so rotating every vector (as the model once did, at a 128 x
  128 product per face) would change no score beyond float32 rounding; the one
  consumer that needs coordinates spread evenly, the int8 bounds of large
  galleries (`riskclass.pipeline.matching.Int8Bounds`), rotates its own copies.

Scores are cosine similarities (inner products of the unit vectors); their
distributions have closed forms (see `pair_fmr`). The parameters are solved for by
`calibrate` so that the configured error rates are what comparing these vectors
produces.
"""

from __future__ import annotations

import json
import math
from dataclasses import InitVar, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import (
    Algorithm,
    ConditionShifts,
    ReferenceConditions,
    Stream,
    in_threads,
    resolve_index,
    rng_for,
)

from ._events import EVENT_CHUNK_PERSONS
from ._scores import GroupShape, pair_fmr

DIMENSIONS = 128
# One band of persons, as the events are chunked: a run split into tasks by band
# draws each band's identities on its own, the same as within the whole.
IDENTITY_BLOCK = EVENT_CHUNK_PERSONS
# Faces are encoded in blocks of this many, each with noise from its own generator
# spawned from the caller's: blocks run in parallel threads, and the embeddings do
# not depend on how many threads there are.
OBSERVE_BLOCK = 16_384
# A capture's drift is looked up in a table over its noise scale and its configured
# change of log FMR; captures beyond the table's edges take the edge's drift.
_DRIFT_SCALES = np.linspace(1.0, 4.0, 61)
_DRIFT_LOG_SHIFTS = np.linspace(-10.0, 10.0, 81)
_DRIFT_TRIALS = 401
_DRIFT_BISECTIONS = 48

FloatArray = npt.NDArray[np.float32]


def unit_rows(vectors: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.floating[Any]]:
    # einsum's row sums of squares run about four times as fast as `np.linalg.norm`.
    return vectors / np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]


def _row_dots(a: FloatArray, b: FloatArray) -> npt.NDArray[np.float64]:
    return np.einsum("ij,ij->i", a, b).astype(np.float64)


def condition_deficits(
    reference: ReferenceConditions,
    *,
    face_px: npt.ArrayLike,
    illumination: npt.ArrayLike,
    pose_deg: npt.ArrayLike,
    blur_px: npt.ArrayLike,
    years: npt.ArrayLike,
) -> dict[str, npt.NDArray[np.float64]]:
    """How far each capture falls short of the reference conditions, per effect.

    Keys are the fields of `ConditionEffects`; every deficit is 0 at or better
    than the reference, and grows as conditions worsen.
    """
    face = np.asarray(face_px, dtype=np.float64)
    return {
        "face_size": np.maximum(0.0, np.log2(reference.face_px / np.maximum(face, 1e-3))),
        "darkness": np.maximum(
            0.0, reference.illumination - np.asarray(illumination, dtype=np.float64)
        ),
        "pose": np.maximum(0.0, np.asarray(pose_deg, dtype=np.float64) - reference.pose_deg) / 10.0,
        "blur": np.maximum(0.0, np.asarray(blur_px, dtype=np.float64) - reference.blur_px),
        "years": np.asarray(years, dtype=np.float64),
    }


def weighted_deficit(
    effects: ConditionShifts, deficits: dict[str, npt.NDArray[np.float64]]
) -> npt.NDArray[np.float64]:
    """``sum over effects of effect * deficit``, per capture."""
    total = np.zeros(np.broadcast(*deficits.values()).shape)
    for name, deficit in deficits.items():
        total = total + getattr(effects, name) * deficit
    return total


def shaped_groups(algorithm: Algorithm) -> list[str]:
    """Groups whose FMR is configured at several thresholds: each has a family coordinate."""
    return [key for key, rates in algorithm.error_rates.items() if rates.fmr_points is not None]


def free_dimensions(algorithm: Algorithm) -> int:
    """Coordinates that carry identity and noise; the others hold centres, families, E and C."""
    shaped = len(shaped_groups(algorithm))
    return DIMENSIONS - len(algorithm.error_rates) - shaped - (2 if shaped else 0)


@dataclass(frozen=True, kw_only=True)
class EmbeddingModel:
    """Calibrated embedding parameters of every error-rate group.

    ``groups`` are the keys of ``algorithm.error_rates`` in config order; arrays
    are indexed like them (``family_share``, ``family_weight`` and ``mismatch`` are
    0 for groups that are not shaped). Build one with `calibrate`; it is saved with a run as
    JSON (`to_json`) so that a run can be inspected and repeated.
    """

    algorithm: Algorithm
    seed: int
    groups: tuple[str, ...]
    rho: npt.NDArray[np.float64]
    sigma: npt.NDArray[np.float64]
    kappa: npt.NDArray[np.float64]
    family_share: npt.NDArray[np.float64]
    family_weight: npt.NDArray[np.float64]
    mismatch: npt.NDArray[np.float64]
    _centres: npt.NDArray[np.float64] = field(init=False, repr=False)
    _family_column: npt.NDArray[np.intp] = field(init=False, repr=False)
    _drift: npt.NDArray[np.float64] = field(init=False, repr=False)
    # The drift tables as `drift_tables` gave them for these parameters: solving them
    # again is most of the time of reading a cached model (0.8 s of 0.8 s).
    drift: InitVar[npt.NDArray[np.float64] | None] = None

    def __post_init__(self, drift: npt.NDArray[np.float64] | None) -> None:
        # Frozen dataclass: derived arrays are set once, here.
        object.__setattr__(self, "_centres", np.linalg.cholesky(self.kappa))
        shaped = shaped_groups(self.algorithm)
        columns = [len(self.groups) + shaped.index(k) if k in shaped else -1 for k in self.groups]
        object.__setattr__(self, "_family_column", np.array(columns, dtype=np.intp))
        if drift is None:
            drift = np.stack([self._drift_table(group) for group in range(len(self.groups))])
        elif drift.shape != (len(self.groups), len(_DRIFT_SCALES), len(_DRIFT_LOG_SHIFTS)):
            raise ValueError(f"drift tables of shape {drift.shape} for {len(self.groups)} groups")
        object.__setattr__(self, "_drift", drift)

    @property
    def drift_tables(self) -> npt.NDArray[np.float64]:
        """Drift per group, noise scale and change of log FMR (see `_drift_table`):
        pass them back as ``drift`` to rebuild this model without solving them."""
        return self._drift

    @property
    def threshold(self) -> float:
        return self.algorithm.threshold

    @property
    def free_dims(self) -> int:
        """Coordinates that carry identity and noise (see `free_dimensions`)."""
        return free_dimensions(self.algorithm)

    @property
    def _shaped(self) -> bool:
        """Whether some group is shaped, so that families, ``E`` and ``C`` exist."""
        return DIMENSIONS - self.free_dims > len(self.groups)

    @property
    def _enrollment_column(self) -> int:
        """Coordinate ``E`` (``C`` follows it); meaningful only when some group is shaped."""
        return DIMENSIONS - self.free_dims - 2

    def shape(self, group: int) -> GroupShape:
        """The parameters of one group (position in `groups`)."""
        return GroupShape(
            float(self.rho[group]),
            float(self.sigma[group]),
            float(self.family_share[group]),
            float(self.family_weight[group]),
            float(self.mismatch[group]),
        )

    def impostor_fmr(
        self,
        enrolled: int,
        probe: int,
        *,
        threshold: float | npt.NDArray[np.float64] | None = None,
        scale: float | npt.NDArray[np.float64] = 1.0,
        drift: float | npt.NDArray[np.float64] = 0.0,
        kind: GroupShape | None = None,
    ) -> npt.NDArray[np.float64]:
        """FMR of probes of group ``probe`` against enrolled identities of group ``enrolled``.

        Computed from the model's score distribution (see `pair_fmr`), at the
        algorithm's threshold unless given; probes with noise ``scale`` and
        ``drift`` (see `observe`), enrollments at reference conditions. ``kind``:
        probes of one kind of their group (`GroupShape.kinds`, its look-alike
        family or the rest); by default of either, mixed by their shares.
        """
        return np.asarray(
            pair_fmr(
                self.shape(enrolled),
                self.shape(probe) if kind is None else kind,
                kappa=float(self.kappa[enrolled, probe]),
                same_group=enrolled == probe,
                threshold=self.threshold if threshold is None else threshold,
                dims=self.free_dims,
                scale=scale,
                drift=drift,
            )
        )

    def _drift_table(self, group: int) -> npt.NDArray[np.float64]:
        """Drift toward the centre per noise scale and change of log FMR, for one group.

        A capture's same-group FMR rises with its drift up to a peak (beyond it the
        capture is mostly centre, and its scores against the group's identities
        settle toward ``sqrt(rho)``). The drift is found by bisection below the
        peak; where the wanted FMR lies beyond what drifting reaches it stays at
        the peak, or at removing the whole centre weight.
        """
        scale = _DRIFT_SCALES[:, None]

        def log_fmr(drift: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            fmr = self.impostor_fmr(group, group, scale=scale, drift=drift)
            return np.log(np.maximum(fmr, np.finfo(np.float64).tiny))

        grid = (len(_DRIFT_SCALES), len(_DRIFT_LOG_SHIFTS))
        reference = math.log(float(self.impostor_fmr(group, group)))
        wanted = np.broadcast_to(reference + _DRIFT_LOG_SHIFTS[None, :], grid)
        lowest = -math.sqrt(self.rho[group])
        trials = np.linspace(lowest, 4.0, _DRIFT_TRIALS)
        peak = trials[np.argmax(log_fmr(trials[None, :]), axis=1)][:, None]
        low = np.full(grid, lowest)
        high = np.broadcast_to(peak, grid)
        for _ in range(_DRIFT_BISECTIONS):
            middle = (low + high) / 2.0
            below = log_fmr(middle) < wanted
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        return (low + high) / 2.0

    def group_index(self, persons: pd.DataFrame) -> npt.NDArray[np.intp]:
        """The error-rate group of each person (position in `groups`)."""
        return resolve_index(self.algorithm.error_rates, persons) - 1

    def identities(
        self, groups: npt.NDArray[np.intp], rng: np.random.Generator
    ) -> npt.NDArray[np.float32]:
        """Identity vectors for persons of the given groups."""
        n_groups = len(self.groups)
        first_free = DIMENSIONS - self.free_dims
        z = unit_rows(rng.standard_normal((len(groups), self.free_dims), dtype=np.float32))
        rho = self.rho[groups]
        family = np.zeros(len(groups))
        identity = np.zeros((len(groups), DIMENSIONS), dtype=np.float32)
        mismatch = self.mismatch[groups]
        if self._shaped:
            # Drawn only when some group is shaped, so other configs keep their identities.
            member = np.flatnonzero(rng.random(len(groups)) < self.family_share[groups])
            family[member] = self.family_weight[groups[member]]
            identity[member, self._family_column[groups[member]]] = np.sqrt(family[member])
            identity[:, self._enrollment_column] = np.sqrt(mismatch)
        identity[:, :n_groups] = np.sqrt(rho)[:, None] * self._centres[groups]
        free = np.sqrt(1.0 - rho - family - mismatch).astype(np.float32)
        identity[:, first_free:] = free[:, None] * z
        return identity

    def person_identities(
        self, groups: npt.NDArray[np.intp], first: int = 0
    ) -> npt.NDArray[np.float32]:
        """Identity vectors of persons ``first .. first + n - 1`` (of error-rate
        ``groups``), reproducible from the seed alone.

        Drawn in blocks of `IDENTITY_BLOCK` persons, each from its own stream, so a
        block's identities are the same whether drawn alone or with the others:
        ``first`` must start a block.
        """
        if first % IDENTITY_BLOCK:
            raise ValueError(f"first must be a multiple of {IDENTITY_BLOCK}, not {first}")
        out = np.empty((len(groups), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(groups), IDENTITY_BLOCK):
            stop = min(start + IDENTITY_BLOCK, len(groups))
            rng = rng_for(self.seed, Stream.IDENTITIES, 1, (first + start) // IDENTITY_BLOCK)
            out[start:stop] = self.identities(groups[start:stop], rng)
        return out

    def observe(
        self,
        identities: npt.NDArray[np.floating[Any]],
        groups: npt.NDArray[np.intp],
        noise_scale: npt.ArrayLike,
        rng: np.random.Generator,
        drift: npt.ArrayLike = 0.0,
        *,
        enrollment: bool = False,
        rows: npt.NDArray[np.intp] | None = None,
    ) -> FloatArray:
        """Embeddings of enrollment photos, or of captures, of the given identities.

        ``noise_scale`` multiplies the group's noise and ``drift`` moves a capture
        toward its group's centre: 1 and 0 at reference conditions (see
        `capture_conditions`). A capture carries the identity's mismatch part on
        coordinate ``C``, an ``enrollment`` on ``E``. ``rows``: the rows of
        ``identities`` to encode, in order (default: every row), the same as passing
        ``identities[rows]``; ``groups``, ``noise_scale`` and ``drift`` go with them.
        Returns unit float32 vectors. The noise of each block of `OBSERVE_BLOCK`
        faces comes from its own generator, spawned from ``rng``.
        """
        sigma = np.broadcast_to(
            self.sigma[groups] * np.asarray(noise_scale, dtype=np.float64), groups.shape
        )
        shift = np.broadcast_to(np.asarray(drift, dtype=np.float64), groups.shape)
        out = np.empty((len(groups), DIMENSIONS), dtype=np.float32)
        starts = range(0, len(groups), OBSERVE_BLOCK)
        if rows is not None:
            identities = np.asarray(identities, dtype=np.float32)
            if len(rows) and not 0 <= rows.min() <= rows.max() < len(identities):
                raise IndexError(f"rows must be positions in the {len(identities)} identities")

        def encode(block: tuple[int, np.random.Generator]) -> None:
            part = slice(block[0], block[0] + OBSERVE_BLOCK)
            # Each block gathers its own identities (in its thread, while they fit
            # in cache) into ``out`` and makes them into embeddings there: no copy
            # of the whole batch.
            observed = out[part]
            if rows is None:
                observed[...] = identities[part]
            else:
                # Unbuffered (any mode but "raise"), `take` gathers at about three
                # times the speed of indexing; `rows` were checked above.
                np.take(identities, rows[part], axis=0, out=observed, mode="clip")
            self._observe_block(
                observed, groups[part], sigma[part], shift[part], block[1], enrollment
            )

        in_threads(encode, list(zip(starts, rng.spawn(len(starts)), strict=True)))
        return out

    def _observe_block(
        self,
        observed: FloatArray,
        groups: npt.NDArray[np.intp],
        sigma: npt.NDArray[np.float64],
        shift: npt.NDArray[np.float64],
        rng: np.random.Generator,
        enrollment: bool,
    ) -> None:
        """`observe` of one block, in place: ``observed`` (a copy of the identities)
        made into embeddings, with noise from ``rng``."""
        first_free = DIMENSIONS - self.free_dims
        if not enrollment and self._shaped:
            column = self._enrollment_column
            observed[:, column + 1] = observed[:, column]
            observed[:, column] = 0.0
        if np.any(shift):
            observed[:, : len(self.groups)] += (shift[:, None] * self._centres[groups]).astype(
                np.float32
            )
        # The noise is the part of a Gaussian ``g`` orthogonal to the identity's free
        # part ``u``, scaled to norm ``sigma``: ``u + sigma (g - (g.u / u.u) u) / |g_perp|``
        # with ``|g_perp|^2 = g.g - (g.u)^2 / u.u``. Written as ``a u + c g`` it takes
        # three row sums and one pass, instead of normalising ``u``, the projection and
        # the noise separately. The result's squared norm is ``shared + u.u + sigma^2``
        # (the noise is orthogonal to ``u``), so the final scaling is folded into ``a``
        # and ``c`` too.
        free = observed[:, first_free:]
        gaussian = rng.standard_normal(free.shape, dtype=np.float32)
        uu, gu, gg = _row_dots(free, free), _row_dots(gaussian, free), _row_dots(gaussian, gaussian)
        perpendicular = np.sqrt(gg - gu * gu / uu)
        shared = observed[:, :first_free]
        inverse_norm = 1.0 / np.sqrt(_row_dots(shared, shared) + uu + sigma * sigma)
        c = sigma / perpendicular
        a = (1.0 - c * gu / uu) * inverse_norm
        gaussian *= (c * inverse_norm).astype(np.float32)[:, None]
        free *= a.astype(np.float32)[:, None]
        free += gaussian
        shared *= inverse_norm.astype(np.float32)[:, None]

    def capture_conditions(
        self, groups: npt.NDArray[np.intp], deficits: dict[str, npt.NDArray[np.float64]]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(noise_scale, drift)`` of captures with these deficits, for `observe`.

        The drift is interpolated in its group's table (bilinear in the noise
        scale and the configured change of log FMR), so that a capture's
        same-group FMR is the reference FMR times ``exp(sum(fmr_effect x deficit))``.
        """
        scale = np.broadcast_to(self.noise_scale(deficits), groups.shape)
        shift = weighted_deficit(self.algorithm.fmr_effects, deficits)
        i, a = _grid_position(_DRIFT_SCALES, scale)
        j, b = _grid_position(_DRIFT_LOG_SHIFTS, np.broadcast_to(shift, groups.shape))
        # The four corners by flat position: one index each instead of three.
        table, width = self._drift.reshape(-1), self._drift.shape[2]
        at = (groups * self._drift.shape[1] + i) * width + j
        drift = (1 - a) * ((1 - b) * table[at] + b * table[at + 1]) + a * (
            (1 - b) * table[at + width] + b * table[at + width + 1]
        )
        return scale, drift

    def noise_scale(self, deficits: dict[str, npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
        """Capture noise relative to reference conditions: ``1 + sum(effect x deficit)``."""
        return 1.0 + weighted_deficit(self.algorithm.noise_effects, deficits)

    def fta_probability(
        self, groups: npt.NDArray[np.intp], deficits: dict[str, npt.NDArray[np.float64]]
    ) -> npt.NDArray[np.float64]:
        """Probability that no usable face is acquired, per presentation."""
        base = np.array([self.algorithm.error_rates[g].fta for g in self.groups])[groups]
        # A group configured never to fail acquisition stays at 0 in any conditions.
        safe = np.clip(base, 1e-12, 1 - 1e-12)
        log_odds = np.log(safe / (1 - safe)) + weighted_deficit(
            self.algorithm.fta_effects, deficits
        )
        probability: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-log_odds))
        return np.where(base > 0, probability, 0.0)

    def to_json(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "threshold": self.threshold,
                "groups": list(self.groups),
                "rho": self.rho.tolist(),
                "sigma": self.sigma.tolist(),
                "kappa": self.kappa.tolist(),
                "family_share": self.family_share.tolist(),
                "family_weight": self.family_weight.tolist(),
                "mismatch": self.mismatch.tolist(),
            },
            indent=2,
        )

    @classmethod
    def from_json(
        cls, text: str, algorithm: Algorithm, *, drift: npt.NDArray[np.float64] | None = None
    ) -> EmbeddingModel:
        """The model `to_json` wrote, with its drift tables solved again unless given."""
        data = json.loads(text)
        return cls(
            algorithm=algorithm,
            seed=int(data["seed"]),
            groups=tuple(data["groups"]),
            rho=np.array(data["rho"]),
            sigma=np.array(data["sigma"]),
            kappa=np.array(data["kappa"]),
            family_share=np.array(data["family_share"]),
            family_weight=np.array(data["family_weight"]),
            mismatch=np.array(data["mismatch"]),
            drift=drift,
        )


def _grid_position(
    grid: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Cell index of each value on an evenly spaced grid and its position in the
    cell (0 to 1), clamped."""
    clamped = np.clip(values, grid[0], grid[-1])
    # The cell from the spacing, moved by one where rounding put it across an edge:
    # the cells a binary search (`searchsorted`) finds, at a fraction of its cost.
    last = len(grid) - 2
    step = (grid[-1] - grid[0]) / (len(grid) - 1)
    index = np.clip(((clamped - grid[0]) / step).astype(np.intp), 0, last)
    index -= grid[index] > clamped
    index += (index < last) & (grid[np.minimum(index + 1, last + 1)] <= clamped)
    return index, (clamped - grid[index]) / (grid[index + 1] - grid[index])
