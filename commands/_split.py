"""One run split into tasks on a Dask cluster: `riskclass run --workers N` or ``--scheduler``.

The world, the calibration and the enrollment are made once, on the client, as a
single-process run makes them. Then each chunk of events (one day of one band of
persons: the unit of the event generator's and the pipeline's random streams)
is one task: a worker generates the chunk's events, decides them
(`Pipeline.process_apart`), writes its tables as a part under the staging
directory and returns what the chunk adds to the tallies and the investigations.
The client takes the parts in chunk order, numbers their events as the
single-process run numbers them, writes them into the run's Parquet files with
the same writes, and adds up the tallies: the files are byte for byte those of
the single-process run.

Only the chunks are split. The investigations keep the best candidates over every
chunk, merged in chunk order on the client; the batch searches run on the client
after the last chunk. `run` treats the days as one window, so nothing else carries
over from one chunk to the next; standing and listings, which do carry over from
one period to the next, belong to `riskclass dynamics`, which is not split.

A worker holds one band of persons at a time: it reads the band's rows of the
persons table, and draws their identities and enrollment templates from the band's
own random streams (the same as within the whole population); what every band
shares (the galleries' members and templates, the thresholds, the investigations'
targets: `SharedEnrollment`) is sent to every worker once. So a worker's memory
follows the band and the galleries, not the population.

Workers read the world and the model from the staging directory and write their
parts there: they must share the output's filesystem (a local cluster does), and
compute as this machine does (the same packages and CPU kind) for the bytes to match.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskclass import (
    CAMERAS,
    EMBEDDING_MODEL,
    PERSONS,
    Progress,
    RiskclassError,
    Scenario,
    report_progress,
)
from riskclass.pipeline import ChunkResult, ChunkState, Pipeline, SharedEnrollment
from riskclass.synthetic import (
    EVENT_CHUNK_PERSONS,
    EmbeddingModel,
    EventGenerator,
    district_residents,
)

from ._cluster import RETRIES

# Parts live here under the staging directory until the client has written them.
_PARTS = ".parts"
_TABLES = ("events", "decisions", "hits")
# Chunks submitted ahead of the next one to write, per worker: enough to keep every
# worker busy while one slow chunk holds up the writing, few enough that the parts
# waiting on disk and their tallies in memory stay bounded.
_AHEAD_PER_WORKER = 4
_AHEAD_AT_LEAST = 8


class ChunkTaskError(RiskclassError):
    """A task of a run split across a cluster failed for good (after its retries)."""


@dataclass(frozen=True)
class _Setup:
    """What a task needs besides its chunk's index and the run's `SharedEnrollment`:
    the run's scenario (mechanisms applied), the staging directory that holds its
    world and model, and the whole population's residents per district."""

    scenario: Scenario
    staging: Path
    residents: npt.NDArray[np.int64]
    # The model's drift tables, which its JSON leaves out: solving them again took
    # each worker about 0.45 CPU s per run.
    drift: npt.NDArray[np.float64]


@dataclass
class _WorkerRun:
    """A worker's copy of the run it works for: the model and cameras, made on its
    first task, and the band of persons it decided last, with its generator and
    pipeline (the band's identities and templates), kept for a next task of that band."""

    model: EmbeddingModel
    cameras: pd.DataFrame
    band: int = -1
    deciding: tuple[EventGenerator, Pipeline] | None = None


# Per worker process, one run at a time.
_worker_runs: dict[Path, _WorkerRun] = {}
_worker_lock = threading.Lock()


def _chunk_task(setup: _Setup, enrollment: SharedEnrollment, index: int) -> ChunkState:
    """Generate and decide chunk ``index``; write its part; return what it adds."""
    # A pipeline decides one chunk at a time: `process_apart` swaps its state.
    with _worker_lock:
        generator, pipeline = _band_run(setup, enrollment, index)
        events = generator.chunk(index)
        result, state = pipeline.process_apart(events, index)
    _write_part(setup.staging / _PARTS, index, (events, result.decisions, result.hits))
    return state


