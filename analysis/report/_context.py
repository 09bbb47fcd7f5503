"""What the HTML template shows: tables as rows of formatted cells, and the figures.

Computing is done before this (the tables); drawing is `_plots`; this module only
chooses and arranges what a reader sees.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from typing import Any

import pandas as pd

from riskclass import Scenario, group_label, records

from .._burden import lorenz_curve
from .._metrics import HIGHER_IS_WORSE, overall
from .._run_counts import DeploymentSpec
from ._colours import group_colours
from ._drawing import PLOTS, drawn, ready
from ._format import fmt, ratio_interval, with_interval
from ._html import figure
from ._scenario import SIMULATION, scenario_panel, trials_of
from ._words import METRICS, metric_name

# Fewer errors than this in a group: its rate and ratios rest on a handful of events.
FEW = 10
CAUTION = "†"


PER_RESIDENT = "false_alerts_per_1000_per_day"
_METRICS_SHOWN = (
    "fta",
    "fpir",
    "fnir",
    "fmr",
    "fnmr",
    "alert_precision",
    "false_alerts_per_1000_per_day",
)


# Each figure: the table it draws, the `_plots` function that draws a deployment's
# rows of it, and that function's options as a function of the deployment and the
# group colours. A process pool is sent the function's name, so that only the
# processes that draw load matplotlib.
_Options = Callable[[DeploymentSpec, dict[str, str]], dict[str, Any]]
_FIGURES: list[tuple[str, str, _Options, str, str]] = [
    (
        "det_points",
        "det_figure",
        lambda spec, colours: {
            "title": f"DET: {spec.name}",
            "threshold": spec.threshold,
            "colours": colours,
        },
        "DET curves",
        "Missed match rate (FNIR) against false alert rate (FPIR) as the threshold moves, per "
        "group; the dot marks the deployment's operating threshold.",
    ),
    (
        "impostor_fmr",
        "heatmap_figure",
        lambda spec, colours: {"title": f"Impostor FMR: {spec.name}"},
        "impostor heatmap",
        "False match rate per comparison between a probe of one group (row) and a list member "
        "of another (column), with its 95% interval (two-way bootstrap); one colour scale for "
        "every panel. Same-group pairs sit on the diagonal.",
    ),
    (
        "threshold_sweep",
        "sweep_figure",
        lambda spec, colours: {
            "x": "threshold",
            "metrics": ["fpir", "fnir"],
            "title": f"Threshold sweep: {spec.name}",
            "xlabel": "threshold",
            "colours": colours,
            "marker": spec.threshold,
        },
        "threshold sweep",
        "Per-group FPIR and FNIR at each swept threshold, with 95% intervals (log scale where "
        "rates span decades); the dashed line is the deployment's operating threshold. Each "
        "attribute's groups are named in its first panel.",
    ),
    (
        "gallery_sweep",
        "sweep_figure",
        lambda spec, colours: {
            "x": "gallery_size",
            "metrics": ["fpir"],
            "title": f"Gallery-size sweep: {spec.name}",
            "xlabel": "gallery size",
            "colours": colours,
            "marker": float(len(spec.members)),
        },
        "gallery-size sweep",
        "Per-group FPIR on nested random subsamples of the gallery (searches of unlisted "
        "persons); the dashed line is the whole list.",
    ),
    (
        "false_alert_shares",
        "shares_figure",
        lambda spec, colours: {"title": f"False alerts: {spec.name}"},
        "false alert shares",
        "Each group's share of the false alerts, with its 95% interval (a bootstrap over "
        "persons), against its share of residents.",
    ),
]
# The tables that figures draw, in the order `RunFigures` expects them.
FIGURE_TABLES = tuple(dict.fromkeys(key for key, *_ in _FIGURES))


EVENT_METHODS = [
    "How errors arise. Each simulated resident has a 128-dimensional face template; each "
    "camera capture is a noisy copy of it, noisier for small, dark, turned or blurred faces "
    "and old enrollment photos. Identities of one error-rate group share a centre, so "
    "impostors of the same group resemble each other more. The model's parameters are solved "
    "so that, at the configured reference threshold and reference capture conditions, each "
    "group's false match and false non-match rates per comparison equal the configured ones; "
    "the calibration table checks this on fresh samples. Every false alert and miss is then "
    "counted from comparisons of these vectors, never drawn as a coin flip. Missed detections "
    "on event streams follow the configured per-group rates.",
    "Rates. FPIR, FNIR, FTA, FMR and FNMR follow ISO/IEC 19795-1 and NIST FRVT usage; each "
    "table cell is a rate over the denominator named in the glossary, with its 95% interval "
    "in brackets. False alerts per 1,000 residents per day count every false alert on a "
    "group's residents over the group's residents that the deployment's cameras can sight "
    "at all (those never within their reach are left out) and the days simulated.",
    "Intervals. 95%, from a bootstrap that resamples persons with Poisson weights (a person's "
    "repeated sightings stay together), widened to the Wilson interval of the pooled counts "
    "where that is wider, so a rate with no events still has an upper bound. Impostor FMR "
    "(per group and in the heatmap) also resamples list members, independently of probe "
    "persons, since one member can draw many false matches.",
    "Disparities. A group's rate over its reference group's (for alert precision, where "
    "higher is better, the reference's over the group's), so a ratio above 1 means the group "
    "fares worse. The reference of each attribute is fixed before any rate is seen: the "
    "configured one (report.reference), else the attribute's largest group (most residents), "
    "the same for every metric and threshold; picking the best-off group from the data would "
    "bias every ratio up and flag too many. A ratio's p-value tests a ratio of 1 with the "
    "bootstrap above: a normal test on the log ratio with the replicates' standard error where "
    "both groups have errors in every replicate, else the share of replicates on the other "
    "side of 1. Significant: the p-value adjusted by Benjamini-Hochberg across the family of "
    "one deployment's ratios of one metric (every group, intersection and swept threshold) is "
    "at most 0.05, so that at most 5% of the ratios flagged in a family are expected to be "
    "chance. Each ratio has its unadjusted 95% interval and an adjusted interval (Benjamini "
    "and Yekutieli's false-coverage-rate interval, at level 1 - 0.05 R / m for R of m ratios "
    "significant), which excludes 1 exactly when the ratio is significant. A group with no "
    "errors (ratio 0) or a reference with none (no ratio) is not tested. "
    f"{CAUTION} marks rates and ratios resting on fewer than {FEW} errors.",
    "Risk burden. Per person, the cost of each wrongful consequence (a stop after a false "
    "alert, travel denied, a door not opened after a false reject or a missed face) summed "
    "over deployments and days. A resident is burdened when this sum is above 0. "
    "Deployments that are alternatives of one another (the same search at different "
    "thresholds) are never added together: the burden counts the first of them, and a "
    "separate table shows the burden under each alternative.",
    "Limits. The city, its residents, their movements and the matcher are models: group "
    "differences are those configured (from published measurements), not measured on a real "
    "system; the configured rates hold at the reference threshold and conditions, and other "
    "thresholds follow from the embedding model, not from a vendor's score distribution. "
    "Persons act independently; there is no feedback from a stop to later exposure unless the "
    "scenario configures it; human review and consequences are simple probabilities and costs.",
]
VIDEO_SIMULATION = (
    "Every face here is drawn by riskclass's renderer, from configured skin reflectance, "
    "lighting and face sizes; the detectors are real (face_recognition's HOG or CNN, OpenCV's "
    "Haar cascade) and run on those frames. The rates show how these detectors treat these "
    "drawn faces, not how often they miss real people."
)
VIDEO_METHODS = [
    "Missed detection: ground-truth faces (per frame) that a detector did not find, matched "
    "by box overlap (intersection over union at least 0.3). Faces are drawn and lit by the "
    "renderer; detection is a real detector on those frames.",
    "Intervals: 95%, from a bootstrap that resamples faces (one person in one scene: its "
    "frames share a face, a size and a light), widened to the Wilson interval of the pooled "
    "counts where that is wider.",
    "Disparity ratios compare like with like: light decides detection, and groups may meet "
    "the camera in different light, so ratios are computed within each light level and pooled "
    "(Mantel-Haenszel); a light level where one of the two groups is absent adds nothing. The "
    "reference is the configured group, else the one with the most faces. A crude ratio over "
    "all light would measure the lighting mix. Significant: the Benjamini-Hochberg adjusted "
    "p-value across one detector's ratios is at most 0.05 (as for event streams).",
]
# Words of the glossary that are not metrics: (term, counted over, meaning).
TERMS = [
    (
        "disparity ratio",
        "two groups' rates of one metric",
        "a group's rate over the reference group's (alert precision: the reference's over the "
        "group's); above 1, the group fares worse.",
    ),
    (
        "reference group",
        "one attribute's values",
        "the group a disparity ratio divides by, chosen before looking at any rate: the one "
        "the scenario names, else the attribute's largest group; the same for every metric "
        "and threshold.",
    ),
    (
        "significant",
        "the ratios of one metric in one deployment",
        "the ratio's p-value, adjusted for every ratio of that metric in the deployment "
        "(Benjamini-Hochberg, false discovery rate 5%), is at most 0.05; its adjusted interval "
        "then excludes 1.",
    ),
    (
        "burdened",
        "residents of the group",
        "having at least one wrongful consequence (a stop after a false alert, travel denied, "
        "a door not opened) in the simulated days, in any deployment counted in the burden.",
    ),
    (
        "threshold",
        "scores of one comparison",
        "a comparison is a match when its similarity is at or above the deployment's operating "
        "threshold; error rates are configured at the calibration reference threshold "
        "(algorithm.threshold).",
    ),
]


def _no_intersections(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table["attribute"].str.contains("&")]


def _intersections(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["attribute"].str.contains("&")]


def _cell(row: Mapping[Any, Any]) -> tuple[str, str]:
    """A rate and its interval, flagged where it rests on few errors."""
    caution = CAUTION if row["n"] > 0 and row["count"] < FEW else ""
    rate, interval = with_interval(row)
    return rate + caution, interval


def _group_rows(mine: pd.DataFrame, shown: Sequence[str], *, n_from: str) -> list[dict[str, Any]]:
    """One row per group: its trials (those of metric ``n_from``) and each shown rate."""
    # Plain dicts, in the table's order of groups: a Series per row (``iterrows``)
    # or a frame per group cost a second per report.
    groups: dict[tuple[str, str], dict[str, dict[Any, Any]]] = {}
    for row in mine.to_dict("records"):
        groups.setdefault((row["attribute"], row["value"]), {})[row["metric"]] = row
    rows = []
    for (attribute, value), by_metric in groups.items():
        n = int(by_metric[n_from]["n"]) if n_from in by_metric else 0
        cells = [(f"{n:,}", ""), *(_cell(by_metric[m]) for m in shown)]
        rows.append({"group": group_label(str(attribute), str(value)), "cells": cells})
    return rows


def _shown_metrics(mine: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    """The metrics with trials in this deployment. Without non-mated searches (a gate
    without impostors) there are no false alerts to count or to weigh precision by."""
    tried = set(mine.loc[mine["n"] > 0, "metric"])
    if "fpir" not in tried:
        tried -= {"alert_precision", PER_RESIDENT}
    return [m for m in candidates if m in tried]


def _ratio_words(metric: str, lighting: str) -> str:
    name = metric_name(metric)
    if not HIGHER_IS_WORSE.get(metric, True):
        name += " (inverted: reference over group)"
    return f"{name} at {lighting}" if lighting else name


def _errors(metric: str, count: float, n: float) -> str:
    if pd.isna(n):
        return ""
    if metric == PER_RESIDENT:
        return f"{count:,.0f} false alerts, {n:,.0f} residents in the cameras' reach"
    return f"{count:,.0f} of {n:,.0f}"


def _event_counts(metrics: pd.DataFrame, days: int) -> pd.DataFrame:
    """``metrics`` with false alerts per 1,000 residents per day counted in false alerts,
    so that the small-count caution and the error counts read as events."""
    scaled = metrics["metric"] == PER_RESIDENT
    return metrics.assign(count=metrics["count"].where(~scaled, metrics["count"] * days / 1000))


def _disparity_tables(
    disparities: pd.DataFrame, metrics: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The significant disparities, largest first, and the full table per attribute.

    Each row carries the group's errors and trials, with a caution mark where
    either side has fewer than `FEW` errors."""
    keys = ["deployment", "attribute", "value", "metric"]
    extra = [c for c in ("lighting",) if c in metrics.columns and c in disparities.columns]
    # Over all light, ``lighting`` is empty: NaN in one table, None in another.
    metrics = metrics.assign(**{c: metrics[c].fillna("") for c in extra})
    disparities = disparities.assign(**{c: disparities[c].fillna("") for c in extra})
    counts = metrics[[*keys, *extra, "count", "n"]]
    joined = disparities.merge(counts, on=[*keys, *extra], how="left")
    joined = joined.merge(
        counts.rename(columns={"value": "reference", "count": "ref_count", "n": "ref_n"}),
        on=["deployment", "attribute", "reference", "metric", *extra],
        how="left",
    )
    rows = []
    for r in records(joined):
        few = min(r.count, r.ref_count) < FEW
        rows.append(
            {
                "attribute": r.attribute,
                "metric": _ratio_words(r.metric, getattr(r, "lighting", "")),
                "group": group_label(r.attribute, r.value),
                "reference": group_label(r.attribute, r.reference),
                "rate": fmt(r.rate),
                "reference_rate": fmt(r.reference_rate),
                "ratio": fmt(r.ratio) + (CAUTION if few else ""),
                "interval": ratio_interval(r.ci_low, r.ci_high),
                "adjusted": ratio_interval(r.adjusted_low, r.adjusted_high),
                "p": _p(r.p_adjusted),
                "errors": _errors(r.metric, r.count, r.n),
                "significant": bool(r.significant),
                "sort": r.ratio,
            }
        )
    # Intersections are many (every pair of attributes): their ratios stay in the fold.
    significant = sorted(
        (r for r in rows if r["significant"] and "&" not in r["attribute"]),
        key=lambda r: -r["sort"],
    )
    by_attribute = []
    for attribute in dict.fromkeys(r["attribute"] for r in rows):
        mine = [r for r in rows if r["attribute"] == attribute]
        by_attribute.append(
            {
                "attribute": attribute.replace("&", " and "),
                "reference": mine[0]["reference"],
                "rows": mine,
            }
        )
    return significant, by_attribute


