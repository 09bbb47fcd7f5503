"""The calibration table: configured against realized error rates, with intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from riskclass.synthetic import RateCount

from ._bootstrap import pair_bootstrap_interval, wilson_interval

CALIBRATION_COLUMNS = (
    "group", "metric", "threshold", "condition", "target", "realized", "ci_low", "ci_high",
    "n", "model", "method", "status",
)  # fmt: skip
# A realized rate within this share of its target holds even outside its interval.
RELATIVE_TOLERANCE = 0.1


def calibration_table(counts: Sequence[RateCount], *, rng: np.random.Generator) -> pd.DataFrame:
    """One row per checked rate, with ``CALIBRATION_COLUMNS``.

    Counted impostor rates get a pair bootstrap interval; counted rates from
    independent trials a Wilson interval; computed rates (``method`` computed,
    ``n`` 0) no interval. ``model`` is the model's closed-form rate. ``status``
    is ``ok`` for a counted rate whose interval holds its target, or that lies
    within `RELATIVE_TOLERANCE` of it; ``computed`` for a computed rate within
    that tolerance (the computation is checked against counting in the tests,
    not here); ``off`` otherwise.

    Examples
    --------
    >>> from riskclass.synthetic import RateCount
    >>> table = calibration_table(
    ...     [RateCount("default", "fnmr", 0.01, 95, 10_000)], rng=np.random.default_rng(0)
    ... )
    >>> table[["realized", "n", "method", "status"]]
       realized      n   method status
    0    0.0095  10000  counted     ok
    """
    rows = []
    for count in counts:
        if count.n == 0:
            low, high = np.nan, np.nan
        elif count.hit_rows is not None and count.hit_cols is not None:
            low, high = pair_bootstrap_interval(
                count.hit_rows, count.hit_cols, count.n_rows, count.n_cols, rng=rng
            )
        else:
            low, high = wilson_interval(count.hits, count.n)
        close = abs(count.rate - count.target) <= RELATIVE_TOLERANCE * count.target
        if count.method == "computed":
            status = "computed" if close else "off"
        else:
            status = "ok" if close or low <= count.target <= high else "off"
        rows.append(
            (
                count.group,
                count.metric,
                count.threshold,
                count.condition,
                count.target,
                count.rate,
                low,
                high,
                count.n,
                count.model,
                count.method,
                status,
            )
        )
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


def calibration_holds(table: pd.DataFrame) -> pd.Series:
    """Per row: the rate holds its target (``status`` is not ``off``).

    A counted rate holds when its interval contains the target or it lies within
    10% of it; a computed rate when it lies within 10% of it. Tell the two apart
    with the ``method`` column: only counted rates were checked on vectors.
    """
    return pd.Series(np.asarray(table["status"] != "off"), index=table.index, name="holds")


def calibration_summary(table: pd.DataFrame) -> str:
    """One line: how many counted rates hold, and how many computed ones, never mixed."""
    holds = calibration_holds(table)
    counted = table["method"] == "counted"
    line = (
        f"{int((holds & counted).sum())} of {int(counted.sum())} counted rates realized "
        f"within their 95% interval or 10% of target"
    )
    computed = int((~counted).sum())
    if computed:
        line += (
            f"; {int((holds & ~counted).sum())} of {computed} rates below what counting "
            f"reaches computed from the model, within 10% of target (not counted)"
        )
    return line
