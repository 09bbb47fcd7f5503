"""How the report and the terminal write numbers: one rule for every rate."""

from __future__ import annotations

import math

import pandas as pd


def fmt(value: float | None) -> str:
    """A rate or ratio for reading: three significant digits, scientific below 0.001.

    Examples
    --------
    >>> [fmt(v) for v in (0.1234, 2.5e-5, 0.0, float("nan"), 14.61)]
    ['0.123', '2.50e-05', '0', 'n/a', '14.6']
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    return f"{value:.2e}" if abs(value) < 0.001 else f"{value:.3g}"


def with_interval(row: pd.Series) -> str:
    """``rate [low, high]`` of a metrics row, or ``n/a`` with its (zero) trials."""
    if math.isnan(row["rate"]):
        return f"n/a (n={int(row['n']):,})"
    return f"{fmt(row['rate'])} [{fmt(row['ci_low'])}, {fmt(row['ci_high'])}]"
