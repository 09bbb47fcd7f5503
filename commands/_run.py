"""Orchestration: run the stages of a scenario and write their outputs.

Data flows one way: config -> synthetic -> pipeline -> analysis. This module is the
only place that knows the order of the stages; the files' names are the base's
run-directory contract.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskclass import (
    CALIBRATION,
    CAMERAS,
    DECISIONS,
    EMBEDDING_MODEL,
    EVENTS,
    GALLERIES,
    HITS,
    PER_GROUP,
    PERSON_OUTCOMES,
    PERSONS,
    ChunkWriter,
    ConfigError,
    Progress,
    Scenario,
    Stream,
    parquet_writer,
    provenance,
    report_progress,
    rng_for,
    write_manifest,
    write_parquet,
)
from riskclass.analysis import CALIBRATION_COLUMNS, calibration_table, per_group_table
from riskclass.pipeline import (
    DECISION_SCHEMA,
    HITS_SCHEMA,
    ChunkResult,
    Pipeline,
    member_weights,
    process_alike,
)
from riskclass.synthetic import (
    EVENT_SCHEMA,
    EmbeddingModel,
    EventGenerator,
    calibrate,
    generate_population,
    measure_rates,
    place_cameras,
)

from . import _cache
from ._cluster import dask_client
from ._options import RunOptions
from ._split import split_run

_NO_DEPLOYMENTS = (
    "a run needs at least one deployment; for the world alone use `riskclass generate`, "
    "for rendered video `riskclass video render`"
)
# The out-of-sample check of calibration uses its own seed, derived from the scenario's.
_CHECK_SEED_OFFSET = 1_000_003


@dataclass
class RunSummary:
    """What a run produced: row counts, timings, exposure by district, per-group rates."""

    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    performance: dict[str, float] = field(default_factory=dict)
    districts: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: pd.DataFrame | None = None
    # "hit", "miss" (calibrated, then cached) or "off" (--no-cache); empty if not calibrated.
    calibration_cache: str = ""
    per_group: pd.DataFrame | None = None
    # Per deployment with an ``fpir`` target, the threshold it resolved to.
    thresholds: dict[str, float] = field(default_factory=dict)
    # A run with dynamics: its analysis (`riskclass.analysis.DynamicsTables`).
    dynamics: Any = None


# A calibrated model and its calibration table (configured vs realized rates).
Calibration = tuple[EmbeddingModel, pd.DataFrame]


def calibrate_and_check(
    scenario: Scenario, *, progress: Progress | None = None, cache: bool = True
) -> Calibration:
    """Calibrate the embedding model, then measure its rates on fresh samples.

    Returns the model and the calibration table (see `calibration_table`). With
    ``cache`` (the default) both come from the calibration cache when it holds
    this algorithm and seed, and go into it when it does not.
    """
    model, table, _ = _calibration(scenario, progress=progress, cache=cache)
    return model, table


def _calibration(
    scenario: Scenario, *, progress: Progress | None, cache: bool
) -> tuple[EmbeddingModel, pd.DataFrame, str]:
    """`calibrate_and_check`, and whether the cache had it: "hit", "miss" or "off"."""
    key = _cache.calibration_key(scenario.algorithm, scenario.seed)
    entry = _cache.load(key) if cache else None
    if entry is not None:
        cached = _parse_cached(entry, scenario)
        if cached is not None:
            return *cached, "hit"
    model = calibrate(scenario.algorithm, seed=scenario.seed, progress=progress)
    check_seed = scenario.seed + _CHECK_SEED_OFFSET
    counts = measure_rates(model, seed=check_seed, progress=progress)
    table = calibration_table(counts, rng=rng_for(check_seed, Stream.CALIBRATION, 4))
    if not cache:
        return model, table, "off"
    _cache.store(
        key,
        _cache.CachedCalibration(model.to_json(), table.to_csv(index=False), model.drift_tables),
    )
    return model, table, "miss"


def _parse_cached(entry: _cache.CachedCalibration, scenario: Scenario) -> Calibration | None:
    """The model and table of a cache entry, or None if it does not parse (then it is redone)."""
    try:
        model = EmbeddingModel.from_json(entry.model_json, scenario.algorithm, drift=entry.drift)
        # pandas reads back exactly the floats it wrote (tested: a cached run's
        # calibration.csv is byte for byte a cold run's).
        table = pd.read_csv(io.StringIO(entry.table_csv))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if tuple(table.columns) != CALIBRATION_COLUMNS:
        return None
    return model, table


def generate(scenario: Scenario, out: str | Path, options: RunOptions = RunOptions()) -> RunSummary:
    """Generate the synthetic world of ``scenario`` into the directory ``out``.

    Writes ``persons.parquet``, ``cameras.parquet``, ``events.parquet`` and, last,
    ``manifest.json``. The directory appears only when all of them are complete.
    """
    scenario = scenario.with_mechanisms_applied()
    with _staged(scenario, out, options) as (staging, summary):
        persons, cameras = _write_world(scenario, staging, summary)
        _stream_events(
            scenario, persons, cameras, staging, summary, options.progress, on_chunk=None
        )
    return summary


def run(
    scenario: Scenario,
    out: str | Path,
    options: RunOptions = RunOptions(),
    *,
    calibration: Calibration | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> RunSummary:
    """Run the whole flow of ``scenario`` into the directory ``out``.

    Generates the world, calibrates the embeddings, enrolls the galleries, runs
    every deployment over the camera events and aggregates decisions per group.
    Writes, besides `generate`'s files, ``calibration.csv``,
    ``embedding_model.json``, ``galleries.parquet``, ``decisions.parquet``,
    ``hits.parquet``, ``person_outcomes.parquet`` and ``per_group.csv``; ``manifest.json`` last.
    The calibration comes from the calibration cache unless ``options.cache`` is false
    (see `calibrate_and_check`); the manifest records which. ``calibration``: what
    `calibrate_and_check` returns for this scenario (with its mechanisms applied),
    computed once and shared, as sweeps do.

    With ``scheduler`` (a Dask scheduler's address) or ``workers`` (a local cluster
    of that many processes), the chunks of events are decided as tasks on the
    cluster (see `riskclass.commands._split`); the files are the same, byte for
    byte, and only the manifest's timings differ.
    """
    if scheduler is None and workers is None:
        return run_alike([scenario], [out], options, calibration=calibration)[0]
    _check_deployments(scenario, options)
    scenario = scenario.with_mechanisms_applied()
    # The cluster first: an unreachable scheduler is reported before any work.
    with (
        dask_client(scheduler, workers or 1) as client,
        _staged(scenario, out, options) as (staging, summary),
    ):
        persons, cameras, model = world_and_model(scenario, staging, summary, options, calibration)
        pipeline = _enrolled(scenario, model, persons, cameras, staging, summary)
        with _decision_files(staging) as files:
            with split_run(client, scenario, staging, model, pipeline, options.progress) as split:
                _stream_events(
                    scenario,
                    persons,
                    cameras,
                    staging,
                    summary,
                    options.progress,
                    on_chunk=lambda chunk, index: files.write(split.decided()),
                    source=split.events,
                )
            files.finish(pipeline)
        _tally(scenario, pipeline, files.rows, persons, cameras, staging, summary)
    return summary


def run_alike(
    scenarios: Sequence[Scenario],
    outs: Sequence[str | Path],
    options: RunOptions = RunOptions(),
    *,
    calibration: Calibration | None = None,
) -> list[RunSummary]:
    """`run` of each of ``scenarios`` into its directory of ``outs``, for scenarios
    alike: differing in their deployments' thresholds at most (the same
    `riskclass.pipeline.alike_key`), as a sweep of thresholds makes them. Only
    decisions read a threshold, so the world, calibration, events, enrollment and
    each chunk's captures and searches are made once, by the first; each run's
    files are those of its run alone.

    Raises
    ------
    ValueError
        If the scenarios are not alike.
    """
    for scenario in scenarios:
        _check_deployments(scenario, options)
    scenarios = [scenario.with_mechanisms_applied() for scenario in scenarios]
    with ExitStack() as stack:
        runs = [
            stack.enter_context(_staged(s, out, options))
            for s, out in zip(scenarios, outs, strict=True)
        ]
        (staging, summary), others = runs[0], runs[1:]
        persons, cameras, model = world_and_model(
            scenarios[0], staging, summary, options, calibration
        )
        pipelines = [_enrolled(scenarios[0], model, persons, cameras, staging, summary)]
        for scenario, (other, other_summary) in zip(scenarios[1:], others, strict=True):
            for name in (PERSONS, CAMERAS, CALIBRATION, EMBEDDING_MODEL):
                shutil.copyfile(staging / name, other / name)
            other_summary.rows.update(summary.rows)
            other_summary.seconds.update(summary.seconds)
            other_summary.calibration = summary.calibration
            other_summary.calibration_cache = summary.calibration_cache
            pipelines.append(pipelines[0].alike(scenario, persons, cameras))
            write_parquet(_gallery_table(pipelines[-1].members), other / GALLERIES)
        files = [stack.enter_context(_decision_files(other)) for other, _ in runs]

        def decide(chunk: pa.Table, index: int) -> None:
            for mine, result in zip(files, process_alike(pipelines, chunk, index), strict=True):
                mine.write(result)

        _stream_events(
            scenarios[0], persons, cameras, staging, summary, options.progress, on_chunk=decide
        )
        for (other, other_summary), pipeline, mine in zip(runs, pipelines, files, strict=True):
            if other != staging:
                shutil.copyfile(staging / EVENTS, other / EVENTS)
                other_summary.rows["events"] = summary.rows["events"]
                other_summary.seconds["events"] = summary.seconds["events"]
                other_summary.districts = summary.districts
            mine.finish(pipeline)
        for scenario, (other, other_summary), pipeline, mine in zip(
            scenarios, runs, pipelines, files, strict=True
        ):
            _tally(scenario, pipeline, mine.rows, persons, cameras, other, other_summary)
    return [summary for _, summary in runs]


def _check_deployments(scenario: Scenario, options: RunOptions) -> None:
    if not scenario.deployments:
        raise ConfigError(options.config_path or scenario.name, [("deployments", _NO_DEPLOYMENTS)])


def _enrolled(
    scenario: Scenario,
    model: EmbeddingModel,
    persons: pd.DataFrame,
    cameras: pd.DataFrame,
    staging: Path,
    summary: RunSummary,
) -> Pipeline:
    """The run's pipeline, its galleries written."""
    started = time.perf_counter()
    pipeline = Pipeline(scenario=scenario, model=model, persons=persons, cameras=cameras)
    write_parquet(_gallery_table(pipeline.members), staging / GALLERIES)
    summary.seconds["enrollment"] = time.perf_counter() - started
    return pipeline


