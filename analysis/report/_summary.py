"""The report's plain-language summary: a few sentences a reader can quote."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from riskclass import ALL, Scenario, group_label, records

from .._metrics import overall
from ._format import fmt, ratio_interval
from ._words import metric_name


def _single(table: pd.DataFrame) -> pd.Series:
    """Rows about one attribute (not an intersection, not everyone)."""
    return ~table["attribute"].str.contains("&") & (table["attribute"] != ALL)


def disparity_sentence(deployment: str, rate: str, top: pd.Series, *, within: str = "") -> str:
    """One disparity of the rate worded ``rate`` in words: both rates, the reference
    named as such, and the ratio with its own interval right beside it, then the
    interval adjusted for the other ratios of the metric, which decides whether it
    is significant."""
    verdict = "significant" if top["significant"] else "not significant"
    return (
        f"{deployment}: {rate}{within} was "
        f"{fmt(top['rate'])} for {group_label(top['attribute'], top['value'])} against "
        f"{fmt(top['reference_rate'])} for {group_label(top['attribute'], top['reference'])} "
        f"(the reference group): a ratio of {fmt(top['ratio'])} "
        f"(95% interval of the ratio {ratio_interval(top['ci_low'], top['ci_high'])}; "
        f"{ratio_interval(top['adjusted_low'], top['adjusted_high'])} adjusted for the "
        f"other ratios of this rate in the deployment, {verdict})"
    )


def headline(disparities: pd.DataFrame, deployment: str, metric: str) -> pd.Series | None:
    """The largest disparity of ``metric`` between single-attribute groups, significant
    ones first; None where no group has a ratio."""
    operating = overall(disparities)
    rows = operating[
        (operating["deployment"] == deployment)
        & (operating["metric"] == metric)
        & _single(operating)
        & operating["ratio"].notna()
    ].sort_values(["significant", "ratio"], ascending=False)
    return None if rows.empty else rows.iloc[0]


def run_summary(
    scenario: Scenario,
    disparities: pd.DataFrame,
    shares: pd.DataFrame,
    burden_groups: pd.DataFrame,
    burden: pd.DataFrame,
    *,
    alternatives: Sequence[Sequence[str]] = (),
) -> list[str]:
    """One line per deployment on its key metric's largest disparity, and one on the burden.

    ``alternatives``: sets of deployments that are alternatives of one another (see
    `alternative_deployments`); only the first of each counts in the burden.
    """
    lines = []
    for deployment in scenario.deployments:
        info = deployment.info
        top = headline(disparities, deployment.name, info.key_metric)
        if top is None:
            lines.append(
                f"{deployment.name}: too few errors to compare groups on {info.key_words}."
            )
            continue
        line = disparity_sentence(deployment.name, info.key_words, top)
        share = shares[
            (shares["deployment"] == deployment.name)
            & (shares["attribute"] == top["attribute"])
            & (shares["value"] == top["value"])
        ].iloc[0]
        if info.key_metric == "false_alerts_per_1000_per_day" and np.isfinite(
            share["false_alert_share"]
        ):
            line += (
                f"; they are {share['population_share']:.0%} of residents and had "
                f"{share['false_alert_share']:.0%} of the false alerts (95% interval "
                f"{share['share_ci_low']:.0%} to {share['share_ci_high']:.0%})"
            )
        lines.append(line + ".")
    singles = burden_groups[_single(burden_groups)]
    if burden["burden"].sum() > 0 and not singles.empty:
        top = singles.sort_values("burden_to_population", ascending=False).iloc[0]
        everyone = burden_groups[burden_groups["attribute"] == ALL].iloc[0]
        counted = "".join(
            f" ({', '.join(rest)} are alternatives of {first}, not added to it)"
            for first, *rest in alternatives
        )
        lines.append(
            f"Risk burden{counted}: {group_label(top['attribute'], top['value'])} residents are "
            f"{top['population_share']:.0%} of the population and bear {top['burden_share']:.0%} "
            f"of all wrongful consequences ({top['burden_to_population']:.1f} times their share); "
            f"{everyone['burdened_share']:.2%} of all residents were burdened (had at least one "
            f"wrongful consequence), {int(everyone['multi_deployment_burdened']):,} in more than "
            f"one deployment; Gini of the burden {everyone['gini']:.2f}."
        )
    return lines


def video_summary(
    metrics: pd.DataFrame, disparities: pd.DataFrame, stratified: pd.DataFrame
) -> list[str]:
    """Per detector: missed detections by light, and its largest disparity compared
    within light levels (``stratified``, see `stratified_disparities`), since the
    groups' mix of light levels may differ."""
    lines = []
    for detector in dict.fromkeys(metrics["deployment"]):
        everyone = metrics[
            (metrics["deployment"] == detector)
            & (metrics["attribute"] == ALL)
            & metrics["lighting"].notna()
        ]
        by_light = ", ".join(f"{row.lighting} {row.rate:.0%}" for row in records(everyone))
        lines.append(f"{detector} missed this share of faces, by light: {by_light}.")
        top = headline(stratified, detector, "missed_detection")
        if top is None:
            continue
        rates = metrics[
            (metrics["deployment"] == detector)
            & (metrics["attribute"] == top["attribute"])
            & metrics["lighting"].notna()
        ]
        per_light = "; ".join(
            f"{lighting}: {_percent(rows, top['value'])} against {_percent(rows, top['reference'])}"
            for lighting, rows in rates.groupby("lighting", sort=False)
        )
        lines.append(
            disparity_sentence(
                detector,
                metric_name("missed_detection"),
                top,
                within=" at the same light (Mantel-Haenszel, rates weighted over the light "
                "levels both groups appear in)",
            )
            + (f"; per light level, {per_light}" if per_light else "")
            + "."
        )
    return lines


def _percent(rows: pd.DataFrame, value: str) -> str:
    """The rate of ``value``'s row as a percentage, or "no faces"."""
    row = rows[rows["value"] == value]
    if row.empty or not np.isfinite(row["rate"].iloc[0]):
        return "no faces"
    return f"{row['rate'].iloc[0]:.0%}"