def _p(p: float) -> str:
    """An adjusted p-value; "not tested" where a side had no errors."""
    if pd.isna(p):
        return "not tested"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _deployment_block(
    *,
    name: str,
    kind: str,
    note: str,
    metrics: pd.DataFrame,
    disparities: pd.DataFrame,
    columns: Sequence[str],
    shown: Sequence[str],
    n_from: str,
    figures: list[dict[str, str]],
    rates: pd.DataFrame | None = None,
    crude_note: str = "",
) -> dict[str, Any]:
    """One deployment's (or detector's) section: rates per group, then disparities.

    ``rates``: the rows of the rate table, where its columns are not ``metrics``'s
    metrics (video shows one column per light)."""
    significant, by_attribute = _disparity_tables(disparities, metrics)
    rates = metrics if rates is None else rates
    return {
        "name": name,
        "kind": kind,
        "note": note,
        "columns": list(columns),
        "rows": _group_rows(_no_intersections(rates), shown, n_from=n_from),
        "intersection_rows": _group_rows(_intersections(rates), shown, n_from=n_from),
        "significant": significant,
        "by_attribute": by_attribute,
        "crude_note": crude_note,
        "figures": figures,
    }


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
    cameras: pd.DataFrame,
    alternatives: Sequence[Sequence[str]] = (),
    figures: RunFigures | None = None,
) -> dict[str, Any]:
    """The template's context for a run's report.

    ``figures``: the figures, where the caller started them (see `RunFigures`);
    without them they are drawn here. Either way they are the same PNG bytes.
    """
    if figures is None:
        figures = RunFigures(specs, group_colours(tables["metrics"]))
        for key in FIGURE_TABLES:
            figures.table(key, tables[key])
        figures.lorenz(scenario, burden, persons)
    deployments = []
    panel = scenario_panel(scenario, specs, persons, cameras, tables, alternatives)
    for spec, scene in zip(specs, panel["deployments"], strict=True):
        mine = _event_counts(
            tables["metrics"][tables["metrics"]["deployment"] == spec.name], scenario.days
        )
        shown = _shown_metrics(mine, _METRICS_SHOWN)
        block = _deployment_block(
            name=spec.name,
            kind=scene["kind"],
            note=spec.info.note,
            metrics=mine,
            disparities=overall(
                tables["disparities"][tables["disparities"]["deployment"] == spec.name]
            ),
            columns=[trials_of(spec), *(metric_name(m) for m in shown)],
            shown=shown,
            n_from="fta",
            figures=[],
        )
        deployments.append({**block, "scene": scene})
    # Waited for last: this process arranges the tables while a pool draws.
    for block in deployments:
        block["figures"] = figures.of(block["name"])
    return {
        "scenario": scenario.name,
        "run_dir": run_dir,
        "seed": scenario.seed,
        "source": "Run",
        "simulation": SIMULATION,
        "panel": panel,
        "methods": EVENT_METHODS,
        "glossary": _glossary(_METRICS_SHOWN),
        "scale": f"{scenario.population.size:,} residents · {scenario.days} days",
        "version": version,
        "summary": summary,
        "deployments": deployments,
        "burden": _burden_rows(tables["burden_by_group"]),
        "alternative_burden": _alternative_rows(tables["alternative_burden"]),
        "burden_figures": figures.burden(),
        "costs": scenario.report.costs or "1 per wrongful consequence",
    }


