"""Closed forms of the embedding model's score distributions.

An enrollment or a capture (before normalising) has a part in the shared
coordinates, its group's centre with weight ``centre`` and, for a member of the
group's look-alike family, the family's own coordinate with weight ``family``; a
part ``sqrt(mismatch)`` on a coordinate that enrollments and captures do not share
(one for enrollments, one for captures); and a *free* part
``f = sqrt(free_identity) z + sigma s nu`` in the ``dims`` free coordinates, with
``z`` the identity's unit direction and ``nu`` unit noise orthogonal to it. ``f``
has the fixed squared norm ``free_identity + (sigma s)^2`` and, because ``z`` is
uniform and ``nu`` uniform around it, a uniform direction. So the score of an
enrollment and a capture of different identities is

    (shared . shared' + |f| |f'| t) / (|x| |x'|)

with ``t`` the cosine of two independent uniform directions in ``dims``
dimensions, ``(1 + t) / 2 ~ Beta((dims - 1) / 2, (dims - 1) / 2)``. The share of
such pairs scoring at or above a threshold is a regularized incomplete beta
function, accurate far below 1e-10 where no count of pairs reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, betaincinv

Float = float | npt.NDArray[np.float64]


@dataclass(frozen=True)
class GroupShape:
    """One group's parameters: clustering ``rho``, noise ``sigma``, family and mismatch.

    A share ``family_share`` of the group's identities also carries
    ``sqrt(family_weight)`` of a coordinate of their own (the family's), so they
    resemble each other more than the rest of the group does: a heavier tail.
    ``mismatch`` of every identity's weight is expressed differently in enrollments
    and captures: it adds to neither impostor nor genuine scores, so impostor
    scores spread less around their mean and the tail falls faster.
    """

    rho: float
    sigma: float
    family_share: float = 0.0
    family_weight: float = 0.0
    mismatch: float = 0.0

    def components(self) -> list[tuple[float, float, float]]:
        """``(probability, family weight, squared free norm of an identity)`` per kind."""
        plain = (1.0 - self.family_share, 0.0, 1.0 - self.rho - self.mismatch)
        if self.family_share == 0.0:
            return [plain]
        member = (
            self.family_share,
            math.sqrt(self.family_weight),
            1.0 - self.rho - self.mismatch - self.family_weight,
        )
        return [member, plain]

    def kinds(self) -> list[tuple[float, GroupShape]]:
        """``(share, shape)`` of the group's look-alike family and of the rest, each
        as a group of its own (one entry, the group itself, without a family).

        A probe's alerts against a gallery depend on its kind: averaging FMR over
        the kinds before raising it to the gallery's size would spread the family's
        near-certain alerts over every probe (see `riskclass.pipeline.expected_fpir`).
        """
        if self.family_share == 0.0:
            return [(1.0, self)]
        return [
            (self.family_share, replace(self, family_share=1.0)),
            (1.0 - self.family_share, replace(self, family_share=0.0)),
        ]


def tail(shared: Float, norms: Float, free_norms: Float, threshold: Float, dims: int) -> Float:
    """P(score >= threshold) of pairs with these shared, norm and free-norm products."""
    cut = (np.asarray(threshold) * norms - shared) / free_norms
    shape = (dims - 1) / 2
    result: Float = betainc(shape, shape, np.clip((1.0 - cut) / 2.0, 0.0, 1.0))
    return result


def tail_cut(fmr: float, dims: int) -> float:
    """The cosine ``t`` of uniform directions that ``fmr`` of pairs reach or exceed."""
    shape = (dims - 1) / 2
    return 1.0 - 2.0 * float(betaincinv(shape, shape, fmr))


def pair_fmr(
    enrolled: GroupShape,
    probe: GroupShape,
    *,
    kappa: float,
    same_group: bool,
    threshold: Float,
    dims: int,
    scale: Float = 1.0,
    drift: Float = 0.0,
) -> Float:
    """FMR of probes of ``probe``'s group against enrolled identities of ``enrolled``'s group.

    Enrollments are taken at reference conditions; probes with noise ``scale``
    times their group's and a ``drift`` added to their centre weight (see
    `EmbeddingModel.observe`). ``kappa`` is the inner product of the two groups'
    centres (1 for one group, ``same_group``, whose family members share their
    family coordinate). Broadcasts over ``threshold``, ``scale`` and ``drift``.
    """
    enrolled_centre = math.sqrt(enrolled.rho)
    probe_centre = math.sqrt(probe.rho) + np.asarray(drift)
    total: Float = 0.0
    for p_enrolled, family_enrolled, free_enrolled in enrolled.components():
        free_e = free_enrolled + enrolled.sigma**2
        norm_e = math.sqrt(enrolled.rho + family_enrolled**2 + enrolled.mismatch + free_e)
        for p_probe, family_probe, free_probe in probe.components():
            free_p = free_probe + (probe.sigma * np.asarray(scale)) ** 2
            norm_p = np.sqrt(probe_centre**2 + family_probe**2 + probe.mismatch + free_p)
            shared = kappa * enrolled_centre * probe_centre
            if same_group:
                shared = shared + family_enrolled * family_probe
            hits = tail(shared, norm_e * norm_p, np.sqrt(free_e * free_p), threshold, dims)
            total = total + p_enrolled * p_probe * hits
    return total


def genuine_fnmr(sigma: float, threshold: float, dims: int, mismatch: float = 0.0) -> float:
    """FNMR of an enrollment against a capture, both at reference conditions.

    A genuine score is ``(1 - mismatch + sigma^2 t) / (1 + sigma^2)`` with ``t``
    the inner product of two independent unit noise vectors in the ``dims - 1``
    coordinates orthogonal to the identity, so ``(1 + t) / 2 ~ Beta(k, k)`` with
    ``k = (dims - 2) / 2``.
    """
    shape = (dims - 2) / 2
    cut = (threshold * (1.0 + sigma**2) - 1.0 + mismatch) / sigma**2
    return float(betainc(shape, shape, np.clip((1.0 + cut) / 2.0, 0.0, 1.0)))


def sigma_for_fnmr(fnmr: float, threshold: float, dims: int, mismatch: float = 0.0) -> float:
    """The noise at which genuine comparisons fail ``fnmr`` of the time (inverts `genuine_fnmr`).

    Needs ``mismatch < 1 - threshold``: genuine scores cannot exceed ``1 - mismatch``.
    """
    shape = (dims - 2) / 2
    t = 2.0 * float(betaincinv(shape, shape, fnmr)) - 1.0
    return math.sqrt((1.0 - mismatch - threshold) / (threshold - t))
