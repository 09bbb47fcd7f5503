"""`riskclass report`: turn a finished run into per-group tables, figures and HTML.

Reads only the run's files (manifest, persons, galleries, person outcomes,
decisions, hits), so every number can be recomputed from them, and writes
``RUN_DIR/report/`` atomically. The numbers come from `riskclass.analysis`, their
presentation from `riskclass.analysis.report`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
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
    check_run_against_config,
    manifest_scenario,
    package_versions,
    read_manifest,
    report_progress,
    rng_for,
    write_manifest,
    write_parquet,
)
from riskclass.analysis import (
    DeploymentSpec,
    GroupMetrics,
    VideoGroups,
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
# Figure processes at most: a report draws a dozen figures, and each process holds
# its own matplotlib and pandas (about 150 MB).
_FIGURE_WORKERS = 4
_RUN_HINT = "run `riskclass run CONFIG --out DIR` first"


@dataclass
class ReportSummary:
    """What `build_report` wrote, its plain-language summary and its tables."""

    out: Path
    summary: list[str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RunTables:
    """What `report_tables` computed from a finished run: every table of its report,
    and what the plain-language summary and the HTML also draw on."""

    scenario: Scenario
    specs: list[DeploymentSpec]
    tables: dict[str, pd.DataFrame]
    burden: pd.DataFrame
    persons: pd.DataFrame
    alternatives: list[list[str]]
    figures: report.RunFigures | None = None


def report_tables(
    run_dir: str | Path,
    *,
    progress: Progress | None = None,
    pool: Executor | None = None,
    manifest: dict[str, Any] | None = None,
) -> RunTables:
    """Every table of an event-stream run's report, without writing anything.

    `build_report` writes these with the HTML; checks that need only the numbers
    (the significance check of ``benchmarks/``, tests) skip the figures, which
    cost most of a report's time. Given a ``pool`` (`report.figure_pool`), each
    figure starts there as soon as its table is ready (``figures``). ``manifest``:
    the run's, as `read_manifest` returned it to the caller (read again if not
    given: reading checks the SHA-256 of every file, a fifth of a second on the
    default run).

    Raises
    ------
    DataError
        If ``run_dir`` is not a complete run, naming the missing or bad file.
    """
    run_dir = Path(run_dir)
    manifest, scenario = finished_run(
        run_dir, (PERSONS, CAMERAS, PERSON_OUTCOMES, GALLERIES, DECISIONS, HITS), manifest
    )
    scenario = scenario.with_thresholds(manifest.get("resolved_thresholds", {}))
    _check_report_place(run_dir)
    persons = pd.read_parquet(run_dir / PERSONS)
    tally = read_outcomes(run_dir)
    galleries = pd.read_parquet(run_dir / GALLERIES)
    check_run_against_config(run_dir, manifest, scenario, tally)
    cells = group_cells(persons, list(scenario.population.attributes))
    specs = _specs(scenario, galleries)
    settings = scenario.report
    figures = None
    if pool is not None:
        # The metrics table lists the groups as `cells` does: the same colours.
        figures = report.RunFigures(specs, report.group_colours(cells.labels), pool)
    ready: dict[str, pd.DataFrame] = {}

    def done(**tables: pd.DataFrame) -> None:
        # Each figure starts as soon as its table is there: with a pool, the DET
        # curves and heatmaps are drawn while the bootstraps run, and a deployment's
        # sweeps while the next deployment's bootstraps run.
        ready.update(tables)
        if figures is not None:
            for key, table in tables.items():
                figures.table(key, table)

    def deployment_done(mine: GroupMetrics) -> None:
        if figures is not None:
            figures.table("threshold_sweep", mine.threshold_sweep)
            figures.table("gallery_sweep", mine.gallery_sweep)
            figures.table("false_alert_shares", mine.shares)

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
        # As checked against the files by `finished_run`.
        rows=manifest["files"][DECISIONS]["rows"] + manifest["files"][HITS]["rows"],
    )
    done(det_points=det_points(counts, specs, cells))
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
    done(impostor_fmr=impostor_heatmap(impostors, cells))
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
        listed=scenario.population.values_by_attribute,
        on_deployment=deployment_done,
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
    if figures is not None:
        figures.lorenz(scenario, burden, persons)
    burden_groups = burden_by_group(burden, counted_deployments(deployments, alternatives), cells)
    report_progress(progress, "report", 4, _STEPS)
    tables = {
        "metrics": metrics.metrics,
        "disparities": metrics.disparities,
        "false_alert_shares": metrics.shares,
        "threshold_sweep": metrics.threshold_sweep,
        "gallery_sweep": metrics.gallery_sweep,
        "impostor_fmr": ready["impostor_fmr"],
        "det_points": ready["det_points"],
        "burden_by_group": burden_groups,
        "alternative_burden": alternative_burden(burden, deployments, alternatives, cells),
    }
    return RunTables(scenario, specs, tables, burden, persons, alternatives, figures)


def build_report(
    run_dir: str | Path, *, progress: Progress | None = None, figure_processes: int = 0
) -> ReportSummary:
    """Write ``RUN_DIR/report/``: tables as CSV and Parquet, and ``index.html``.

    With ``figure_processes`` of 2 or more the figures are drawn in that many new
    Python processes while the tables are computed (the command line uses
    `figure_processes()`). They import the calling script as ``multiprocessing``
    does, so a script that asks for them must keep its work under ``if __name__ ==
    "__main__":``; the default draws them in this process.

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
    with report.figure_pool(figure_processes) as pool:
        found = report_tables(run_dir, progress=progress, pool=pool, manifest=manifest)
        scenario, tables = found.scenario, found.tables
        summary = report.run_summary(
            scenario,
            tables["disparities"],
            tables["false_alert_shares"],
            tables["burden_by_group"],
            found.burden,
            alternatives=found.alternatives,
        )
        html = report.render_report(
            report.run_context(
                run_dir=run_dir.resolve().name,
                scenario=scenario,
                version=_version(manifest),
                specs=found.specs,
                tables=tables,
                burden=found.burden,
                summary=summary,
                persons=found.persons,
                cameras=pd.read_parquet(run_dir / CAMERAS),
                alternatives=found.alternatives,
                figures=found.figures,
            )
        )
    out = _write_report(run_dir, tables, html, summary, extra={"person_burden": found.burden})
    report_progress(progress, "report", 5, _STEPS)
    return ReportSummary(out, summary, tables, time.perf_counter() - started)