class RunFigures:
    """A run report's figures, each started as soon as its table is ready.

    With a ``pool`` (see `figure_pool`) they are drawn there while the caller goes
    on computing (the DET curves and heatmaps while the bootstraps run); without one
    each is drawn when started. Either way they are the same PNG bytes.
    """

    def __init__(
        self,
        specs: Sequence[DeploymentSpec],
        colours: dict[str, str],
        pool: Executor | None = None,
    ) -> None:
        self._specs = list(specs)
        self._colours = colours
        self._pool = pool
        self._started: dict[tuple[str, str], Callable[[], bytes]] = {}
        self._lorenz: list[tuple[str, str, Callable[[], bytes]]] = []

    def table(self, key: str, table: pd.DataFrame) -> None:
        """Start each deployment's figure of the report table ``key`` (one of
        `FIGURE_TABLES`), where it has rows to draw."""
        for figure_key, name, options, _, _ in _FIGURES:
            if figure_key != key:
                continue
            for spec in self._specs:
                if _has_rows(table, spec.name):
                    self._started[spec.name, key] = _draw(
                        self._pool,
                        name,
                        options(spec, self._colours),
                        table[table["deployment"] == spec.name],
                    )

    def lorenz(self, scenario: Scenario, burden: pd.DataFrame, persons: pd.DataFrame) -> None:
        """Start the Lorenz curves of the risk burden (none where no one bears any)."""
        if burden["burden"].sum() == 0:
            return
        values = burden["burden"].to_numpy()
        curves = {"all residents": lorenz_curve(values)}
        first = next(iter(scenario.population.attributes))
        labels = persons[first].astype(str)
        for value in sorted(labels.unique()):
            curves[group_label(first, value)] = lorenz_curve(values[(labels == value).to_numpy()])
        title = "Lorenz curves of the risk burden"
        self._lorenz = [
            (
                title,
                "How unevenly wrongful consequences fall: the further below the diagonal, the "
                "more concentrated.",
                _draw(self._pool, "lorenz_figure", {}, curves, title, self._colours),
            )
        ]

    def of(self, deployment: str) -> list[dict[str, str]]:
        """A deployment's figures for the template, in report order (waiting for
        those not drawn yet)."""
        return [
            figure(self._started[deployment, key](), alt=f"{alt}: {deployment}", caption=caption)
            for key, _, _, alt, caption in _FIGURES
            if (deployment, key) in self._started
        ]

    def burden(self) -> list[dict[str, str]]:
        """The burden's figures for the template."""
        return [figure(png(), alt=alt, caption=caption) for alt, caption, png in self._lorenz]


