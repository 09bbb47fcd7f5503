"""Orchestration: run the stages of a scenario and write their outputs.

Data flows one way: config -> synthetic -> pipeline -> analysis. This module is the
only place that knows the order and the file names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskclass.analysis import calibration_table
from riskclass.synthetic import (
    EVENT_SCHEMA,
    EmbeddingModel,
    EventGenerator,
    calibrate,
    generate_population,
    measure_rates,
    place_cameras,
)

from ._config import Scenario
from ._outputs import (
    MANIFEST,
    atomic_output_dir,
    package_versions,
    parquet_writer,
    write_json,
    write_parquet,
)
from ._progress import Progress, report

CALIBRATION = "calibration.csv"
EMBEDDING_MODEL = "embedding_model.json"
PERSONS = "persons.parquet"
CAMERAS = "cameras.parquet"
EVENTS = "events.parquet"


@dataclass
class RunSummary:
    """What a run produced: row counts, timings and per-district exposure."""

    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    districts: pd.DataFrame = field(default_factory=pd.DataFrame)


# The out-of-sample check of calibration uses its own seed, derived from the scenario's.
_CHECK_SEED_OFFSET = 1_000_003


def calibrate_and_check(
    scenario: Scenario, *, progress: Progress | None = None
) -> tuple[EmbeddingModel, pd.DataFrame]:
    """Calibrate the embedding model, then measure its rates on fresh samples.

    Returns the model and the calibration table (see `calibration_table`).
    """
    model = calibrate(scenario.algorithm, seed=scenario.seed, progress=progress)
    check_seed = scenario.seed + _CHECK_SEED_OFFSET
    counts = measure_rates(model, seed=check_seed, progress=progress)
    return model, calibration_table(counts, seed=check_seed)


def generate(
    scenario: Scenario,
    out: str | Path,
    *,
    force: bool = False,
    config_path: str | Path | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Generate the synthetic world of ``scenario`` into the directory ``out``.

    Writes ``persons.parquet``, ``cameras.parquet``, ``events.parquet`` and, last,
    ``manifest.json``. The directory appears only when all of them are complete.
    """
    summary = RunSummary(out=Path(out))
    with atomic_output_dir(out, force=force) as staging:
        _generate_into(scenario, staging, summary, progress)
        write_json(_manifest(scenario, summary, config_path), staging / MANIFEST)
    return summary


def _generate_into(
    scenario: Scenario, directory: Path, summary: RunSummary, progress: Progress | None
) -> None:
    started = time.perf_counter()
    persons = generate_population(scenario)
    cameras = place_cameras(scenario, persons)
    write_parquet(persons, directory / PERSONS)
    write_parquet(cameras, directory / CAMERAS)
    summary.seconds["population_and_cameras"] = time.perf_counter() - started

    started = time.perf_counter()
    generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
    home = persons["home_district"].cat.codes.to_numpy()
    sightings_by_home = np.zeros(len(scenario.districts), dtype=np.int64)
    events = 0
    with parquet_writer(directory / EVENTS, EVENT_SCHEMA) as writer:
        for done, chunk in enumerate(generator.chunks(), start=1):
            writer.write_table(chunk)
            events += chunk.num_rows
            person_ids = chunk.column("person_id").to_numpy()
            sightings_by_home += np.bincount(home[person_ids], minlength=len(sightings_by_home))
            report(progress, "events", done, generator.total_chunks)
    summary.seconds["events"] = time.perf_counter() - started
    summary.rows = {"persons": len(persons), "cameras": len(cameras), "events": events}
    summary.districts = _district_table(scenario, persons, cameras, sightings_by_home)


def _district_table(
    scenario: Scenario, persons: pd.DataFrame, cameras: pd.DataFrame, sightings: np.ndarray
) -> pd.DataFrame:
    names = scenario.district_names
    residents = persons["home_district"].value_counts().reindex(names, fill_value=0)
    n_cameras = cameras["district"].value_counts().reindex(names, fill_value=0)
    table = pd.DataFrame(
        {
            "district": names,
            "residents": residents.to_numpy(),
            "cameras": n_cameras.to_numpy(),
            "sightings": sightings,
        }
    )
    table["cameras_per_1000"] = (
        1000 * table["cameras"] / table["residents"].where(table["residents"] > 0)
    )
    table["sightings_per_resident_day"] = table["sightings"] / (
        table["residents"].where(table["residents"] > 0) * scenario.days
    )
    return table


def _manifest(
    scenario: Scenario, summary: RunSummary, config_path: str | Path | None
) -> dict[str, Any]:
    return {
        "complete": True,
        "scenario": scenario.name,
        "seed": scenario.seed,
        "config_file": str(config_path) if config_path is not None else None,
        "config": scenario.model_dump(mode="json"),
        "versions": package_versions(),
        "rows": summary.rows,
        "timings_s": {k: round(v, 3) for k, v in summary.seconds.items()},
    }
