"""The page of a sweep: rates against each swept value, one line per group, intervals."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import pandas as pd

from riskclass import group_label

from ._colours import group_colours
from ._context import _draw
from ._format import fmt
from ._html import figure, render_report

# The rates a sweep plots, as named in its table, and how the page names them.
SWEPT_METRICS = {
    "false_alerts_per_1000_per_day": "false alerts per 1,000 residents per day",
    "fpir": "FPIR (non-mated searches that alert)",
    "fnir": "FNIR (mated searches whose mate is missed)",
}


def sweep_page(
    table: pd.DataFrame, paths: Sequence[str], *, title: str, pool: Executor | None = None
) -> str:
    """HTML for a sweep's combined table (see `riskclass.commands.combine`).

    The first swept path is the x axis; every combination of the others gets its
    own figures. Bands are 95% intervals over seeds where there are several.
    ``pool``, where given, draws the figures (most of the page's time), all at
    once; without one they are drawn here. Either way they are the same PNG bytes.
    """
    x, others = paths[0], list(paths[1:])
    singles = table[~table["attribute"].str.contains("&")].rename(
        columns={"pooled": "rate", "denominator": "n"}
    )
    # One colour per group across the page, as in the run report.
    colours = group_colours(singles)
    parts = list(singles.groupby(others, sort=False)) if others else [((), singles)]
    drawn = []
    for combo, part in parts:
        values = combo if isinstance(combo, tuple) else (combo,)
        fixed = ", ".join(f"{path} = {value}" for path, value in zip(others, values, strict=True))
        for deployment, rows in part.groupby("deployment", sort=False):
            heading = f"{deployment}" + (f" ({fixed})" if fixed else "")
            image = _draw(
                pool,
                "sweep_figure",
                {"xlabel": x, "colours": colours, "by_metric": True},
                rows,
                x,
                list(SWEPT_METRICS),
                f"{heading}: against {x}",
            )
            drawn.append((heading, image, rows))
    sections = [
        {
            "heading": heading,
            "figure": figure(
                image(),
                alt=f"rates of {heading} against {x}",
                caption="Pooled rate over seeds per group, with its 95% interval over "
                "seeds (Student's t; none with one seed).",
            ),
            "rows": _rows(rows, paths),
        }
        for heading, image, rows in drawn
    ]
    return render_report(
        {"title": title, "paths": list(paths), "metrics": SWEPT_METRICS, "sections": sections},
        template="sweep.html.j2",
    )


def _rows(rows: pd.DataFrame, paths: Sequence[str]) -> list[dict[str, object]]:
    # Dicts, not records: swept paths such as "algorithm.threshold" are column names.
    return [
        {
            "setting": ", ".join(f"{path} = {r[path]}" for path in paths),
            "group": group_label(r["attribute"], r["value"]),
            "metric": SWEPT_METRICS[r["metric"]],
            "rate": fmt(r["rate"]),
            "interval": f"{fmt(r['ci_low'])} to {fmt(r['ci_high'])}" if r["interval"] else "n/a",
            "spread": fmt(r["sd"]),
            "seeds": r["seeds"],
            "counts": f"{r['numerator']:,.0f} / {r['n']:,.0f}",
        }
        for r in rows.to_dict("records")
    ]