def _draw(
    pool: Executor | None, name: str, options: dict[str, Any], *args: Any
) -> Callable[[], bytes]:
    """Start drawing `_plots`'s figure ``name`` in ``pool`` (without one, draw it
    now); returns what gives its PNG bytes, waiting for them where they are not
    drawn yet."""
    if pool is None:
        png = drawn(name, options, *args)
        return lambda: png
    return pool.submit(drawn, name, options, *args).result


def _has_rows(table: pd.DataFrame, deployment: str) -> bool:
    """Whether ``table`` has a rate to draw for ``deployment``: a gate without impostor
    presentations has no FPIR to sweep, no DET curve and no false alerts to share."""
    mine = table[table["deployment"] == deployment]
    if "n" in mine.columns:
        mine = mine[mine["n"] > 0]
    for column in ("fpir", "false_alerts"):
        if column in mine.columns:
            mine = mine[mine[column] > 0]
    return bool(len(mine))


def _burden_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
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
        for r in records(_no_intersections(table))
    ]


def _alternative_rows(table: pd.DataFrame) -> dict[str, Any]:
    """Share burdened per group under each alternative, side by side."""
    if table.empty:
        return {"columns": [], "rows": []}
    table = _no_intersections(table)
    wide = table.pivot_table(
        index=["attribute", "value"], columns="alternative", values="burdened_share", sort=False
    )
    columns = list(dict.fromkeys(table["alternative"]))
    return {
        "columns": columns,
        "rows": [
            {
                "group": group_label(str(attribute), str(value)),
                "cells": [f"{wide.loc[(attribute, value), c]:.2%}" for c in columns],
            }
            for attribute, value in wide.index
        ],
    }