@dataclass
class _DecisionFiles:
    """A run's decisions and hits, written a chunk at a time; ``rows`` counts them."""

    decisions: ChunkWriter
    hits: ChunkWriter
    rows: dict[str, int] = field(default_factory=lambda: {"decisions": 0, "hits": 0})

    def write(self, result: ChunkResult, *, empty_hits: bool = True) -> None:
        self.decisions.write_table(result.decisions)
        # An empty table still adds a row group: after the events, where the
        # investigations have no hits, it is left out.
        if empty_hits or result.hits.num_rows:
            self.hits.write_table(result.hits)
        self.rows["decisions"] += result.decisions.num_rows
        self.rows["hits"] += result.hits.num_rows

    def finish(self, pipeline: Pipeline) -> None:
        """The decisions made once every chunk is seen (`Pipeline.finish`)."""
        for result in pipeline.finish():
            self.write(result, empty_hits=False)


@contextmanager
def _decision_files(staging: Path) -> Iterator[_DecisionFiles]:
    with (
        parquet_writer(staging / DECISIONS, DECISION_SCHEMA) as decisions,
        parquet_writer(staging / HITS, HITS_SCHEMA) as hits,
    ):
        yield _DecisionFiles(decisions, hits)


def _tally(
    scenario: Scenario,
    pipeline: Pipeline,
    rows: dict[str, int],
    persons: pd.DataFrame,
    cameras: pd.DataFrame,
    staging: Path,
    summary: RunSummary,
) -> None:
    """The run's counts per person and per group, written, and its summary completed."""
    summary.rows.update(rows, searches_cut=pipeline.searches_cut)
    summary.thresholds = pipeline.thresholds
    summary.performance["events_per_second"] = round(
        summary.rows["events"] / summary.seconds["events"]
    )
    tally = pipeline.tally.frame()
    # Deployment-major, as the tally's rows: per-resident rates count only these.
    tally["searchable"] = pipeline.searchable(cameras).ravel()
    write_parquet(tally, staging / PERSON_OUTCOMES)
    attributes = list(scenario.population.attributes)
    summary.per_group = per_group_table(
        tally, persons, attributes=attributes, days=scenario.days, deployments=scenario.deployments
    )
    (staging / PER_GROUP).write_text(summary.per_group.to_csv(index=False), encoding="utf-8")


