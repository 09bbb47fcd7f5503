"""The what-if page of `riskclass compare`: runs side by side, and what differs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from riskclass import group_label, records

from ._format import fmt
from ._words import metric_name


def compare_context(
    table: pd.DataFrame, differences: pd.DataFrame, labels: Sequence[str], version: str
) -> dict[str, Any]:
    """The template's context: per deployment, one row per group and metric with each
    run's rate and interval and each later run's change over the first."""
    deployments = []
    for deployment, mine in table.groupby("deployment", sort=False):
        rows = []
        for (attribute, value, metric), group in mine.groupby(
            ["attribute", "value", "metric"], sort=False
        ):
            by_run = {row.run: row for row in records(group)}
            cells = []
            for label in labels:
                row = by_run.get(label)
                if row is None:
                    cells.append(("not in this run", "", ""))
                    continue
                interval = f"[{fmt(row.ci_low)}, {fmt(row.ci_high)}]"
                change = (
                    ""
                    if pd.isna(row.change_low)
                    else f"x{fmt(row.change)} [{fmt(row.change_low)}, {fmt(row.change_high)}]"
                )
                cells.append((fmt(row.rate), interval, change))
            rows.append(
                {
                    "group": group_label(str(attribute), str(value)),
                    "metric": metric_name(str(metric)),
                    "cells": cells,
                    "significant": bool(group["significant"].any()),
                }
            )
        deployments.append({"name": deployment, "rows": rows})
    return {
        "labels": list(labels),
        "deployments": deployments,
        "differences": [
            {"key": row["key"], "values": [_setting(row[label]) for label in labels]}
            for _, row in differences.iterrows()
        ],
        "version": version,
    }


def _setting(value: object) -> str:
    """A config value as the page shows it; a key a run leaves unset reads so."""
    return "not set" if value is None or value == "" else str(value)
