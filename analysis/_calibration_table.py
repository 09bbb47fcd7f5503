"""The calibration table: configured against realized error rates, with intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from riskclass import Stream, rng_for
from riskclass.synthetic import RateCount

from ._bootstrap import pair_bootstrap_interval, wilson_interval

CALIBRATION_COLUMNS = ("group", "metric", "target", "realized", "ci_low", "ci_high", "n")


def calibration_table(counts: Sequence[RateCount], *, seed: int) -> pd.DataFrame:
    """One row per counted rate, with ``CALIBRATION_COLUMNS``.

    Impostor rates counted over all pairs get a pair bootstrap interval; the
    others, from independent trials, a Wilson interval.

    Examples
    --------
    >>> from riskclass.synthetic import RateCount
    >>> table = calibration_table([RateCount("default", "fnmr", 0.01, 95, 10_000)], seed=0)
    >>> table[["realized", "n"]]
       realized      n
    0    0.0095  10000
    """
    rng = rng_for(seed, Stream.CALIBRATION, 4)
    rows = []
    for count in counts:
        if count.hit_rows is not None and count.hit_cols is not None:
            low, high = pair_bootstrap_interval(
                count.hit_rows, count.hit_cols, count.n_rows, count.n_cols, rng=rng
            )
        else:
            low, high = wilson_interval(count.hits, count.n)
        rows.append((count.group, count.metric, count.target, count.rate, low, high, count.n))
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


def calibration_holds(table: pd.DataFrame, *, relative: float = 0.1) -> pd.Series:
    """Per row: the target lies in the interval, or the realized rate within ``relative`` of it."""
    inside = (table["ci_low"] <= table["target"]) & (table["target"] <= table["ci_high"])
    close = (table["realized"] - table["target"]).abs() <= relative * table["target"]
    return pd.Series(np.asarray(inside | close), index=table.index, name="holds")
