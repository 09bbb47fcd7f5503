"""Group colours, the same in every figure of a page."""

from __future__ import annotations

import pandas as pd

from riskclass import ALL, group_label

_CYCLE = [f"C{i}" for i in range(10)]


def group_colours(table: pd.DataFrame) -> dict[str, str]:
    """One colour per group label (``attribute=value``), the same in every figure.

    Values of one attribute get distinct colours from matplotlib's tab10 cycle, in
    the order the table lists them; "all" is black. Matplotlib is not needed to
    choose them (a report whose figures other processes draw never loads it).

    Examples
    --------
    >>> table = pd.DataFrame({"attribute": ["all", "sex", "sex"], "value": ["all", "f", "m"]})
    >>> group_colours(table)
    {'all': 'black', 'sex=f': 'C0', 'sex=m': 'C1'}
    """
    colours = {ALL: "black"}
    singles = table[~table["attribute"].str.contains("&") & (table["attribute"] != ALL)]
    for attribute, rows in singles.groupby("attribute", sort=False):
        for i, value in enumerate(dict.fromkeys(rows["value"])):
            colours[group_label(str(attribute), str(value))] = _CYCLE[i % len(_CYCLE)]
    return colours
