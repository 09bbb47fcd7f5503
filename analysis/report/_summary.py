"""The report's plain-language summary: a few sentences a reader can quote."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import ALL, Scenario, group_label, records

from .._metrics import overall
from ._format import fmt


def _single(table: pd.DataFrame) -> pd.Series:
    """Rows about one attribute (not an intersection, not everyone)."""
    return ~table["attribute"].str.contains("&") & (table["attribute"] != ALL)


def run_summary(
    scenario: Scenario,
    disparities: pd.DataFrame,
    shares: pd.DataFrame,
    burden_groups: pd.DataFrame,
    burden: pd.DataFrame,
) -> list[str]:
    """One line per deployment on its key metric's largest disparity, and one on the burden."""
    lines = []
    operating = overall(disparities)
    for deployment in scenario.deployments:
        info = deployment.info
        rows = operating[
            (operating["deployment"] == deployment.name)
            & (operating["metric"] == info.key_metric)
            & _single(operating)
            & operating["ratio"].notna()
        ].sort_values(["significant", "ratio"], ascending=False)
        if rows.empty:
            lines.append(f"{deployment.name}: too few {info.key_words} to compare groups.")
            continue
        top = rows.iloc[0]
        share = shares[
            (shares["deployment"] == deployment.name)
            & (shares["attribute"] == top["attribute"])
            & (shares["value"] == top["value"])
        ].iloc[0]
        verdict = "a significant difference" if top["significant"] else "not significant"
        line = (
            f"{deployment.name}: residents with {group_label(top['attribute'], top['value'])} had "
            f"{fmt(top['rate'])} {info.key_words}, {top['ratio']:.1f} times "
            f"{group_label(top['attribute'], top['reference'])} ({fmt(top['reference_rate'])}; "
            f"95% interval {fmt(top['ci_low'])} to {fmt(top['ci_high'])}, {verdict})"
        )
        if info.key_metric == "false_alerts_per_1000_per_day" and np.isfinite(
            share["false_alert_share"]
        ):
            line += (
                f"; they are {share['population_share']:.0%} of residents and had "
                f"{share['false_alert_share']:.0%} of the false alerts"
            )
        lines.append(line + ".")
    singles = burden_groups[_single(burden_groups)]
    if burden["burden"].sum() > 0 and not singles.empty:
        top = singles.sort_values("burden_to_population", ascending=False).iloc[0]
        everyone = burden_groups[burden_groups["attribute"] == ALL].iloc[0]
        lines.append(
            f"Risk burden: {group_label(top['attribute'], top['value'])} residents are "
            f"{top['population_share']:.0%} of the population and bear {top['burden_share']:.0%} "
            f"of all wrongful consequences ({top['burden_to_population']:.1f} times their share); "
            f"{everyone['burdened_share']:.2%} of all residents were burdened at least once, "
            f"{int(everyone['multi_deployment_burdened']):,} by more than one deployment; "
            f"Gini of the burden {everyone['gini']:.2f}."
        )
    return lines


def video_summary(metrics: pd.DataFrame, disparities: pd.DataFrame) -> list[str]:
    """Per detector: missed detections by light, and its largest significant disparity."""
    lines = []
    for detector in dict.fromkeys(metrics["deployment"]):
        everyone = metrics[
            (metrics["deployment"] == detector)
            & (metrics["attribute"] == ALL)
            & metrics["lighting"].notna()
        ]
        by_light = ", ".join(f"{row.lighting} {row.rate:.0%}" for row in records(everyone))
        lines.append(f"{detector} missed this share of faces, by light: {by_light}.")
        everywhere = overall(disparities)
        rows = everywhere[
            (everywhere["deployment"] == detector)
            & (everywhere["metric"] == "missed_detection")
            & _single(everywhere)
            & everywhere["significant"]
        ].sort_values("ratio", ascending=False)
        if not rows.empty:
            top = rows.iloc[0]
            lines.append(
                f"{detector}: faces with {group_label(top['attribute'], top['value'])} were "
                f"missed {top['ratio']:.3g} times as often as "
                f"{group_label(top['attribute'], top['reference'])} "
                f"({top['rate']:.0%} against {top['reference_rate']:.0%}; 95% interval "
                f"{fmt(top['ci_low'])} to {fmt(top['ci_high'])})."
            )
    return lines
