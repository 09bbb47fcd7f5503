"""Report figures as PNG bytes.

Built with matplotlib's object API (`Figure`), not pyplot: no global figure state and
no display backend.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

_DPI = 90


def _png(figure: Figure, *, tight: bool = True) -> bytes:
    buffer = io.BytesIO()
    # No software tag: the same figure gives the same bytes whatever matplotlib wrote it.
    # Fixed margins rather than a layout engine (laying out text costs more than drawing);
    # the tight bounding box then keeps rotated labels and colour bars from being cut
    # off. It draws the figure twice: grids of plain panels, which the margins hold,
    # skip it (``tight=False``).
    height = figure.get_figheight()
    figure.subplots_adjust(
        left=0.08, right=0.97, bottom=0.6 / height, top=1 - 0.75 / height, hspace=0.6, wspace=0.35
    )
    figure.savefig(
        buffer,
        format="png",
        dpi=_DPI,
        bbox_inches="tight" if tight else None,
        metadata={"Software": None},
    )
    return buffer.getvalue()


def _panels(count: int, *, width: float = 4.2, height: float = 3.4) -> tuple[Figure, list[Axes]]:
    columns = min(count, 3)
    rows = -(-count // columns)
    figure = Figure(
        figsize=(width * columns, height * rows),
    )
    axes = figure.subplots(rows, columns, squeeze=False)
    for extra in axes.ravel()[count:]:
        extra.set_visible(False)
    return figure, list(axes.ravel()[:count])


def det_figure(points: pd.DataFrame, title: str) -> bytes:
    """FNIR against FPIR (log-log), one panel per attribute, one curve per value."""
    attributes = list(dict.fromkeys(points["attribute"]))
    figure, axes = _panels(len(attributes))
    for axis, attribute in zip(axes, attributes, strict=True):
        for value, curve in points[points["attribute"] == attribute].groupby("value", sort=False):
            shown = curve[(curve["fpir"] > 0) & (curve["fnir"] > 0)]
            axis.plot(shown["fpir"], shown["fnir"], label=str(value))
        axis.set(xscale="log", yscale="log", xlabel="FPIR", ylabel="FNIR", title=attribute)
        # A gridline per decade: minor ticks on log axes (dozens per panel) cost more
        # to lay out than everything else the figure draws.
        axis.minorticks_off()
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title)
    return _png(figure, tight=False)


def heatmap_figure(table: pd.DataFrame, title: str) -> bytes:
    """log10 FMR of every (probe, gallery member) pair of values, one panel per attribute."""
    attributes = list(dict.fromkeys(table["attribute"]))
    figure, axes = _panels(len(attributes), width=3.8, height=3.4)
    for axis, attribute in zip(axes, attributes, strict=True):
        grid = table[table["attribute"] == attribute].pivot(
            index="probe_value", columns="candidate_value", values="fmr"
        )
        with np.errstate(divide="ignore"):
            shown = np.log10(grid.to_numpy(dtype=float))
        image = axis.imshow(np.where(np.isfinite(shown), shown, np.nan), cmap="magma")
        axis.set_xticks(range(len(grid.columns)), grid.columns, rotation=30, fontsize=8)
        axis.set_yticks(range(len(grid.index)), grid.index, fontsize=8)
        axis.set(xlabel="gallery member", ylabel="probe", title=attribute)
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            axis.text(j, i, f"{value:.1e}", ha="center", va="center", fontsize=7, color="cyan")
        figure.colorbar(image, ax=axis, label="log10 FMR", shrink=0.8)
    figure.suptitle(title)
    return _png(figure)


def sweep_figure(
    table: pd.DataFrame, x: str, metrics: list[str], title: str, *, xlabel: str
) -> bytes:
    """Rates with 95% intervals against ``x``: one panel per (metric, attribute)."""
    table = table[table["attribute"].str.count("&") == 0]
    panels = [(m, a) for m in metrics for a in dict.fromkeys(table["attribute"]) if a != "all"]
    figure, axes = _panels(len(panels))
    for axis, (metric, attribute) in zip(axes, panels, strict=True):
        rows = table[(table["metric"] == metric) & (table["attribute"] == attribute)]
        for value, line in rows.groupby("value", sort=False):
            line = line.sort_values(x)
            axis.errorbar(
                line[x],
                line["rate"],
                yerr=[line["rate"] - line["ci_low"], line["ci_high"] - line["rate"]],
                label=str(value),
                capsize=3,
                marker="o",
                markersize=3,
            )
        axis.set(xlabel=xlabel, ylabel=metric.upper(), title=f"{metric.upper()} by {attribute}")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title)
    return _png(figure, tight=False)


def lorenz_figure(curves: dict[str, pd.DataFrame], title: str) -> bytes:
    """Lorenz curves of the risk burden."""
    figure = Figure(
        figsize=(4.6, 4.2),
    )
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equal burden")
    for label, curve in curves.items():
        axis.plot(curve["population_share"], curve["burden_share"], label=label)
    axis.set(xlabel="share of persons (least burdened first)", ylabel="share of burden")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title)
    return _png(figure)


def shares_figure(shares: pd.DataFrame, title: str) -> bytes:
    """Each group's share of false alerts against its share of the population."""
    rows = shares[shares["attribute"].str.count("&") == 0]
    rows = rows[rows["attribute"] != "all"]
    labels = [f"{a}={v}" for a, v in zip(rows["attribute"], rows["value"], strict=True)]
    positions = np.arange(len(rows))
    figure = Figure(
        figsize=(max(5.0, 0.7 * len(rows)), 3.6),
    )
    axis = figure.subplots()
    axis.bar(positions - 0.2, rows["population_share"], width=0.4, label="share of residents")
    axis.bar(positions + 0.2, rows["false_alert_share"], width=0.4, label="share of false alerts")
    axis.set_xticks(positions, labels, rotation=35, ha="right", fontsize=8)
    axis.legend(fontsize=8)
    axis.set_title(title)
    return _png(figure)
