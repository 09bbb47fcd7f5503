"""`riskclass dynamics`: a scenario with ``dynamics`` over its periods, and its analysis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskclass import (
    GALLERIES,
    LISTINGS,
    PERIOD_OUTCOMES,
    REPORT_DIR,
    STANDING,
    ConfigError,
    Scenario,
    Stream,
    parquet_writer,
    report_progress,
    rng_for,
    write_parquet,
)
from riskclass.analysis import DynamicsTables, analyze_dynamics
from riskclass.pipeline import (
    LISTING_SCHEMA,
    PERIOD_OUTCOME_SCHEMA,
    STANDING_SCHEMA,
    DynamicsRun,
)

from ._options import RunOptions
from ._run import Calibration, RunSummary, _gallery_table, _staged, world_and_model

_NO_DYNAMICS = (
    "`riskclass dynamics` needs a 'dynamics' section (period_days, records, score, listings); "
    "see configs/social_credit_feedback.yaml"
)


def run_dynamics(
    scenario: Scenario,
    out: str | Path,
    options: RunOptions = RunOptions(),
    *,
    calibration: Calibration | None = None,
) -> RunSummary:
    """Run ``scenario`` period by period into the directory ``out``.

    Writes ``persons.parquet``, ``cameras.parquet``, ``calibration.csv``,
    ``embedding_model.json``, ``galleries.parquet`` (the drawn members),
    ``standing.parquet`` (one row per person and period), ``listings.parquet``
    (one row per listing the rules made) and ``period_outcomes.parquet`` (per
    period, person and deployment with a sighting: the outcome counts, records
    and damages); ``manifest.json`` last. Events and decisions are not kept: a
    run of months would hold tens of millions of them. ``options`` and ``calibration``
    as for `run`.
    """
    field = options.config_path or scenario.name
    if scenario.dynamics is None:
        raise ConfigError(field, [("dynamics", _NO_DYNAMICS)])
    if not scenario.deployments:
        raise ConfigError(field, [("deployments", "a run with dynamics needs a deployment")])
    scenario = scenario.with_mechanisms_applied()
    with _staged(scenario, out, options) as (staging, summary):
        persons, cameras, model = world_and_model(scenario, staging, summary, options, calibration)
        started = time.perf_counter()
        run = DynamicsRun(scenario=scenario, model=model, persons=persons, cameras=cameras)
        write_parquet(_gallery_table(run.members), staging / GALLERIES)
        summary.thresholds = run.thresholds
        rows = {"standing": 0, "listings": 0, "period_outcomes": 0}
        with (
            parquet_writer(staging / STANDING, STANDING_SCHEMA) as standing,
            parquet_writer(staging / LISTINGS, LISTING_SCHEMA) as listings,
            parquet_writer(staging / PERIOD_OUTCOMES, PERIOD_OUTCOME_SCHEMA) as outcomes,
        ):
            for period, result in enumerate(run.run()):
                standing.write_table(result.standing)
                listings.write_table(result.listings)
                outcomes.write_table(result.outcomes)
                rows["standing"] += result.standing.num_rows
                rows["listings"] += result.listings.num_rows
                rows["period_outcomes"] += result.outcomes.num_rows
                report_progress(options.progress, "periods", period + 1, run.periods)
        summary.rows.update(rows, periods=run.periods)
        summary.seconds["periods"] = time.perf_counter() - started

        started = time.perf_counter()
        summary.dynamics = write_dynamics_report(scenario, persons, staging)
        summary.seconds["analysis"] = time.perf_counter() - started
    return summary


# The report's tables, by file name (in ``report/`` of the run).
_TABLE_FILES = {
    "trajectories.csv": "trajectories",
    "amplification.csv": "amplification",
    "first_wrongful_listing.csv": "first_listing",
    "inequality.csv": "inequality",
    "lorenz.csv": "lorenz",
    "domain_correlation.csv": "domains",
    "risk_classes.csv": "classes",
    "risk_class_composition.csv": "composition",
}


def write_dynamics_report(scenario: Scenario, persons: pd.DataFrame, run: Path) -> DynamicsTables:
    """Analyse the dynamics run in ``run`` and write its tables and page to ``run/report``.

    Reads ``standing.parquet`` and ``period_outcomes.parquet`` a row group at a time.
    """
    from riskclass.analysis.report import dynamics_page  # matplotlib: only for the page

    tables = analyze_dynamics(
        scenario,
        persons,
        _row_groups(run / STANDING),
        _row_groups(run / PERIOD_OUTCOMES),
        rng=rng_for(scenario.seed, Stream.REPORT, 0),
    )
    report = run / REPORT_DIR
    report.mkdir(exist_ok=True)
    for name, attribute in _TABLE_FILES.items():
        frame: pd.DataFrame = getattr(tables, attribute)
        (report / name).write_text(frame.to_csv(index=False), encoding="utf-8")
    write_parquet(tables.positions, report / "positions.parquet")
    page = dynamics_page(tables, title=scenario.name, feedback=scenario.mechanisms.feedback)
    (report / "index.html").write_text(page, encoding="utf-8")
    return tables


def _row_groups(path: Path) -> Iterator[pa.Table]:
    parquet = pq.ParquetFile(path)
    for index in range(parquet.num_row_groups):
        yield parquet.read_row_group(index)
