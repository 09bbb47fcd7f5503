"""`riskclass report`: turn a finished run into per-group tables, figures and HTML.

Reads only the run's files (manifest, persons, galleries, person outcomes,
decisions, hits), so every number can be recomputed from them, and writes
``RUN_DIR/report/`` atomically. The numbers come from `riskclass.analysis`, their
presentation from `riskclass.analysis.report`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskclass import (
    CAMERAS,
    DECISIONS,
    GALLERIES,
    HITS,
    MANIFEST,
    PERSON_OUTCOMES,
    PERSONS,
    REPORT_DIR,
    VIDEO_RESULTS_DIR,
    DataError,
    Progress,
    Scenario,
    Stream,
    atomic_output_dir,
    package_versions,
    read_manifest,
    report_progress,
    rng_for,
    validate_config,
    write_json,
    write_parquet,
)
from riskclass.analysis import (
    DeploymentSpec,
    alternative_burden,
    alternative_deployments,
    burden_by_group,
    count_run,
    counted_deployments,
    det_points,
    detection_by_condition,
    group_cells,
    group_metrics,
    impostor_heatmap,
    impostor_rates,
    person_burden,
    report,
    standardised_disparities,
    stratified_disparities,
    video_group_metrics,
)

HTML = "index.html"
_STEPS = 5
_RUN_HINT = "run `riskclass run CONFIG --out DIR` first"


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
    manifest = read_manifest(run_dir, hint=_RUN_HINT)
    if "rendered" in manifest:
        return _build_video_report(run_dir, manifest, started)
    scenario = _scenario_of(run_dir, manifest)
    persons = pd.read_parquet(run_dir / PERSONS)
    tally = pd.read_parquet(run_dir / PERSON_OUTCOMES)
    galleries = pd.read_parquet(run_dir / GALLERIES)
    cells = group_cells(persons, list(scenario.population.attributes))
    specs = _specs(scenario, galleries)
    settings = scenario.report
    report_progress(progress, "report", 1, _STEPS)
    counts = count_run(
        _row_groups(
            run_dir / DECISIONS,
            ["deployment", "person_id", "detected", "mated", "candidate_id", "score"],
        ),
        _row_groups(
            run_dir / HITS, ["deployment", "event_id", "person_id", "candidate_id", "score"]
        ),
        specs=specs,
        profile=cells.profile,
        n_profiles=len(cells.profiles),
        thresholds=scenario.sweep,
        fractions=settings.gallery_fractions,
        rng=rng_for(scenario.seed, Stream.REPORT, 3),
    )
    report_progress(progress, "report", 2, _STEPS)
    impostor_rng = rng_for(scenario.seed, Stream.REPORT, 1)
    impostors = {
        spec.name: impostor_rates(
            spec,
            counts[spec.name],
            tally[tally["deployment"] == spec.name],
            cells,
            rng=impostor_rng,
        )
        for spec in specs
        if spec.searches_gallery
    }
    metrics = group_metrics(
        tally,
        counts,
        impostors,
        specs=specs,
        cells=cells,
        days=scenario.days,
        thresholds=scenario.sweep,
        fractions=settings.gallery_fractions,
        reference=settings.reference,
        rng=rng_for(scenario.seed, Stream.REPORT),
    )
    report_progress(progress, "report", 3, _STEPS)
    deployments = [spec.name for spec in specs]
    alternatives = alternative_deployments(scenario.deployments)
    burden = person_burden(
        _row_groups(run_dir / DECISIONS, ["deployment", "person_id", "outcome", "consequence"]),
        persons=len(persons),
        deployments=deployments,
        costs=settings.costs,
        alternatives=alternatives,
    )
    burden_groups = burden_by_group(burden, counted_deployments(deployments, alternatives), cells)
    report_progress(progress, "report", 4, _STEPS)
    tables = {
        "metrics": metrics.metrics,
        "disparities": metrics.disparities,
        "false_alert_shares": metrics.shares,
        "threshold_sweep": metrics.threshold_sweep,
        "gallery_sweep": metrics.gallery_sweep,
        "impostor_fmr": impostor_heatmap(impostors, cells),
        "det_points": det_points(counts, specs, cells),
        "burden_by_group": burden_groups,
        "alternative_burden": alternative_burden(burden, deployments, alternatives, cells),
    }
    summary = report.run_summary(
        scenario,
        metrics.disparities,
        metrics.shares,
        burden_groups,
        burden,
        alternatives=alternatives,
    )
    html = report.render_report(
        report.run_context(
            run_dir=str(run_dir),
            scenario=scenario,
            version=_version(manifest),
            specs=specs,
            tables=tables,
            burden=burden,
            summary=summary,
            persons=persons,
            cameras=pd.read_parquet(run_dir / CAMERAS),
            alternatives=alternatives,
        )
    )
    out = _write_report(run_dir, tables, html, summary, extra={"person_burden": burden})
    report_progress(progress, "report", 5, _STEPS)
    return ReportSummary(out, summary, tables, time.perf_counter() - started)


def _build_video_report(run_dir: Path, manifest: dict[str, Any], started: float) -> ReportSummary:
    """The same tables and HTML for rendered video: detectors in place of deployments."""
    scenario = validate_config(manifest.get("config", {}), source=run_dir / MANIFEST)
    results = run_dir / VIDEO_RESULTS_DIR
    if not (results / MANIFEST).is_file():
        raise DataError(
            f"{run_dir}: the rendered video has no results yet; run `riskclass video run "
            f"{run_dir}` first"
        )
    detections = pd.read_csv(results / "detections.csv")
    metrics, disparities = video_group_metrics(
        detections,
        attributes=list(scenario.population.attributes),
        reference=scenario.report.reference,
        rng=rng_for(scenario.seed, Stream.REPORT, 2),
    )
    stratified = stratified_disparities(
        detections,
        attributes=list(scenario.population.attributes),
        reference=scenario.report.reference,
        rng=rng_for(scenario.seed, Stream.REPORT, 4),
    )
    attributes = list(scenario.population.attributes)
    tables = {
        "metrics": metrics,
        "disparities": disparities,
        "stratified_disparities": stratified,
        "detection_by_condition": detection_by_condition(detections, attributes=attributes),
        "standardised_disparities": standardised_disparities(
            detections,
            attributes=attributes,
            reference=scenario.report.reference,
            rng=rng_for(scenario.seed, Stream.REPORT, 6),
        ),
        "video_per_group": pd.read_csv(results / "video_per_group.csv"),
    }
    summary = report.video_summary(metrics, disparities, stratified)
    html = report.render_report(
        report.video_context(
            run_dir=str(run_dir),
            scenario=scenario,
            version=_version(manifest),
            tables=tables,
            summary=summary,
            faces=len(detections),
            scenes=detections["video"].nunique(),
        )
    )
    out = _write_report(run_dir, tables, html, summary, extra={})
    return ReportSummary(out, summary, tables, time.perf_counter() - started)


def _version(manifest: dict[str, Any]) -> str:
    return str(manifest.get("versions", {}).get("riskclass", "?"))


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


def _scenario_of(run_dir: Path, manifest: dict[str, Any]) -> Scenario:
    for name in (PERSONS, CAMERAS, PERSON_OUTCOMES, GALLERIES, DECISIONS, HITS):
        if not (run_dir / name).is_file():
            raise DataError(
                f"{run_dir}: not a finished riskclass run ({name} is missing); {_RUN_HINT}"
            )
    scenario = validate_config(manifest.get("config", {}), source=run_dir / MANIFEST)
    return scenario.with_thresholds(manifest.get("resolved_thresholds", {}))


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
    return [
        DeploymentSpec(
            deployment.name,
            deployment.kind,
            scenario.threshold_of(deployment),
            galleries.loc[galleries["gallery"] == deployment.gallery, "person_id"].to_numpy(
                np.int64
            ),
        )
        for deployment in scenario.deployments
    ]
