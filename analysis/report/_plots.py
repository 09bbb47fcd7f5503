"""Report figures as PNG bytes.

Built with matplotlib's object API (`Figure`), not pyplot: no global figure state and
no display backend.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

import numpy as np
import pandas as pd
from matplotlib import rc_context, rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from matplotlib.typing import RcKeyType

from riskclass import ALL, group_label

from ._words import metric_short

_DPI = 90
# Sweeps of at most this many values have a tick at each.
_AT_SWEPT = 6
_SUPERSCRIPTS = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)
_Options = ParamSpec("_Options")


def _styled(*, grid: bool) -> Callable[[Callable[_Options, bytes]], Callable[_Options, bytes]]:
    """A figure function drawn with the report's settings, leaving matplotlib's as
    they were for other figures: glyphs rendered without the font's hinting program
    (FreeType runs it for every glyph of every label, and at this resolution the
    text reads the same without it), and ``grid``, gridlines on its axes."""
    settings: dict[RcKeyType, Any] = {"text.hinting": "no_hinting"}
    if grid:
        # Set before the axes are made, so that each tick is made with its gridline
        # showing: ``axis.grid`` afterwards updates every tick made so far.
        settings.update({"axes.grid": True, "grid.alpha": 0.3})

    def styled(draw: Callable[_Options, bytes]) -> Callable[_Options, bytes]:
        @wraps(draw)
        def drawn(*args: _Options.args, **kwargs: _Options.kwargs) -> bytes:
            with rc_context(settings):
                return draw(*args, **kwargs)

        return drawn

    return styled


def _power_of_ten(value: float, _position: object = None) -> str:
    """A log axis's tick label, 10 and its exponent in superscript digits ("10\u207b\u00b3");
    none between powers of ten. Plain text: matplotlib's default labels are
    mathtext, which it parses and lays out glyph by glyph (about 5% of a sweep's
    drawing under cProfile)."""
    if not value > 0:
        return ""
    exponent = round(math.log10(value))
    if not math.isclose(value, 10.0**exponent):
        return ""
    return "10" + str(exponent).translate(_SUPERSCRIPTS)


def _log(axis: Axes, which: str) -> None:
    """Log scale on the x or y axis (``which``), labelled by `_power_of_ten`."""
    (axis.set_xscale if which == "x" else axis.set_yscale)("log")
    (axis.xaxis if which == "x" else axis.yaxis).set_major_formatter(FuncFormatter(_power_of_ten))


def _png(
    figure: Figure,
    *,
    tight: bool = True,
    right: float = 0.4,
    bottom: float = 0.6,
    hspace: float = 0.6,
) -> bytes:
    buffer = io.BytesIO()
    # No software tag: the same figure gives the same bytes whatever matplotlib wrote it.
    # Fixed margins rather than a layout engine (laying out text costs more than drawing);
    # the tight bounding box then keeps rotated labels and colour bars from being cut
    # off. It draws the figure twice: figures whose margins (inches, so that they hold
    # a one-panel figure as well as three panels abreast) hold everything skip it
    # (``tight=False``).
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=1.0 / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - 0.75 / height,
        hspace=hspace,
        wspace=0.35,
    )
    figure.savefig(
        buffer,
        format="png",
        dpi=_DPI,
        bbox_inches="tight" if tight else None,
        metadata={"Software": None},
        # zlib's level 3 instead of 6: a third less time encoding, files 6% larger.
        pil_kwargs={"compress_level": 3},
    )
    return buffer.getvalue()


def _title(axis: Axes, text: str) -> None:
    """An axes title in its usual place. Saying so (``y=1.0``) spares matplotlib
    laying out every tick label to see whether one sits on top, where none does
    here: a fifth of a figure's drawing time."""
    axis.set_title(text, y=1.0)