def world_and_model(
    scenario: Scenario,
    staging: Path,
    summary: RunSummary,
    options: RunOptions,
    calibration: Calibration | None,
) -> tuple[pd.DataFrame, pd.DataFrame, EmbeddingModel]:
    """Write the world and the calibration into ``staging``; the persons, cameras and model.

    ``calibration``: computed once and shared (see `run`); otherwise calibrated,
    or taken from the cache when ``options.cache`` allows.
    """
    persons, cameras = _write_world(scenario, staging, summary)
    # Enrollment needs the calibrated model, but whether each gallery can be
    # filled shows in the persons already: fail now, not after calibration.
    for index, gallery in enumerate(scenario.galleries):
        member_weights(gallery, persons, field=f"galleries.{index}")

    started = time.perf_counter()
    if calibration is None:
        model, table, summary.calibration_cache = _calibration(
            scenario, progress=options.progress, cache=options.cache
        )
    else:
        model, table = calibration
    (staging / CALIBRATION).write_text(table.to_csv(index=False), encoding="utf-8")
    (staging / EMBEDDING_MODEL).write_text(model.to_json() + "\n", encoding="utf-8")
    summary.calibration = table
    summary.seconds["calibration"] = time.perf_counter() - started
    return persons, cameras, model


@contextmanager
def _staged(
    scenario: Scenario, out: str | Path, options: RunOptions
) -> Iterator[tuple[Path, RunSummary]]:
    """A staging directory and summary; the manifest is written last, on success only."""
    summary = RunSummary(out=Path(out))
    with options.staging(out) as staging:
        yield staging, summary
        write_manifest(_manifest(scenario, summary, options.config_path), staging)


