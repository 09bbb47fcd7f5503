"""What the HTML template shows: tables as rows of formatted cells, and the figures.

Computing is done before this (the tables); drawing is `_plots`; this module only
chooses and arranges what a reader sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from riskclass import Scenario, group_label, records

from .._burden import lorenz_curve
from .._metrics import overall
from .._run_counts import DeploymentSpec
from . import _plots
from ._format import fmt, with_interval
from ._html import figure

_METRICS_SHOWN = (
    "fta",
    "fpir",
    "fnir",
    "fmr",
    "fnmr",
    "alert_precision",
    "false_alerts_per_1000_per_day",
)

_FIGURES: list[tuple[str, Callable[[pd.DataFrame, str], bytes], str, str]] = [
    (
        "det_points",
        lambda t, name: _plots.det_figure(t, f"DET: {name}"),
        "DET curves",
        "FNIR against FPIR as the threshold moves, per group.",
    ),
    (
        "impostor_fmr",
        lambda t, name: _plots.heatmap_figure(t, f"Impostor FMR: {name}"),
        "impostor heatmap",
        "FMR of comparisons between a probe of one group and a gallery member of another.",
    ),
    (
        "threshold_sweep",
        lambda t, name: _plots.sweep_figure(
            t, "threshold", ["fpir", "fnir"], f"Threshold sweep: {name}", xlabel="threshold"
        ),
        "threshold sweep",
        "Per-group FPIR and FNIR at each threshold, with 95% intervals.",
    ),
    (
        "gallery_sweep",
        lambda t, name: _plots.sweep_figure(
            t, "gallery_size", ["fpir"], f"Gallery-size sweep: {name}", xlabel="gallery size"
        ),
        "gallery-size sweep",
        "Per-group FPIR on nested random subsamples of the gallery (searches of unlisted persons).",
    ),
    (
        "false_alert_shares",
        lambda t, name: _plots.shares_figure(t, f"False alerts: {name}"),
        "false alert shares",
        "Each group's share of the false alerts against its share of residents.",
    ),
]

EVENT_METHODS = (
    "FPIR: non-mated searches with a rank-1 candidate at or above the threshold, over "
    "non-mated searches. FNIR: mated searches whose mate is not returned at rank 1 at or "
    "above the threshold. FMR/FNMR: per comparison. FTA: captures with no usable face. "
    "Intervals: 95%, from a bootstrap that resamples persons (a person's repeated sightings "
    "stay together), widened to the Wilson interval of the pooled counts where that is wider; "
    "impostor FMR (per group and in the heatmap) also resamples gallery members, "
    "independently of probe persons, since one member can draw many false matches. "
    "Disparity ratios follow NIST: a group's rate over the reference group's (the best-off "
    "group unless configured), worse over better. Groups with no trials show n = 0 and no rate."
)
VIDEO_METHODS = (
    "Missed detection: ground-truth faces (per frame) that a detector did not find, matched "
    "by box overlap (intersection over union at least 0.3). Intervals: 95%, from a bootstrap "
    "that resamples faces (one person in one scene: its frames share a face, a size and a "
    "light), widened to the Wilson interval of the pooled counts where that is wider. "
    "Disparity ratios: a group's missed-detection rate over the best-off group's."
)


def _no_intersections(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table["attribute"].str.contains("&")]


def _group_rows(mine: pd.DataFrame, shown: Sequence[str], *, n_from: str) -> list[dict[str, Any]]:
    """One row per group: its trials (those of metric ``n_from``) and each shown rate."""
    rows = []
    for (attribute, value), group in mine.groupby(["attribute", "value"], sort=False):
        by_metric = {row["metric"]: row for _, row in group.iterrows()}
        n = int(by_metric[n_from]["n"]) if n_from in by_metric else 0
        cells = [f"{n:,}", *(with_interval(by_metric[m]) for m in shown)]
        rows.append({"group": group_label(str(attribute), str(value)), "cells": cells})
    return rows


def _disparity_rows(flagged: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "metric": r.metric
            if pd.isna(lighting := getattr(r, "lighting", None))
            else f"{r.metric} ({lighting})",
            "group": group_label(r.attribute, r.value),
            "reference": group_label(r.attribute, r.reference),
            "rate": fmt(r.rate),
            "reference_rate": fmt(r.reference_rate),
            "ratio": fmt(r.ratio),
            "interval": f"{fmt(r.ci_low)} to {fmt(r.ci_high)}",
            "significant": r.significant,
        }
        for r in records(flagged)
    ]


def run_context(
    *,
    run_dir: str,
    scenario: Scenario,
    version: str,
    specs: Sequence[DeploymentSpec],
    tables: dict[str, pd.DataFrame],
    burden: pd.DataFrame,
    summary: list[str],
    persons: pd.DataFrame,
) -> dict[str, Any]:
    """The template's context for a run's report."""
    deployments = []
    metrics = _no_intersections(tables["metrics"])
    disparities = _no_intersections(tables["disparities"])
    for spec in specs:
        mine = metrics[metrics["deployment"] == spec.name]
        shown = [m for m in _METRICS_SHOWN if m in set(mine["metric"])]
        flagged = overall(disparities[disparities["deployment"] == spec.name])
        figures = [
            figure(
                make(table[table["deployment"] == spec.name], spec.name), alt=alt, caption=caption
            )
            for key, make, alt, caption in _FIGURES
            if (table := tables[key])["deployment"].eq(spec.name).any()
        ]
        deployments.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "note": spec.info.note,
                "columns": ["n (events)", *shown],
                "rows": _group_rows(mine, shown, n_from="fta"),
                "figures": figures,
                "disparities": _disparity_rows(flagged),
            }
        )
    burden_rows = [
        {
            "group": group_label(r.attribute, r.value),
            "cells": [
                f"{r.persons:,}",
                fmt(r.mean_burden),
                f"{r.burdened_share:.2%}",
                f"{r.burden_share:.1%}",
                f"{r.population_share:.1%}",
                fmt(r.burden_to_population),
                f"{r.multi_deployment_burdened:,}",
                fmt(r.gini),
            ],
        }
        for r in records(_no_intersections(tables["burden_by_group"]))
    ]
    return {
        "scenario": scenario.name,
        "run_dir": run_dir,
        "seed": scenario.seed,
        "source": "Run",
        "methods": EVENT_METHODS,
        "scale": f"{scenario.population.size:,} residents · {scenario.days} days",
        "version": version,
        "summary": summary,
        "deployments": deployments,
        "burden": burden_rows,
        "burden_figures": _burden_figures(scenario, burden, persons),
        "costs": scenario.report.costs or "1 per wrongful consequence",
    }


def _burden_figures(
    scenario: Scenario, burden: pd.DataFrame, persons: pd.DataFrame
) -> list[dict[str, str]]:
    if burden["burden"].sum() == 0:
        return []
    values = burden["burden"].to_numpy()
    curves = {"all residents": lorenz_curve(values)}
    first = next(iter(scenario.population.attributes))
    labels = persons[first].astype(str)
    for value in sorted(labels.unique()):
        curves[group_label(first, value)] = lorenz_curve(values[(labels == value).to_numpy()])
    return [
        figure(
            _plots.lorenz_figure(curves, "Lorenz curves of the risk burden"),
            alt="Lorenz curves of the risk burden",
            caption="How unevenly wrongful consequences fall: the further below the "
            "diagonal, the more concentrated.",
        )
    ]


def video_context(
    *,
    run_dir: str,
    scenario: Scenario,
    version: str,
    tables: dict[str, pd.DataFrame],
    summary: list[str],
    faces: int,
    scenes: int,
) -> dict[str, Any]:
    """The template's context for rendered video: detectors in place of deployments."""
    metrics = _no_intersections(tables["metrics"])
    disparities = _no_intersections(tables["disparities"])
    levels = dict(scenario.video.lighting)
    deployments = []
    for detector in dict.fromkeys(metrics["deployment"]):
        mine = metrics[metrics["deployment"] == detector]
        # One column per light: the template's table shows metrics as columns.
        by_light = mine.assign(metric=mine["lighting"].fillna("all light"))
        shown = list(dict.fromkeys(by_light["metric"]))
        curve = mine[mine["lighting"].notna()].assign(light=lambda t: t["lighting"].map(levels))
        image = _plots.sweep_figure(
            curve,
            "light",
            ["missed_detection"],
            f"Missed detections: {detector}",
            xlabel="light level",
        )
        deployments.append(
            {
                "name": detector,
                "kind": "face detector",
                "note": "",
                "columns": ["n (face-frames)", *(f"missed: {light}" for light in shown)],
                "rows": _group_rows(by_light, shown, n_from="all light"),
                "figures": [
                    figure(
                        image,
                        alt=f"missed detections of {detector} by light",
                        caption="Share of faces the detector missed at each light level, "
                        "per group.",
                    )
                ],
                "disparities": _disparity_rows(disparities[disparities["deployment"] == detector]),
            }
        )
    return {
        "scenario": scenario.name,
        "run_dir": run_dir,
        "seed": scenario.seed,
        "source": "Rendered video",
        "methods": VIDEO_METHODS,
        "scale": f"{faces:,} faces in {scenes} scenes",
        "version": version,
        "summary": summary,
        "deployments": deployments,
        "burden": [],
        "burden_figures": [],
        "costs": "",
    }
