"""The page of a dynamics run: trajectories by group, amplification, inequality, risk classes."""

from __future__ import annotations

import pandas as pd

from riskclass import ALL, group_label

from .._dynamics import DynamicsTables
from . import _plots
from ._colours import group_colours
from ._format import fmt
from ._html import figure, render_report

# Trajectory panels: column of `TRAJECTORY_COLUMNS` and how the page names it.
TRAJECTORY_PANELS = {
    "wrongly_listed_share": "share wrongly listed after the period",
    "listed_share": "share listed after the period",
    "mean_damages": "damages per person in the period",
    "mean_benefits": "benefits per person in the period",
    "mean_score": "mean score after the period",
    "below_creditworthy_share": "share below the creditworthy cut",
}


def trajectory_figure(trajectories: pd.DataFrame, attribute: str, colours: dict[str, str]) -> bytes:
    """One panel per trajectory, one line per value of ``attribute`` and one for all."""
    rows = trajectories[trajectories["attribute"].isin([attribute, ALL])]
    figure_, axes = _plots._panels(len(TRAJECTORY_PANELS))
    for axis, (column, title) in zip(axes, TRAJECTORY_PANELS.items(), strict=True):
        for (group, value), line in rows.groupby(["attribute", "value"], sort=False):
            label = group_label(str(group), str(value))
            axis.plot(line["period"], line[column], label=label, color=colours.get(label, "grey"))
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("period")
    axes[0].legend(fontsize=8)
    return _plots._png(figure_)


def lorenz_figure(lorenz: pd.DataFrame) -> bytes:
    """Lorenz curves of cumulative damages and benefits over the run."""
    figure_, (axis,) = _plots._panels(1, width=4.6, height=4.0)
    axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="equal")
    axis.plot(lorenz["population_share"], lorenz["damages_share"], label="damages")
    axis.plot(lorenz["population_share"], lorenz["benefits_share"], label="benefits")
    axis.set_xlabel("share of persons, least first")
    axis.set_ylabel("share of the total")
    axis.legend(fontsize=8)
    return _plots._png(figure_)


def dynamics_page(tables: DynamicsTables, *, title: str, feedback: bool) -> str:
    """HTML for a dynamics run: its trajectories, risk positions and classes."""
    colours = group_colours(tables.trajectories)
    singles = tables.trajectories[
        (tables.trajectories["attribute"] != ALL)
        & ~tables.trajectories["attribute"].str.contains("&")
    ]
    figures = [
        figure(
            trajectory_figure(tables.trajectories, str(attribute), colours),
            alt=f"trajectories by {attribute}",
            caption=f"By {attribute}, per period: listings after it, damages and benefits in it, "
            "the score after it.",
        )
        for attribute in dict.fromkeys(singles["attribute"])
    ]
    figures.append(
        figure(
            lorenz_figure(tables.lorenz),
            alt="Lorenz curves of damages and benefits",
            caption="Lorenz curves of each person's damages and benefits over the whole run.",
        )
    )
    return render_report(
        {
            "title": title,
            "feedback": feedback,
            "figures": figures,
            "amplification": _records(tables.amplification),
            "first_listing": _records(tables.first_listing),
            "inequality": _records(tables.inequality),
            "domains": _records(tables.domains),
            "classes": _records(tables.classes),
            "composition": _records(tables.composition[tables.composition["ratio"] >= 1.0]),
        },
        template="dynamics.html.j2",
    )


def _records(table: pd.DataFrame) -> list[dict[str, str]]:
    return [
        {
            str(column): fmt(value) if isinstance(value, float) else str(value)
            for column, value in row.items()
        }
        for row in table.to_dict("records")
    ]
