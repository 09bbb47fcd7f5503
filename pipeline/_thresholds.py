"""Thresholds by target: NIST's threshold mode, solved from the calibrated model."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from riskclass import SCENARIO, ConfigError
from riskclass.synthetic import EmbeddingModel

# The threshold is found to this precision: far below any difference in a report.
_TOLERANCE = 1e-7


def expected_fpir(
    model: EmbeddingModel,
    members: npt.NDArray[np.int64],
    probes: npt.NDArray[np.float64],
    threshold: float,
    *,
    self_excluded: bool = False,
) -> float:
    """FPIR of a search against a gallery, averaged over probes, from the model.

    ``members``: gallery members per error-rate group; ``probes``: the share of
    non-mated searches made by each error-rate group; ``self_excluded``: the
    probes are members, each searched against the others, so that a probe of
    group ``g`` meets ``members[g] - 1`` of its own group. Given a probe, its scores
    against different members are independent (their identities are), so a probe
    of group ``g`` and kind ``c`` (its look-alike family or the rest, see
    `GroupShape.kinds`) alerts falsely unless every member scores below the
    threshold: ``1 - prod over h of (1 - FMR(h, c))^members[h]``, with each FMR
    computed from the model's score distribution at reference conditions, over
    the kinds of the members of ``h``. The kinds' FPIRs are then mixed by their
    shares: mixing their FMRs first would spread the family's near-certain alerts
    over every probe of the group, and overstate FPIR wherever a configured tail
    makes the family's alerts likely (NPL's Black tail at 0.56 against 10,000:
    0.156 instead of 0.012).
    """
    groups = range(len(model.groups))
    total = 0.0
    for g in groups:
        if probes[g] == 0:
            continue
        met = members - (self_excluded & (np.arange(len(members)) == g))
        for share, kind in model.shape(g).kinds():
            log_clear = sum(
                met[h]
                * math.log1p(-float(model.impostor_fmr(h, g, threshold=threshold, kind=kind)))
                for h in groups
                if met[h]
            )
            total += probes[g] * share * -math.expm1(log_clear)
    return total


def threshold_for_fpir(
    model: EmbeddingModel,
    members: npt.NDArray[np.int64],
    probes: npt.NDArray[np.float64],
    target: float,
    *,
    field: str,
    self_excluded: bool = False,
) -> float:
    """The threshold at which `expected_fpir` equals ``target``.

    Raises
    ------
    ConfigError
        Naming ``field`` when no threshold in (0, 1) reaches the target.
    """

    def fpir(threshold: float) -> float:
        return expected_fpir(model, members, probes, threshold, self_excluded=self_excluded)

    def gap(threshold: float) -> float:
        return math.log(max(fpir(threshold), 1e-300)) - math.log(target)

    low, high = 1e-6, 1.0 - 1e-6
    if gap(low) < 0 or gap(high) > 0:
        reach = fpir(high), fpir(low)
        raise ConfigError(
            SCENARIO,
            [
                (
                    field,
                    f"FPIR {target:g} is out of reach against this gallery: thresholds in (0, 1) "
                    f"give {reach[0]:.3g} to {reach[1]:.3g}",
                )
            ],
        )
    # Loaded here: half a second of a command's start, for scenarios with FPIR targets only.
    from scipy.optimize import brentq

    return float(brentq(gap, low, high, xtol=_TOLERANCE))