def _glossary(metrics: Sequence[str]) -> list[dict[str, str]]:
    return [
        {
            "term": METRICS[m].name,
            "denominator": METRICS[m].denominator,
            "meaning": METRICS[m].meaning,
        }
        for m in metrics
    ] + [{"term": term, "denominator": over, "meaning": meaning} for term, over, meaning in TERMS]


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
    metrics = tables["metrics"]
    stratified = tables["stratified_disparities"]
    levels = {name: light.level for name, light in scenario.video.lighting.items()}
    from . import _plots

    colours = group_colours(metrics)
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
            colours=colours,
        )
        deployments.append(
            _deployment_block(
                name=detector,
                kind="face detector",
                note="",
                metrics=overall(mine),
                rates=by_light,
                disparities=stratified[stratified["deployment"] == detector],
                columns=["face-frames", *(f"missed: {light}" for light in shown)],
                shown=shown,
                n_from="all light",
                figures=[
                    figure(
                        image,
                        alt=f"missed detections of {detector} by light",
                        caption="Share of faces the detector missed at each light level, "
                        "per group.",
                    )
                ],
                crude_note="Ratios compare groups within each light level and pool them "
                "(Mantel-Haenszel): groups that met the camera in different light are compared "
                "like with like. Per-light ratios are in disparities.csv.",
            )
        )
    return {
        "scenario": scenario.name,
        "run_dir": run_dir,
        "seed": scenario.seed,
        "source": "Rendered video",
        "simulation": VIDEO_SIMULATION,
        "panel": None,
        "methods": VIDEO_METHODS,
        "glossary": _glossary(["missed_detection"]),
        "scale": f"{faces:,} faces in {scenes} scenes",
        "version": version,
        "summary": summary,
        "deployments": deployments,
        "burden": [],
        "alternative_burden": {"columns": [], "rows": []},
        "burden_figures": [],
        "costs": "",
    }


