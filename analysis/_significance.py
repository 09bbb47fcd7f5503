"""Which disparity ratios are significant: a reference chosen before looking, a
p-value per ratio from its bootstrap, and the false discovery rate controlled
across each deployment's and metric's disparity rows.

Choosing the reference from the data (the best-off point estimate) is the winner's
curse: the reference's rate is low partly by chance, so every ratio over it is
biased up and flagged too often. `reference_groups` fixes it before any rate is
seen: the configured value, else the largest group of each attribute.

A report has dozens to hundreds of ratios per deployment; at 95% each, a few exclude
1 by chance alone. `adjust_ratios` adjusts their p-values with Benjamini-Hochberg
(`benjamini_hochberg`, as scipy's ``false_discovery_control``) within each family
(one deployment's rows of one metric, over all groups, intersections, swept
thresholds and light levels), and gives each row the false-coverage-rate adjusted
interval of Benjamini and Yekutieli (2005): level ``1 - R q / m`` with ``R`` of
``m`` rows significant at rate ``q`` (``1 - q / m`` when none is). That interval
excludes 1 exactly when the row is significant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr, ndtri

from riskclass import ALL

from ._bootstrap import CONFIDENCE
from ._cells import GroupCells

# The false discovery rate controlled in each family of disparity rows.
FDR = 1.0 - CONFIDENCE
# The columns `adjust_ratios` adds, in order.
TEST_COLUMNS = ("ci_low", "ci_high", "p_value", "p_adjusted", "adjusted_low", "adjusted_high")
FAMILY = ("deployment", "metric")


def reference_groups(
    cells: GroupCells,
    configured: Mapping[str, str],
    *,
    listed: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """Per reported attribute (and pair of attributes), the value ratios divide by.

    The configured value (``report.reference``), else the group with the most
    persons; for a pair, the largest of the intersections that hold the configured
    value of each attribute that has one. Ties go to the value listed first
    (``listed``: each attribute's values in config order; sorted where not given).
    Chosen from group sizes only, never from rates, and the same for every metric
    and threshold. An attribute whose configured value no person holds has none.

    Examples
    --------
    >>> from riskclass.analysis import group_cells
    >>> persons = pd.DataFrame({"sex": ["f", "m", "m"], "age": ["old", "old", "young"]})
    >>> cells = group_cells(persons, ["sex", "age"])
    >>> reference_groups(cells, {"age": "young"})
    {'sex': 'm', 'age': 'young', 'sex&age': 'm&young'}
    """
    labels = cells.labels.assign(persons=cells.persons)
    chosen: dict[str, str] = {}
    for attribute, group in labels[labels["attribute"] != ALL].groupby("attribute", sort=False):
        names = str(attribute).split("&")
        # Each attribute's order once, not per candidate (sorting a column's values
        # per candidate was most of this function's time).
        orders = [
            list(listed[name])
            if listed is not None and name in listed
            else sorted(cells.profiles[name].unique())
            for name in names
        ]

        def rank(value: str, orders: list[list[str]] = orders) -> tuple[int, ...]:
            parts = value.split("&")
            return tuple(
                o.index(p) if p in o else len(o) for o, p in zip(orders, parts, strict=True)
            )

        candidates = [
            (int(persons), str(value))
            for value, persons in zip(group["value"], group["persons"], strict=True)
            if all(
                configured.get(name, part) == part
                for name, part in zip(names, str(value).split("&"), strict=True)
            )
        ]
        # A configured value that no person holds leaves nothing to divide by.
        if candidates:
            chosen[str(attribute)] = min(candidates, key=lambda c: (-c[0], rank(c[1])))[1]
    return chosen


@dataclass(frozen=True)
class RatioEvidence:
    """A disparity ratio and its bootstrap replicates (NaN ones dropped).

    Where the ratio and every replicate are finite and positive (both groups have
    errors in every replicate), the test is a normal one on the log ratio with the
    replicates' standard error, so a p-value can be as small as the evidence makes
    it (percentiles of a few hundred replicates cannot show p below 2 / (B + 1),
    too coarse for a family of hundreds). Otherwise (few errors) it uses the
    replicates' order statistics: ``p = 2 (k + 1) / (B + 1)`` with ``k`` the
    replicates on the far side of 1, and the interval at level ``1 - a`` from the
    ``floor(a / 2 (B + 1))``-th replicates from each end, so the interval excludes 1
    exactly when ``p <= a``. A ratio of 0 (the group had no errors) or without a
    value (the reference had none) is not tested; ``upper`` is then the least upper
    end its interval gets (the group's own upper bound over the reference's rate),
    and its interval may exclude 1 although the ratio is not significant.
    """

    ratio: float
    replicates: npt.NDArray[np.float64]
    upper: float = math.nan

    @property
    def tested(self) -> bool:
        return bool(np.isfinite(self.ratio) and self.ratio > 0 and len(self.replicates))

    @cached_property
    def _normal(self) -> tuple[float, float] | None:
        """``(log ratio, standard error)`` where the normal test applies."""
        r = self.replicates
        if not (self.tested and np.all(np.isfinite(r)) and np.all(r > 0)):
            return None
        spread = float(np.std(np.log(r), ddof=1))
        return (math.log(self.ratio), spread) if spread > 0 else None

    def p_value(self) -> float:
        if not self.tested:
            return math.nan
        normal = self._normal
        if normal is not None:
            # ndtr(-z) is scipy's norm.sf(z), without the distribution machinery's
            # argument checks (seconds over a report's thousands of ratios).
            return float(2.0 * ndtr(-abs(normal[0]) / normal[1]))
        far = min(
            np.count_nonzero(self.replicates <= 1.0), np.count_nonzero(self.replicates >= 1.0)
        )
        return min(1.0, 2.0 * (far + 1) / (len(self.replicates) + 1))

    def interval(self, alpha: float) -> tuple[float, float]:
        """The interval at level ``1 - alpha``."""
        if not np.isfinite(self.ratio):
            return (math.nan, math.nan)
        normal = self._normal
        if normal is not None:
            half = float(-ndtri(alpha / 2.0)) * normal[1]  # norm.isf, as above
            return (math.exp(normal[0] - half), math.exp(normal[0] + half))
        if not len(self.replicates):
            return (math.nan, math.nan)
        ordered = np.sort(self.replicates)
        rank = math.floor(alpha / 2.0 * (len(ordered) + 1))
        if rank < 1:
            low, high = 0.0, math.inf
        else:
            low, high = float(ordered[rank - 1]), float(ordered[-rank])
        if np.isfinite(self.upper):
            high = max(high, self.upper)
        return (low, high)


def benjamini_hochberg(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values, in the order of ``p``.

    The same floats as scipy's ``stats.false_discovery_control(p, method="bh")``,
    operation for operation (a test compares them), without importing
    ``scipy.stats``: that import is about a second of a report's time, and this
    was all the report used of it.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.5, 0.6, 0.1, 0.001]))
    array([0.6  , 0.6  , 0.2  , 0.004])
    """
    order = np.argsort(p)
    adjusted = p[order]
    count = len(p)
    adjusted *= count / np.arange(1, count + 1, dtype=adjusted.dtype)
    # Each adjusted p-value is the least of those at its rank and above.
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    unsorted = np.empty_like(adjusted)
    unsorted[order] = adjusted
    return np.clip(unsorted, 0.0, 1.0)


def adjust_ratios(table: pd.DataFrame, evidence: Sequence[RatioEvidence]) -> pd.DataFrame:
    """``table`` (one row per ratio, with ``deployment`` and ``metric``) with each
    row's 95% interval, p-value, Benjamini-Hochberg adjusted p-value and adjusted
    interval (`TEST_COLUMNS`), and ``significant`` where the adjusted p-value is at
    most `FDR`."""
    p = np.array([e.p_value() for e in evidence], dtype=np.float64)
    adjusted = np.full(len(p), np.nan)
    alpha = np.full(len(p), FDR)
    if len(table):
        family = table.groupby(list(FAMILY), sort=False, dropna=False).ngroup().to_numpy()
        for member in np.unique(family):
            rows = np.flatnonzero((family == member) & ~np.isnan(p))
            if not len(rows):
                continue
            adjusted[rows] = benjamini_hochberg(p[rows])
            found = int(np.count_nonzero(adjusted[rows] <= FDR))
            alpha[family == member] = max(found, 1) * FDR / len(rows)
    unadjusted = np.array([e.interval(FDR) for e in evidence]).reshape(-1, 2)
    widened = np.array([e.interval(a) for e, a in zip(evidence, alpha, strict=True)]).reshape(-1, 2)
    return table.assign(
        ci_low=unadjusted[:, 0],
        ci_high=unadjusted[:, 1],
        p_value=p,
        p_adjusted=adjusted,
        adjusted_low=widened[:, 0],
        adjusted_high=widened[:, 1],
        significant=adjusted <= FDR,
    )
