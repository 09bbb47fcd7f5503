"""`riskclass report`: turn a finished run into per-group tables, figures and HTML.

Reads only the run's files (manifest, persons, galleries, person outcomes,
decisions, hits), so every number can be recomputed from them, and writes
``RUN_DIR/report/`` atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskclass import analysis
from riskclass.analysis import (
    DeploymentSpec,
    burden_by_group,
    count_run,
    det_points,
    figure,
    group_cells,
    group_metrics,
    impostor_heatmap,
    impostor_rates,
    lorenz_curve,
    person_burden,
    render_report,
    video_group_metrics,
)

from . import _run, _video
from ._config import Scenario
from ._errors import DataError
from ._loading import validate_config
from ._outputs import (
    MANIFEST,
    atomic_output_dir,
    package_versions,
    records,
    write_json,
    write_parquet,
)
from ._progress import Progress, report
from ._seeds import Stream, rng_for

REPORT_DIR = "report"
HTML = "index.html"
_STEPS = 5
_NOT_A_RUN = (
    "{path}: not a finished riskclass run ({why}); run `riskclass run CONFIG --out DIR` first"
)
# The rate a deployment's summary line is about.
_KEY_METRIC = {
    "watchlist_screening": "false_alerts_per_1000_per_day",
    "blacklist_checkpoint": "false_alerts_per_1000_per_day",
    "investigation": "false_alerts_per_1000_per_day",
    "access_gate": "fnir",
}
_KEY_WORDS = {
    "false_alerts_per_1000_per_day": "false alerts per 1,000 residents per day",
    "fnir": "false rejects (FNIR)",
}


@dataclass
class ReportSummary:
    """What `build_report` wrote, its plain-language summary and its tables."""

    out: Path
    summary: list[str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0


def build_report(run_dir: str | Path, *, progress: Progress | None = None) -> ReportSummary:
    """Write ``RUN_DIR/report/``: tables as CSV and Parquet, and ``index.html``.

    Raises
    ------
    DataError
        If ``run_dir`` is not a complete run, naming the missing or bad file.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    manifest = _read_manifest(run_dir)
    if "rendered" in manifest:
        return _build_video_report(run_dir, manifest, started)
    scenario = _scenario_of(run_dir, manifest)
    persons = pd.read_parquet(run_dir / _run.PERSONS)
    tally = pd.read_parquet(run_dir / _run.PERSON_OUTCOMES)
    galleries = pd.read_parquet(run_dir / _run.GALLERIES)
    attributes = list(scenario.population.attributes)
    cells = group_cells(persons, attributes)
    specs = _specs(scenario, galleries)
    settings = scenario.report
    thresholds = settings.sweep_thresholds(scenario.algorithm.threshold)
    report(progress, "report", 1, _STEPS)
    counts = count_run(
        _row_groups(run_dir / _run.DECISIONS, ["deployment", "person_id", "detected", "mated",
                                                "candidate_id", "score"]),
        _row_groups(run_dir / _run.HITS, ["deployment", "event_id", "person_id",
                                           "candidate_id", "score"]),
        specs=specs, profile=cells.profile, n_profiles=len(cells.profiles),
        thresholds=thresholds, fractions=settings.gallery_fractions,
        seed=scenario.seed,
    )  # fmt: skip
    report(progress, "report", 2, _STEPS)
    impostor_rng = rng_for(scenario.seed, Stream.REPORT, 1)
    impostors = {
        spec.name: impostor_rates(
            spec, counts[spec.name], tally[tally["deployment"] == spec.name], cells,
            rng=impostor_rng,
        )
        for spec in specs
        if spec.searches_gallery
    }  # fmt: skip
    metrics = group_metrics(
        tally, counts, impostors, specs=specs, cells=cells, days=scenario.days,
        thresholds=thresholds, fractions=settings.gallery_fractions,
        reference=settings.reference, rng=rng_for(scenario.seed, Stream.REPORT),
    )  # fmt: skip
    report(progress, "report", 3, _STEPS)
    det = det_points(counts, specs, cells)
    heatmap = impostor_heatmap(impostors, cells)
    deployments = [spec.name for spec in specs]
    burden = person_burden(
        _row_groups(
            run_dir / _run.DECISIONS, ["deployment", "person_id", "outcome", "consequence"]
        ),
        persons=len(persons), deployments=deployments, costs=settings.costs,
    )  # fmt: skip
    burden_groups = burden_by_group(burden, deployments, cells)
    report(progress, "report", 4, _STEPS)
    tables = {
        "metrics": metrics.metrics,
        "disparities": metrics.disparities,
        "false_alert_shares": metrics.shares,
        "threshold_sweep": metrics.threshold_sweep,
        "gallery_sweep": metrics.gallery_sweep,
        "impostor_fmr": heatmap,
        "det_points": det,
        "burden_by_group": burden_groups,
    }
    summary = _summary_lines(scenario, metrics.disparities, metrics.shares, burden_groups, burden)
    html = render_report(
        _html_context(run_dir, scenario, manifest, specs, tables, burden, summary, persons)
    )
    out = _write_report(run_dir, tables, html, summary, extra={"person_burden": burden})
    report(progress, "report", 5, _STEPS)
    return ReportSummary(out, summary, tables, time.perf_counter() - started)


