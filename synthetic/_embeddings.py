"""Face embeddings: identity templates and noisy captures with per-group structure.

The geometry, in an un-rotated basis of ``DIMENSIONS`` coordinates:

- each error-rate group ``g`` has a unit *centre* ``m_g`` in the first ``G``
  coordinates; centres of groups ``g`` and ``h`` have inner product ``kappa[g, h]``;
- a person of group ``g`` has the identity vector
  ``u = sqrt(rho_g) m_g + sqrt(1 - rho_g) z`` with ``z`` a random unit vector in the
  other ``DIMENSIONS - G`` coordinates, so identities of a group cluster more
  tightly, and their impostor scores run higher, the larger ``rho_g``;
- an enrollment photo or a capture is ``normalize(u + sigma_g * s * nu)`` with
  ``nu`` a random unit vector in those same coordinates, orthogonal to ``z``, and
  ``s`` the capture's noise scale (1 at reference conditions, larger when worse).
  Noise of fixed norm orthogonal to the identity puts every capture at the same
  angle from its identity, so every probe has the same chance of a false match
  against a random identity, and FPIR against a gallery of N follows
  ``1 - (1 - FMR)^N`` rather than being dominated by a few unlucky probes;
- a fixed random rotation, derived from the seed, turns the result into a
  ``DIMENSIONS``-d unit vector that looks like any other embedding.

Scores are cosine similarities (inner products of the unit vectors). The
parameters ``rho``, ``sigma`` and ``kappa`` are solved for by `calibrate` so that
the configured error rates are what comparing these vectors produces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import (
    Algorithm,
    ConditionEffects,
    ReferenceConditions,
    Stream,
    resolve_index,
    rng_for,
)

DIMENSIONS = 128
IDENTITY_BLOCK = 65_536

FloatArray = npt.NDArray[np.float32]


def unit_rows(vectors: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.floating[Any]]:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def orthogonal_noise(rng: np.random.Generator, directions: FloatArray) -> FloatArray:
    """Unit vectors, uniformly distributed among those orthogonal to each row of ``directions``.

    ``directions`` must have unit rows.
    """
    gaussian = rng.standard_normal(directions.shape, dtype=np.float32)
    gaussian -= np.einsum("ij,ij->i", gaussian, directions)[:, None] * directions
    return unit_rows(gaussian)


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
    effects: ConditionEffects, deficits: dict[str, npt.NDArray[np.float64]]
) -> npt.NDArray[np.float64]:
    """``sum over effects of effect * deficit``, per capture."""
    total = np.zeros(np.broadcast(*deficits.values()).shape)
    for name, deficit in deficits.items():
        total = total + getattr(effects, name) * deficit
    return total


@dataclass(frozen=True, kw_only=True)
class EmbeddingModel:
    """Calibrated embedding parameters of every error-rate group.

    ``groups`` are the keys of ``algorithm.error_rates`` in config order; arrays
    are indexed like them. Build one with `calibrate`; it is saved with a run as
    JSON (`to_json`) so that a run can be inspected and repeated.
    """

    algorithm: Algorithm
    seed: int
    groups: tuple[str, ...]
    rho: npt.NDArray[np.float64]
    sigma: npt.NDArray[np.float64]
    kappa: npt.NDArray[np.float64]
    _centres: npt.NDArray[np.float64] = field(init=False, repr=False)
    _rotation: npt.NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: derived arrays are set once, here.
        object.__setattr__(self, "_centres", np.linalg.cholesky(self.kappa))
        gaussian = rng_for(self.seed, Stream.IDENTITIES, 0).standard_normal(
            (DIMENSIONS, DIMENSIONS)
        )
        object.__setattr__(self, "_rotation", np.linalg.qr(gaussian)[0])

    @property
    def threshold(self) -> float:
        return self.algorithm.threshold

    @property
    def free_dims(self) -> int:
        """Coordinates that carry identity and noise (the rest hold group centres)."""
        return DIMENSIONS - len(self.groups)

    def group_index(self, persons: pd.DataFrame) -> npt.NDArray[np.intp]:
        """The error-rate group of each person (position in `groups`)."""
        return resolve_index(self.algorithm.error_rates, persons) - 1

    def identities(
        self, groups: npt.NDArray[np.intp], rng: np.random.Generator
    ) -> npt.NDArray[np.float32]:
        """Identity vectors (un-rotated) for persons of the given groups."""
        n_groups = len(self.groups)
        z = unit_rows(rng.standard_normal((len(groups), self.free_dims), dtype=np.float32))
        rho = self.rho[groups][:, None].astype(np.float32)
        identity = np.empty((len(groups), DIMENSIONS), dtype=np.float32)
        identity[:, :n_groups] = np.sqrt(rho) * self._centres[groups]
        identity[:, n_groups:] = np.sqrt(1.0 - rho) * z
        return identity

    def person_identities(self, groups: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """Identity vectors of persons ``0..n-1``, reproducible from the seed alone.

        Drawn in blocks of `IDENTITY_BLOCK` persons, each from its own stream.
        """
        out = np.empty((len(groups), DIMENSIONS), dtype=np.float32)
        for block, start in enumerate(range(0, len(groups), IDENTITY_BLOCK)):
            stop = min(start + IDENTITY_BLOCK, len(groups))
            rng = rng_for(self.seed, Stream.IDENTITIES, 1, block)
            out[start:stop] = self.identities(groups[start:stop], rng)
        return out

    def observe(
        self,
        identities: npt.NDArray[np.floating[Any]],
        groups: npt.NDArray[np.intp],
        noise_scale: npt.ArrayLike,
        rng: np.random.Generator,
    ) -> FloatArray:
        """Embeddings of photos or captures of the given identities.

        ``noise_scale`` multiplies the group's capture noise: 1 at reference
        conditions (see `noise_scale`). Returns unit float32 vectors.
        """
        n_groups = len(self.groups)
        sigma = (self.sigma[groups] * np.asarray(noise_scale, dtype=np.float64))[:, None]
        observed = np.array(identities, dtype=np.float32)
        direction = unit_rows(observed[:, n_groups:])
        observed[:, n_groups:] += sigma.astype(np.float32) * orthogonal_noise(rng, direction)
        rotated: FloatArray = unit_rows(observed) @ self._rotation.astype(np.float32)
        return rotated

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
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, algorithm: Algorithm) -> EmbeddingModel:
        data = json.loads(text)
        return cls(
            algorithm=algorithm,
            seed=int(data["seed"]),
            groups=tuple(data["groups"]),
            rho=np.array(data["rho"]),
            sigma=np.array(data["sigma"]),
            kappa=np.array(data["kappa"]),
        )