def start_figure_server() -> BaseContext:
    """Start the server process that `figure_pool`'s processes are forked from, if
    it is not running, without waiting for it to import the plotting; returns the
    context that forks from it (where there is none, Windows: fresh interpreters).

    `figure_pool` starts it itself; a command that will report after other work
    (``run --report``) starts it first, so that matplotlib loads while that work
    leaves a core idle. The server's imports are fixed when it starts: a command
    whose other processes fork from a server with imports of their own (a Dask
    cluster's workers) must not start it first.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PLOTS])
    multiprocessing.forkserver.ensure_running()
    return context


@contextmanager
def figure_pool(processes: int) -> Iterator[Executor | None]:
    """``processes`` Python processes that draw figures for `RunFigures`; None
    (draw in this process) below 2, or inside a daemonic process (a worker of some
    pool), which may not start processes of its own.

    The processes are forked from a server process ("forkserver") that imports
    `_plots` once, as soon as this starts: matplotlib loads while the caller
    computes the tables, once for all of them. The server is a fresh interpreter,
    not a copy of this one: a fork of this process would copy the Parquet reader's
    threads' locks in whatever state they are. Where there is no forkserver
    (Windows), each process is a fresh interpreter that imports `_plots` itself.
    """
    if processes < 2 or multiprocessing.current_process().daemon:
        yield None
        return
    context = start_figure_server()
    with (
        ProcessPoolExecutor(processes, mp_context=context, initializer=ready) as pool,
        ThreadPoolExecutor(_HANDING_THREADS) as threads,
    ):
        yield _HandedOn(pool, threads)


# Threads that hand figures to the processes (see `_HandedOn`): more than a report
# draws at once, so that none waits for another's figure.
_HANDING_THREADS = 16


class _HandedOn(Executor):
    """Submits each task to a process pool from a thread, so that submitting never
    waits: the pool starts its processes on its first tasks, and processes forked
    from the figure server cannot start before the server has imported the
    plotting, which is the first second or two of a report (the caller would
    otherwise wait there instead of going on with the bootstraps)."""

    def __init__(self, pool: Executor, threads: Executor) -> None:
        self._pool = pool
        self._threads = threads

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._threads.submit(lambda: self._pool.submit(fn, *args, **kwargs).result())