def _build_video_report(run_dir: Path, manifest: dict[str, Any], started: float) -> ReportSummary:
    """The same tables and HTML for rendered video: detectors in place of deployments."""
    scenario = validate_config(manifest.get("config", {}), source=run_dir / MANIFEST)
    results = run_dir / _video.RESULTS_DIR
    if not (results / MANIFEST).is_file():
        raise DataError(
            f"{run_dir}: the rendered video has no results yet; run `riskclass video run "
            f"{run_dir}` first"
        )
    detections = pd.read_csv(results / "detections.csv")
    attributes = list(scenario.population.attributes)
    metrics, disparities = video_group_metrics(
        detections, attributes=attributes, reference=scenario.report.reference,
        rng=rng_for(scenario.seed, Stream.REPORT, 2),
    )  # fmt: skip
    tables = {
        "metrics": metrics,
        "disparities": disparities,
        "video_per_group": pd.read_csv(results / "video_per_group.csv"),
    }
    summary = _video_summary(metrics, disparities)
    light = dict(scenario.video.lighting)
    deployments = []
    for detector in dict.fromkeys(metrics["deployment"]):
        mine = metrics[
            (metrics["deployment"] == detector) & ~metrics["attribute"].str.contains("&")
        ]
        rows = []
        for (attribute, value), group in mine.groupby(["attribute", "value"], sort=False):
            by_metric = group.set_index("metric")
            rows.append({
                "group": "all" if attribute == "all" else f"{attribute}={value}",
                "cells": [f"{int(by_metric['n'].iloc[0]):,}",
                          *(_with_interval(row) for _, row in by_metric.iterrows())],
            })  # fmt: skip
        curve = mine[mine["metric"].str.contains("@")].assign(
            light=lambda t: t["metric"].str.split("@").str[1].map(light),
            metric="missed_detection",
        )
        figures = [figure(
            analysis.plots.sweep_figure(curve, "light", ["missed_detection"],
                                        f"Missed detections: {detector}", xlabel="light level"),
            alt=f"missed detections of {detector} by light",
            caption="Share of faces the detector missed at each light level, per group.",
        )]  # fmt: skip
        flagged = disparities[
            (disparities["deployment"] == detector) & ~disparities["attribute"].str.contains("&")
        ]
        deployments.append({
            "name": detector, "kind": "face detector", "note": "",
            "columns": ["n (face-frames)", *dict.fromkeys(mine["metric"])], "rows": rows,
            "figures": figures, "disparities": _disparity_rows(flagged),
        })  # fmt: skip
    html = render_report({
        "scenario": scenario.name, "run_dir": str(run_dir), "seed": scenario.seed,
        "source": "Rendered video", "methods": _VIDEO_METHODS,
        "scale": f"{len(detections):,} faces in {detections['video'].nunique()} scenes",
        "version": manifest.get("versions", {}).get("riskclass", "?"), "summary": summary,
        "deployments": deployments, "burden": [], "burden_figures": [], "costs": "",
    })  # fmt: skip
    out = _write_report(run_dir, tables, html, summary, extra={})
    return ReportSummary(out, summary, tables, time.perf_counter() - started)