def _band_run(
    setup: _Setup, enrollment: SharedEnrollment, index: int
) -> tuple[EventGenerator, Pipeline]:
    """The generator and pipeline of the band of persons of chunk ``index``."""
    if setup.staging not in _worker_runs:
        _worker_runs.clear()
        model = EmbeddingModel.from_json(
            (setup.staging / EMBEDDING_MODEL).read_text(encoding="utf-8"),
            setup.scenario.algorithm,
            drift=setup.drift,
        )
        _worker_runs[setup.staging] = _WorkerRun(model, pd.read_parquet(setup.staging / CAMERAS))
    run = _worker_runs[setup.staging]
    band = index % -(-setup.scenario.population.size // EVENT_CHUNK_PERSONS)
    if run.deciding is None or run.band != band:
        # The last band's persons go before this band's come.
        run.deciding = None
        first = band * EVENT_CHUNK_PERSONS
        # Statistics per row group let the reader skip the rows of other bands; a band
        # lies within one (pyarrow writes row groups of at most 1,048,576 rows).
        persons = pq.read_table(
            setup.staging / PERSONS,
            filters=[("person_id", ">=", first), ("person_id", "<", first + EVENT_CHUNK_PERSONS)],
        ).to_pandas()
        scenario, cameras = setup.scenario, run.cameras
        generator = EventGenerator(
            scenario=scenario, persons=persons, cameras=cameras, residents=setup.residents
        )
        pipeline = Pipeline(
            scenario=scenario,
            model=run.model,
            persons=persons,
            cameras=cameras,
            enrollment=enrollment,
        )
        run.band, run.deciding = band, (generator, pipeline)
    return run.deciding


def _release(staging: Path) -> None:
    """Let a worker's run go (its identities and templates) once the run is written."""
    with _worker_lock:
        _worker_runs.pop(staging, None)


def _write_part(parts: Path, index: int, tables: tuple[pa.Table, ...]) -> None:
    """Write a chunk's tables under a name of this attempt alone, then rename the whole
    part into place: a worker killed mid-task leaves a hidden leftover, never a part
    with missing rows, and a retried task never writes into another attempt's files."""
    attempt = parts / f".{index:07d}-{uuid.uuid4().hex}"
    attempt.mkdir(parents=True)
    for name, table in zip(_TABLES, tables, strict=True):
        # Arrow's own format keeps each table's chunks and dictionaries as they are,
        # so the client writes into Parquet exactly what `process` would have handed it.
        with pa.ipc.new_stream(str(attempt / f"{name}.arrows"), table.schema) as stream:
            stream.write_table(table)
    try:
        attempt.rename(_part(parts, index))
    except OSError:
        # Another attempt of this task finished first: its part holds the same rows.
        if not _part(parts, index).is_dir():
            raise
        shutil.rmtree(attempt, ignore_errors=True)


def _part(parts: Path, index: int) -> Path:
    return parts / f"{index:07d}"


def _read(part: Path, name: str, first_event_id: int) -> pa.Table:
    """One table of a part, its event ids numbered from ``first_event_id``."""
    with pa.ipc.open_stream(str(part / f"{name}.arrows")) as stream:
        table = stream.read_all()
    column = table.schema.get_field_index("event_id")
    ids = pc.add(table.column(column), pa.scalar(first_event_id, pa.int64()))
    return table.set_column(column, table.schema.field(column), ids)


class SplitRun:
    """The chunks of a run as the cluster decides them, in chunk order.

    `events` yields each chunk's events once its task has finished; `decided`
    then gives the chunk's decisions and hits and adds its counts to ``pipeline``.
    """

    def __init__(
        self, client: Any, setup: _Setup, pipeline: Pipeline, progress: Progress | None
    ) -> None:
        self._client = client
        # Sent to every worker once, not with every task (the drift tables are
        # about 0.5 MB).
        self._setup = client.scatter(setup, broadcast=True)
        self._enrollment = client.scatter(pipeline.enrollment, broadcast=True)
        self._pipeline = pipeline
        self._progress = progress
        self._parts = setup.staging / _PARTS
        # The chunk `events` yielded last: its part and what it adds.
        self._part = self._parts
        self._state: ChunkState | None = None
        self._first_event_id = 0

    def events(self, total: int) -> Iterator[pa.Table]:
        """The events of chunks ``0 .. total - 1``, in order, numbered across the run."""
        from distributed import as_completed

        ahead = max(_AHEAD_PER_WORKER * len(self._client.nthreads()), _AHEAD_AT_LEAST)
        finished = as_completed()  # type: ignore[no-untyped-call]
        index_of: dict[str, int] = {}
        submitted = 0
        token = uuid.uuid4().hex[:8]

        def submit_until(limit: int) -> None:
            nonlocal submitted
            while submitted < min(limit, total):
                future = self._client.submit(
                    _chunk_task,
                    self._setup,
                    self._enrollment,
                    submitted,
                    key=f"chunk-{token}-{submitted}",
                    retries=RETRIES,
                    pure=False,
                )
                index_of[future.key] = submitted
                finished.add(future)  # type: ignore[no-untyped-call]
                submitted += 1

        ready: dict[int, ChunkState] = {}
        written = done = 0
        submit_until(ahead)
        report_progress(self._progress, _status(len(index_of)), done, total)
        for future in finished:
            index = index_of.pop(future.key)
            ready[index] = self._result(future, index)
            future.release()
            done += 1
            report_progress(self._progress, _status(len(index_of)), done, total)
            while written in ready:
                self._state = ready.pop(written)
                self._part = _part(self._parts, written)
                yield _read(self._part, "events", self._first_event_id)
                shutil.rmtree(self._part)
                self._first_event_id += self._state.events
                written += 1
            submit_until(written + ahead)

    def decided(self) -> ChunkResult:
        """The decisions and hits of the chunk `events` yielded last; its counts are
        added to the pipeline."""
        assert self._state is not None, "decided() before events() yielded a chunk"
        self._pipeline.absorb(self._state, self._first_event_id)
        return ChunkResult(
            _read(self._part, "decisions", self._first_event_id),
            _read(self._part, "hits", self._first_event_id),
        )

    @staticmethod
    def _result(future: Any, index: int) -> ChunkState:
        try:
            state: ChunkState = future.result()
        except RiskclassError:
            raise
        except Exception as exc:
            raise ChunkTaskError(
                f"chunk {index} of the run failed after {RETRIES} retries: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        return state


def _status(in_flight: int) -> str:
    return f"events: {in_flight} tasks queued or running"


@contextmanager
def split_run(
    client: Any,
    scenario: Scenario,
    staging: Path,
    model: EmbeddingModel,
    pipeline: Pipeline,
    progress: Progress | None,
) -> Iterator[SplitRun]:
    """A `SplitRun` on the cluster of ``client``, for the run staged in ``staging``
    with ``model`` (whose JSON is there) and ``pipeline``; the parts and the workers'
    copies of the run are gone when it closes."""
    try:
        homes = pq.read_table(staging / PERSONS, columns=["home_district"]).to_pandas()
        residents = district_residents(scenario, homes)
        setup = _Setup(scenario, staging, residents, model.drift_tables)
        yield SplitRun(client, setup, pipeline, progress)
    finally:
        shutil.rmtree(staging / _PARTS, ignore_errors=True)
    # After a failure a worker keeps its copy until its next run replaces it.
    client.run(_release, staging)