def _panels(count: int, *, width: float = 4.2, height: float = 3.4) -> tuple[Figure, list[Axes]]:
    columns = min(count, 3)
    rows = -(-count // columns)
    figure = Figure(
        figsize=(width * columns, height * rows),
    )
    # Axes only for the panels drawn: a hidden one costs as much to make as a shown one.
    grid = figure.add_gridspec(rows, columns)
    return figure, [
        figure.add_subplot(grid[index // columns, index % columns]) for index in range(count)
    ]


@_styled(grid=True)
def det_figure(
    points: pd.DataFrame, title: str, *, threshold: float, colours: dict[str, str]
) -> bytes:
    """FNIR against FPIR (log-log), one panel per attribute, one curve per value; a dot
    marks each curve's operating threshold."""
    attributes = list(dict.fromkeys(points["attribute"]))
    figure, axes = _panels(len(attributes))
    for axis, attribute in zip(axes, attributes, strict=True):
        for value, curve in points[points["attribute"] == attribute].groupby("value", sort=False):
            label = group_label(str(attribute), str(value))
            colour = colours.get(label)
            shown = curve[(curve["fpir"] > 0) & (curve["fnir"] > 0)]
            axis.plot(shown["fpir"], shown["fnir"], label=str(value), color=colour)
            # Rates at the operating threshold are those at the lowest score at or above it.
            at = shown[shown["threshold"] >= threshold]
            if not at.empty:
                point = at.loc[at["threshold"].idxmin()]
                axis.plot(point["fpir"], point["fnir"], "o", color=colour, markersize=6)
        _log(axis, "x")
        _log(axis, "y")
        axis.set(xlabel="FPIR", ylabel="FNIR")
        _title(axis, attribute)
        # A gridline per decade: minor ticks on log axes (dozens per panel) cost more
        # to lay out than everything else the figure draws.
        axis.minorticks_off()
        axis.legend(fontsize=8, title=f"dot: threshold {threshold:g}", title_fontsize=7)
    figure.suptitle(title)
    return _png(figure, tight=False)


@_styled(grid=False)
def heatmap_figure(table: pd.DataFrame, title: str) -> bytes:
    """log10 FMR of every (probe, gallery member) pair of values, one panel per attribute,
    on one colour scale; each cell shows its FMR and 95% interval."""
    attributes = list(dict.fromkeys(table["attribute"]))
    figure, axes = _panels(len(attributes), width=4.4, height=3.8)
    with np.errstate(divide="ignore"):
        logs = np.log10(table["fmr"].to_numpy(dtype=float))
    finite = logs[np.isfinite(logs)]
    low, high = (finite.min(), finite.max()) if len(finite) else (-8.0, -1.0)
    image = None
    for axis, attribute in zip(axes, attributes, strict=True):
        rows = table[table["attribute"] == attribute]
        wide = rows.pivot(
            index="probe_value", columns="candidate_value", values=["fmr", "ci_low", "ci_high"]
        )
        grid, lows, highs = wide["fmr"], wide["ci_low"], wide["ci_high"]
        with np.errstate(divide="ignore"):
            shown = np.log10(grid.to_numpy(dtype=float))
        image = axis.imshow(
            np.where(np.isfinite(shown), shown, np.nan), cmap="viridis", vmin=low, vmax=high
        )
        axis.set_xticks(range(len(grid.columns)), grid.columns, rotation=30, fontsize=8)
        axis.set_yticks(range(len(grid.index)), grid.index, fontsize=8)
        axis.set(xlabel="list member's group", ylabel="probe's group")
        _title(axis, attribute)
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            dark = not np.isfinite(shown[i, j]) or shown[i, j] < (low + high) / 2
            axis.text(
                j,
                i,
                f"{value:.1e}\n[{lows.iat[i, j]:.1e},\n{highs.iat[i, j]:.1e}]",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    if image is not None:
        # Its own axes in the right margin, which `_png` leaves wide enough for it and
        # its labels, and the bottom one for the rotated labels: no tight bounding box,
        # which would draw the figure twice (a third of its time).
        width = figure.get_figwidth()
        bar = figure.add_axes((1 - 1.2 / width, 0.25, 0.16 / width, 0.5))
        figure.colorbar(image, cax=bar, label="log10 FMR (one scale, all panels)")
    figure.suptitle(title)
    return _png(figure, tight=False, right=1.6, bottom=0.9)


@_styled(grid=True)
def sweep_figure(
    table: pd.DataFrame,
    x: str,
    metrics: list[str],
    title: str,
    *,
    xlabel: str,
    colours: dict[str, str],
    marker: float | None = None,
    by_metric: bool = False,
) -> bytes:
    """Rates with 95% intervals against ``x``: one panel per (metric, attribute) that has
    trials. Log scale where a panel's rates span more than a decade; ``marker``, where
    given, is drawn as a dashed line (the operating threshold, the whole gallery).

    ``by_metric``: a column per metric and a row per attribute, the panels of a
    column sharing their x axis, so that its tick labels and label are drawn once,
    under the column, and each row names its attribute and groups once (a quarter
    less drawing than the panels one after another, which name everything in each).
    """
    table = table[(table["attribute"].str.count("&") == 0) & (table["n"] > 0)]
    panels = [
        (m, a)
        for m in metrics
        for a in dict.fromkeys(table["attribute"])
        if a != ALL and ((table["metric"] == m) & (table["attribute"] == a)).any()
    ]
    if by_metric and panels:
        columns = list(dict.fromkeys(m for m, _ in panels))
        rows = list(dict.fromkeys(a for _, a in panels))
        figure = Figure(figsize=(4.2 * len(columns), 2.4 * len(rows)))
        grid = figure.subplots(len(rows), len(columns), squeeze=False, sharex=True)
        cells = {(m, a): grid[i, j] for i, a in enumerate(rows) for j, m in enumerate(columns)}
        for (metric, attribute), axis in cells.items():
            if (metric, attribute) not in panels:
                axis.text(0.5, 0.5, "no trials", ha="center", va="center")
        axes = [cells[panel] for panel in panels]
    else:
        figure, axes = _panels(max(len(panels), 1))
    # A few swept values are the x axis's ticks: where the rates were measured.
    swept = sorted(table[x].unique())
    named: set[str] = set()
    # By metric: each row's last panel, which its legend goes beside.
    beside: dict[str, Axes] = {}
    for axis, (metric, attribute) in zip(axes, panels, strict=False):
        rows = table[(table["metric"] == metric) & (table["attribute"] == attribute)]
        for value, line in rows.groupby("value", sort=False):
            line = line.sort_values(x)
            _with_intervals(
                axis,
                line[x].to_numpy(dtype=float),
                line[["rate", "ci_low", "ci_high"]].to_numpy(dtype=float),
                label=str(value),
                colour=colours.get(group_label(str(attribute), str(value))),
            )
        positive = rows.loc[rows["rate"] > 0, "rate"]
        if len(positive) and positive.max() > 10 * positive.min():
            _log(axis, "y")
            _minor_grid(axis)
        else:
            # Ticks are most of a panel's drawing (each its lines and label): four
            # levels read a rate as well as the default eight.
            axis.yaxis.set_major_locator(MaxNLocator(4))
        # Shared x axes share their ticks: set once.
        if 1 < len(swept) <= _AT_SWEPT and not (by_metric and named):
            axis.set_xticks(swept)
        if marker is not None:
            axis.axvline(marker, color="grey", linestyle="--", linewidth=1)
        first = attribute not in named
        if by_metric:
            # The column's metric over its top panel, the row's attribute beside its first.
            if axis.get_subplotspec().is_first_row():
                _title(axis, metric_short(metric))
            if axis.get_subplotspec().is_last_row():
                axis.set_xlabel(xlabel)
            if first:
                axis.set_ylabel(str(attribute))
            beside[str(attribute)] = axis
        else:
            axis.set(xlabel=xlabel, ylabel=metric_short(metric))
            _title(axis, f"{metric_short(metric)} by {attribute}")
        # One legend per attribute, in its first panel: the other metrics' panels of
        # it show the same groups in the same colours (legends are a tenth of the
        # drawing).
        if first and not by_metric:
            axis.legend(fontsize=8)
        named.add(str(attribute))
    for axis in beside.values():
        # Right of its row, in a fixed place: where a legend goes inside a panel
        # ("best"), matplotlib tries every corner against every point drawn there
        # (a seventh of the figure's drawing).
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if not panels:
        axes[0].text(0.5, 0.5, "no trials", ha="center", va="center")
        axes[0].set_axis_off()
    figure.suptitle(title)
    if beside:
        # Rows of a column share their x axis: nothing to make room for between
        # them; the legends need room on the right.
        return _png(figure, tight=False, hspace=0.15, right=1.4)
    return _png(figure, tight=False)


def _with_intervals(
    axis: Axes, x: np.ndarray, rates: np.ndarray, *, label: str, colour: str | None
) -> None:
    """A line of ``rates`` (columns: rate, lower and upper bound) against ``x``, with a
    dot at each rate and each interval as a capped vertical bar: what
    ``errorbar`` draws, in three artists. ``errorbar`` makes a container of a line,
    two cap lines and a collection, and a legend draws all of them again."""
    rate, low, high = rates.T
    axis.vlines(x, low, high, colors=colour, linewidth=rcParams["lines.linewidth"])
    axis.plot(
        np.concatenate([x, x]),
        np.concatenate([low, high]),
        linestyle="none",
        marker="_",
        markersize=6,
        markeredgewidth=rcParams["lines.linewidth"],
        color=colour,
    )
    axis.plot(x, rate, marker="o", markersize=3, color=colour, label=label)


def _minor_grid(axis: Axes) -> None:
    """Gridlines at 2 and 5 times each power of ten of a log axis, as the grid of
    minor ticks there would draw them, in one collection and no minor ticks: on a log axis
    spanning more than a decade matplotlib labels no minor tick, and the ticks it
    builds (a dozen per panel, each with its lines and labels) cost a fifth of a
    sweep's drawing. Call once the panel's data are drawn: it fixes the limits."""
    low, high = axis.get_ylim()
    decades = 10.0 ** np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
    levels = np.outer(decades, [2.0, 5.0]).ravel()
    axis.hlines(
        levels[(levels > low) & (levels < high)],
        0,
        1,
        transform=axis.get_yaxis_transform(),
        colors=rcParams["grid.color"],
        linestyles=rcParams["grid.linestyle"],
        linewidth=rcParams["grid.linewidth"],
        alpha=0.3,
        zorder=0.5,
    )
    axis.set_ylim(low, high)
    axis.yaxis.set_minor_locator(NullLocator())


@_styled(grid=True)
def lorenz_figure(curves: dict[str, pd.DataFrame], title: str, colours: dict[str, str]) -> bytes:
    """Lorenz curves of the risk burden."""
    figure = Figure(
        figsize=(4.6, 4.2),
    )
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equal burden")
    for label, curve in curves.items():
        colour = colours.get(ALL if label == "all residents" else label)
        axis.plot(curve["population_share"], curve["burden_share"], label=label, color=colour)
    axis.set(xlabel="share of persons (least burdened first)", ylabel="share of burden")
    axis.legend(fontsize=8)
    _title(axis, title)
    return _png(figure, tight=False)


@_styled(grid=False)
def shares_figure(shares: pd.DataFrame, title: str) -> bytes:
    """Each group's share of false alerts, with its 95% interval, against its share of
    the population."""
    rows = shares[shares["attribute"].str.count("&") == 0]
    rows = rows[rows["attribute"] != "all"]
    labels = [f"{a}={v}" for a, v in zip(rows["attribute"], rows["value"], strict=True)]
    positions = np.arange(len(rows))
    figure = Figure(
        figsize=(max(5.0, 0.7 * len(rows)), 3.6),
    )
    axis = figure.subplots()
    # Grey and red, not the group colours: the bars are two measures, not two groups.
    axis.bar(
        positions - 0.2,
        rows["population_share"],
        width=0.4,
        color="0.6",
        label="share of residents",
    )
    share = rows["false_alert_share"].to_numpy()
    axis.bar(
        positions + 0.2,
        share,
        width=0.4,
        color="firebrick",
        label="share of false alerts (95% interval)",
        yerr=np.vstack(
            [share - rows["share_ci_low"].to_numpy(), rows["share_ci_high"].to_numpy() - share]
        ),
        error_kw={"elinewidth": 0.8, "capsize": 2},
    )
    axis.set_xticks(positions, labels, rotation=35, ha="right", fontsize=8)
    axis.legend(fontsize=8)
    _title(axis, title)
    return _png(figure)