def _video_summary(metrics: pd.DataFrame, disparities: pd.DataFrame) -> list[str]:
    lines = []
    for detector in dict.fromkeys(metrics["deployment"]):
        everyone = metrics[(metrics["deployment"] == detector) & (metrics["attribute"] == "all")]
        by_light = ", ".join(
            f"{row.metric.split('@')[1]} {row.rate:.0%}"
            for row in records(everyone) if "@" in row.metric
        )  # fmt: skip
        lines.append(f"{detector} missed this share of faces, by light: {by_light}.")
        rows = disparities[
            (disparities["deployment"] == detector)
            & (disparities["metric"] == "missed_detection")
            & ~disparities["attribute"].str.contains("&")
            & disparities["significant"]
        ].sort_values("ratio", ascending=False)
        if not rows.empty:
            top = rows.iloc[0]
            lines.append(
                f"{detector}: faces with {top['attribute']}={top['value']} were missed "
                f"{top['ratio']:.3g} times as often as {top['attribute']}={top['reference']} "
                f"({top['rate']:.0%} against {top['reference_rate']:.0%}; 95% interval "
                f"{top['ci_low']:.3g} to {top['ci_high']:.3g})."
            )
    return lines


def _write_report(
    run_dir: Path,
    tables: dict[str, pd.DataFrame],
    html: str,
    summary: list[str],
    *,
    extra: dict[str, pd.DataFrame],
) -> Path:
    """Write the tables (CSV and Parquet), extra Parquet files and the HTML, atomically."""
    out = run_dir / REPORT_DIR
    with atomic_output_dir(out, force=True) as staging:
        for name, table in tables.items():
            (staging / f"{name}.csv").write_text(table.to_csv(index=False), encoding="utf-8")
            write_parquet(table, staging / f"{name}.parquet")
        for name, table in extra.items():
            write_parquet(table, staging / f"{name}.parquet")
        (staging / HTML).write_text(html, encoding="utf-8")
        write_json(
            {
                "complete": True,
                "run": str(run_dir),
                "summary": summary,
                "versions": package_versions(),
            },
            staging / MANIFEST,
        )
    return out


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise DataError(_NOT_A_RUN.format(path=run_dir, why=f"no {MANIFEST}"))
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{manifest_path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not manifest.get("complete"):
        raise DataError(_NOT_A_RUN.format(path=run_dir, why=f"{MANIFEST} is not marked complete"))
    return manifest


def _scenario_of(run_dir: Path, manifest: dict[str, Any]) -> Scenario:
    for name in (_run.PERSONS, _run.PERSON_OUTCOMES, _run.GALLERIES, _run.DECISIONS, _run.HITS):
        if not (run_dir / name).is_file():
            raise DataError(_NOT_A_RUN.format(path=run_dir, why=f"{name} is missing"))
    return validate_config(manifest.get("config", {}), source=run_dir / MANIFEST)


def _row_groups(path: Path, columns: list[str]) -> Iterator[pa.Table]:
    try:
        file = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = set(columns) - set(file.schema_arrow.names)
    if missing:
        raise DataError(f"{path}: missing columns {sorted(missing)}")
    for index in range(file.num_row_groups):
        yield file.read_row_group(index, columns=columns)


def _specs(scenario: Scenario, galleries: pd.DataFrame) -> list[DeploymentSpec]:
    specs = []
    for deployment in scenario.deployments:
        members = galleries.loc[galleries["gallery"] == deployment.gallery, "person_id"]
        threshold = (
            deployment.threshold
            if deployment.threshold is not None
            else scenario.algorithm.threshold
        )
        specs.append(
            DeploymentSpec(deployment.name, deployment.kind, threshold, members.to_numpy(np.int64))
        )
    return specs


def _summary_lines(
    scenario: Scenario,
    disparities: pd.DataFrame,
    shares: pd.DataFrame,
    burden_groups: pd.DataFrame,
    burden: pd.DataFrame,
) -> list[str]:
    lines = []
    for deployment in scenario.deployments:
        metric = _KEY_METRIC[deployment.kind]
        rows = disparities[
            (disparities["deployment"] == deployment.name)
            & (disparities["metric"] == metric)
            & ~disparities["attribute"].str.contains("&")
            & disparities["ratio"].notna()
        ].sort_values(["significant", "ratio"], ascending=False)
        if rows.empty:
            lines.append(f"{deployment.name}: too few {_KEY_WORDS[metric]} to compare groups.")
            continue
        top = rows.iloc[0]
        share = shares[
            (shares["deployment"] == deployment.name)
            & (shares["attribute"] == top["attribute"])
            & (shares["value"] == top["value"])
        ].iloc[0]
        verdict = "a significant difference" if top["significant"] else "not significant"
        line = (
            f"{deployment.name}: residents with {top['attribute']}={top['value']} had "
            f"{_number(top['rate'])} {_KEY_WORDS[metric]}, {top['ratio']:.1f} times "
            f"{top['attribute']}={top['reference']} ({_number(top['reference_rate'])}; "
            f"95% interval "
            f"{top['ci_low']:.3g} to {top['ci_high']:.3g}, {verdict})"
        )
        if metric == "false_alerts_per_1000_per_day" and np.isfinite(share["false_alert_share"]):
            line += (
                f"; they are {share['population_share']:.0%} of residents and had "
                f"{share['false_alert_share']:.0%} of the false alerts"
            )
        lines.append(line + ".")
    singles = burden_groups[
        ~burden_groups["attribute"].str.contains("&") & (burden_groups["attribute"] != "all")
    ]
    if burden["burden"].sum() > 0 and not singles.empty:
        top = singles.sort_values("burden_to_population", ascending=False).iloc[0]
        everyone = burden_groups[burden_groups["attribute"] == "all"].iloc[0]
        lines.append(
            f"Risk burden: {top['attribute']}={top['value']} residents are "
            f"{top['population_share']:.0%} of the population and bear {top['burden_share']:.0%} "
            f"of all wrongful consequences ({top['burden_to_population']:.1f} times their share); "
            f"{everyone['burdened_share']:.2%} of all residents were burdened at least once, "
            f"{int(everyone['multi_deployment_burdened']):,} by more than one deployment; "
            f"Gini of the burden {everyone['gini']:.2f}."
        )
    return lines


def _number(value: float) -> str:
    return f"{value:.3g}" if value >= 0.01 else f"{value:.2e}"


def _html_context(
    run_dir: Path,
    scenario: Scenario,
    manifest: dict[str, Any],
    specs: list[DeploymentSpec],
    tables: dict[str, pd.DataFrame],
    burden: pd.DataFrame,
    summary: list[str],
    persons: pd.DataFrame,
) -> dict[str, Any]:
    deployments = []
    metric_names = ["fta", "fpir", "fnir", "fmr", "fnmr", "alert_precision",
                    "false_alerts_per_1000_per_day"]  # fmt: skip
    for spec in specs:
        metrics = tables["metrics"]
        mine = metrics[
            (metrics["deployment"] == spec.name) & ~metrics["attribute"].str.contains("&")
        ]
        shown = [m for m in metric_names if m in set(mine["metric"])]
        rows = []
        for (attribute, value), group in mine.groupby(["attribute", "value"], sort=False):
            by_metric = group.set_index("metric")
            cells = [f"{int(by_metric['n'].iloc[0] if 'fta' in by_metric.index else 0):,}"]
            cells += [_with_interval(by_metric.loc[m]) for m in shown]
            rows.append({"group": "all" if attribute == "all" else f"{attribute}={value}",
                         "cells": cells})  # fmt: skip
        disparities = tables["disparities"]
        flagged = disparities[
            (disparities["deployment"] == spec.name) & ~disparities["attribute"].str.contains("&")
        ]
        figures = [
            figure(
                make(table[table["deployment"] == spec.name], spec.name), alt=alt, caption=caption
            )
            for key, make, alt, caption in _FIGURES
            if (table := tables[key])["deployment"].eq(spec.name).any()
        ]
        deployments.append({
            "name": spec.name, "kind": spec.kind, "note": _NOTES.get(spec.kind, ""),
            "columns": ["n (events)", *shown], "rows": rows, "figures": figures,
            "disparities": _disparity_rows(flagged[~flagged["metric"].str.contains("@")]),
        })  # fmt: skip
    groups = tables["burden_by_group"]
    singles = groups[~groups["attribute"].str.contains("&")]
    burden_rows = [
        {"group": "all" if r.attribute == "all" else f"{r.attribute}={r.value}",
         "cells": [f"{r.persons:,}", _fmt(r.mean_burden), f"{r.burdened_share:.2%}",
                   f"{r.burden_share:.1%}", f"{r.population_share:.1%}",
                   _fmt(r.burden_to_population),
                   f"{r.multi_deployment_burdened:,}", _fmt(r.gini)]}
        for r in records(singles)
    ]  # fmt: skip
    curves = {"all residents": lorenz_curve(burden["burden"].to_numpy())}
    first = next(iter(scenario.population.attributes))
    for value in sorted(persons[first].astype(str).unique()):
        mine = burden["burden"].to_numpy()[(persons[first].astype(str) == value).to_numpy()]
        curves[f"{first}={value}"] = lorenz_curve(mine)
    burden_figures = []
    if burden["burden"].sum() > 0:
        burden_figures.append(figure(
            analysis.plots.lorenz_figure(curves, "Lorenz curves of the risk burden"),
            alt="Lorenz curves of the risk burden",
            caption="How unevenly wrongful consequences fall: the further below the "
            "diagonal, the more concentrated.",
        ))  # fmt: skip
    return {
        "scenario": scenario.name, "run_dir": str(run_dir), "seed": scenario.seed,
        "source": "Run", "methods": _EVENT_METHODS,
        "scale": f"{scenario.population.size:,} residents · {scenario.days} days",
        "version": manifest.get("versions", {}).get("riskclass", "?"), "summary": summary,
        "deployments": deployments, "burden": burden_rows, "burden_figures": burden_figures,
        "costs": scenario.report.costs or "1 per wrongful consequence",
    }  # fmt: skip


_FIGURES: list[tuple[str, Callable[[pd.DataFrame, str], bytes], str, str]] = [
    (
        "det_points",
        lambda t, name: analysis.plots.det_figure(t, f"DET: {name}"),
        "DET curves",
        "FNIR against FPIR as the threshold moves, per group.",
    ),
    (
        "impostor_fmr",
        lambda t, name: analysis.plots.heatmap_figure(t, f"Impostor FMR: {name}"),
        "impostor heatmap",
        "FMR of comparisons between a probe of one group and a gallery member of another.",
    ),
    (
        "threshold_sweep",
        lambda t, name: analysis.plots.sweep_figure(
            t, "threshold", ["fpir", "fnir"], f"Threshold sweep: {name}", xlabel="threshold"
        ),
        "threshold sweep",
        "Per-group FPIR and FNIR at each threshold, with 95% intervals.",
    ),
    (
        "gallery_sweep",
        lambda t, name: analysis.plots.sweep_figure(
            t, "gallery_size", ["fpir"], f"Gallery-size sweep: {name}", xlabel="gallery size"
        ),
        "gallery-size sweep",
        "Per-group FPIR on nested random subsamples of the gallery (searches of unlisted persons).",
    ),
    (
        "false_alert_shares",
        lambda t, name: analysis.plots.shares_figure(t, f"False alerts: {name}"),
        "false alert shares",
        "Each group's share of the false alerts against its share of residents.",
    ),
]

_EVENT_METHODS = (
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
_VIDEO_METHODS = (
    "Missed detection: ground-truth faces (per frame) that a detector did not find, matched "
    "by box overlap (intersection over union at least 0.3). Intervals: 95%, from a bootstrap "
    "that resamples faces (one person in one scene: its frames share a face, a size and a "
    "light), widened to the Wilson interval of the pooled counts where that is wider. "
    "Disparity ratios: a group's missed-detection rate over the best-off group's."
)

_NOTES = {
    "access_gate": "1:1 verification: FPIR and FMR are false accepts of impostor presentations; "
    "FNIR and FNMR are genuine residents rejected.",
    "investigation": "Rows are candidate captures returned for a target; an alert is the "
    "reviewer's "
    "confirmation; false alerts are persons wrongly placed on a target's trail.",
}


def _disparity_rows(flagged: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"metric": r.metric, "group": f"{r.attribute}={r.value}", "reference": r.reference,
         "rate": _fmt(r.rate), "reference_rate": _fmt(r.reference_rate),
         "ratio": _fmt(r.ratio), "interval": f"{_fmt(r.ci_low)} to {_fmt(r.ci_high)}",
         "significant": r.significant}
        for r in records(flagged)
    ]  # fmt: skip


def _with_interval(row: pd.Series) -> str:
    if np.isnan(row["rate"]):
        return f"n/a (n={int(row['n']):,})"
    return f"{_fmt(row['rate'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"


def _fmt(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    return f"{value:.2e}" if abs(value) < 0.001 else f"{value:.3g}"