def _write_world(
    scenario: Scenario, directory: Path, summary: RunSummary
) -> tuple[pd.DataFrame, pd.DataFrame]:
    started = time.perf_counter()
    persons = generate_population(scenario)
    cameras = place_cameras(scenario, persons)
    write_parquet(persons, directory / PERSONS)
    write_parquet(cameras, directory / CAMERAS)
    summary.rows.update(persons=len(persons), cameras=len(cameras))
    summary.seconds["population_and_cameras"] = time.perf_counter() - started
    return persons, cameras


def _stream_events(
    scenario: Scenario,
    persons: pd.DataFrame,
    cameras: pd.DataFrame,
    directory: Path,
    summary: RunSummary,
    progress: Progress | None,
    *,
    on_chunk: Callable[[pa.Table, int], None] | None,
    source: Callable[[int], Iterator[pa.Table]] | None = None,
) -> None:
    """Generate events chunk by chunk, write each, and hand it to ``on_chunk``.

    ``source``: given the number of chunks, yields them in order and reports the
    progress itself (a run split across a cluster); by default they are generated here.
    """
    started = time.perf_counter()
    generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
    total = generator.total_chunks
    chunks = generator.chunks() if source is None else source(total)
    home = persons["home_district"].cat.codes.to_numpy()
    sightings_by_home = np.zeros(len(scenario.districts), dtype=np.int64)
    events = 0
    with parquet_writer(directory / EVENTS, EVENT_SCHEMA) as writer:
        for index, chunk in enumerate(chunks):
            writer.write_table(chunk)
            if on_chunk is not None:
                on_chunk(chunk, index)
            events += chunk.num_rows
            person_ids = chunk.column("person_id").to_numpy()
            sightings_by_home += np.bincount(home[person_ids], minlength=len(sightings_by_home))
            if source is None:
                report_progress(progress, "events", index + 1, total)
    summary.seconds["events"] = time.perf_counter() - started
    summary.rows["events"] = events
    summary.districts = _district_table(scenario, persons, cameras, sightings_by_home)


def _gallery_table(members: dict[str, np.ndarray]) -> pd.DataFrame:
    names = list(members)
    return pd.DataFrame(
        {
            "gallery": pd.Categorical.from_codes(
                np.repeat(np.arange(len(names)), [len(m) for m in members.values()]).astype(int),
                categories=pd.Index(names),
            ),
            "person_id": np.concatenate([*members.values(), np.empty(0, np.int64)]),
        }
    )


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
    occupied = table["residents"].where(table["residents"] > 0)
    table["cameras_per_1000"] = 1000 * table["cameras"] / occupied
    table["sightings_per_resident_day"] = table["sightings"] / (occupied * scenario.days)
    return table


def _manifest(
    scenario: Scenario, summary: RunSummary, config_path: str | Path | None
) -> dict[str, Any]:
    return {
        **provenance(scenario, config_path),
        "rows": summary.rows,
        "resolved_thresholds": summary.thresholds,
        "timings_s": {k: round(v, 3) for k, v in summary.seconds.items()},
        "performance": summary.performance,
        **({"calibration_cache": summary.calibration_cache} if summary.calibration_cache else {}),
    }
