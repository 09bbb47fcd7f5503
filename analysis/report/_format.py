"""How the report and the terminal write numbers: one rule for every rate."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

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


def ratio_interval(low: float, high: float) -> str:
    """A ratio's interval in words; a ratio whose reference can be 0 has no upper bound.

    Examples
    --------
    >>> ratio_interval(2.594, float("inf")), ratio_interval(1.5, 3.25)
    ('2.59 to infinity', '1.5 to 3.25')
    """
    return f"{fmt(low)} to {'infinity' if high == math.inf else fmt(high)}"


def with_interval(row: pd.Series | Mapping[Any, Any]) -> tuple[str, str]:
    """The rate of a metrics row and its interval ``[low, high]``; ``n/a`` and its
    (zero) trials where it has none. Two strings, so that a table can set the
    interval on a line of its own."""
    if math.isnan(row["rate"]):
        return "n/a", f"(n={int(row['n']):,})"
    return fmt(row["rate"]), f"[{fmt(row['ci_low'])}, {fmt(row['ci_high'])}]"