def figure_processes() -> int:
    """How many processes `riskclass report` draws figures in: one per CPU up to 4
    (each holds its own matplotlib and pandas, about 150 MB), none on one CPU, where
    drawing in the command's own process costs less than starting them."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, _FIGURE_WORKERS)
    return workers if workers >= 2 else 0


def _build_video_report(run_dir: Path, manifest: dict[str, Any], started: float) -> ReportSummary:
    """The same tables and HTML for rendered video: detectors in place of deployments."""
    scenario = manifest_scenario(run_dir, manifest)
    results = run_dir / VIDEO_RESULTS_DIR
    read_manifest(results, what="video result", hint=f"run `riskclass video run {run_dir}` first")
    _check_report_place(run_dir)
    detections = pd.read_csv(results / "detections.csv")
    groups = VideoGroups.of(scenario)
    metrics, disparities = video_group_metrics(
        detections, groups, rng=rng_for(scenario.seed, Stream.REPORT, 2)
    )
    stratified = stratified_disparities(
        detections, groups, rng=rng_for(scenario.seed, Stream.REPORT, 4)
    )
    tables = {
        "metrics": metrics,
        "disparities": disparities,
        "stratified_disparities": stratified,
        "detection_by_condition": detection_by_condition(detections, attributes=groups.attributes),
        "standardised_disparities": standardised_disparities(
            detections, groups, rng=rng_for(scenario.seed, Stream.REPORT, 6)
        ),
        "video_per_group": pd.read_csv(results / "video_per_group.csv"),
    }
    summary = report.video_summary(metrics, disparities, stratified)
    html = report.render_report(
        report.video_context(
            run_dir=run_dir.resolve().name,
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


def _check_report_place(run_dir: Path) -> None:
    """Refuse to replace a ``report`` in the run directory that no report wrote."""
    out = run_dir / REPORT_DIR
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise DataError(f"{out}: exists and is not a report directory; move it away first")
    if not (out / MANIFEST).is_file():
        raise DataError(f"{out}: exists and no report wrote it, so it is not replaced; move it")


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
        write_manifest(
            {
                "run": run_dir.resolve().name,
                "summary": summary,
                "versions": package_versions(),
            },
            staging,
        )
    return out


def read_outcomes(run_dir: Path) -> pd.DataFrame:
    """A run's ``person_outcomes.parquet``, which must say who each deployment can sight.

    Raises
    ------
    DataError
        If it lacks the ``searchable`` column (a run made before rates per resident
        counted only residents the cameras can sight).
    """
    outcomes = pd.read_parquet(run_dir / PERSON_OUTCOMES)
    if "searchable" not in outcomes.columns:
        raise DataError(
            f"{run_dir / PERSON_OUTCOMES}: no column 'searchable' (whether each deployment's "
            f"cameras can sight each person); this run was made by an older riskclass, run "
            f"it again"
        )
    return outcomes


def finished_run(
    run_dir: Path, files: Sequence[str], manifest: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Scenario]:
    """The manifest and scenario of a finished run, once its manifest lists each of
    ``files``; ``manifest`` is the run's if the caller has read it already."""
    if manifest is None:
        manifest = read_manifest(run_dir, hint=_RUN_HINT)
    for name in files:
        if name not in manifest["files"]:
            raise DataError(
                f"{run_dir}: not a finished riskclass run ({name} is missing); {_RUN_HINT}"
            )
    return manifest, manifest_scenario(run_dir, manifest)


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
