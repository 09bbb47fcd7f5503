"""One run in one process against the same run split across a 2-worker local Dask
cluster, and what one chunk task costs: the numbers behind "Sizing a national run".

    uv run python benchmarks/bench_distributed_run.py [--persons 262144] [--days 1] [--tasks 4]
        [--worker-only]

Both runs are of configs/default.yaml at ``--persons`` persons and ``--days`` days,
with a warm calibration cache (filled first, outside the timings); the split run's
time includes starting the cluster. Then, in a fresh process (so that its peak
memory is a worker's), the chunk tasks of the first day are run one after another
as a worker runs them (`riskclass.commands._split`), with the `SharedEnrollment` a
worker is sent: each builds its band's generator and pipeline (the first also
the worker's model), in wall and CPU seconds; then their parts are written into
Parquet as the client writes them. Prints one line per measurement and the bytes
of output per event. ``--worker-only`` skips the two runs (it writes the world and
the model alone) for the chunk tasks and the worker's peak memory at a larger
population.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _machine import machine_line

from riskclass import (
    CAMERAS,
    EMBEDDING_MODEL,
    PERSONS,
    Scenario,
    load_config,
    parquet_writer,
    write_parquet,
)
from riskclass.commands import calibrate_and_check, run
from riskclass.commands._split import _chunk_task, _part, _read, _Setup  # what a worker runs
from riskclass.pipeline import DECISION_SCHEMA, HITS_SCHEMA, Pipeline
from riskclass.synthetic import (
    EVENT_SCHEMA,
    EmbeddingModel,
    district_residents,
    generate_population,
    place_cameras,
)

_PARQUET = ("events.parquet", "decisions.parquet", "hits.parquet")
_ENROLLMENT = "enrollment.pickle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=262_144)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--worker-only", action="store_true")
    parser.add_argument("--tasks-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = [f"population.size={args.persons}", f"days={args.days}"]
    scenario = load_config("configs/default.yaml", overrides)
    if args.tasks_of is not None:
        print(json.dumps(_tasks(scenario, args.tasks_of, args.tasks)))
        return
    print(machine_line())
    model, _ = calibrate_and_check(scenario.with_mechanisms_applied())
    with tempfile.TemporaryDirectory(prefix="riskclass-bench-split-") as scratch:
        root = Path(scratch)
        if args.worker_only:
            _world(scenario.with_mechanisms_applied(), model, root / "one")
        else:
            _compare_runs(scenario, root, args.persons, args.days)
        _share_enrollment(scenario.with_mechanisms_applied(), root / "one")
        measured = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--tasks-of", str(root / "one")],
            check=True,
            capture_output=True,
            text=True,
        )
        tasks = json.loads(measured.stdout.strip().splitlines()[-1])
    first, rest_tasks = tasks["tasks"][0], tasks["tasks"][1:]
    print(
        f"first task (the worker's model, then its band and chunk): {first['wall']:.1f} s "
        f"wall, {first['cpu']:.1f} s CPU, {first['events']:,} events"
    )
    for task in rest_tasks:
        print(
            f"chunk task (its band, then its chunk): {task['wall']:.2f} s wall, "
            f"{task['cpu']:.2f} s CPU, {task['events']:,} events "
            f"({task['events'] / task['wall']:,.0f} events/s)"
        )
    print(f"worker peak memory: {tasks['peak_mib']:,.0f} MiB at {args.persons:,} persons")
    print(
        f"client: reading the parts and writing them into Parquet: {tasks['client_wall']:.2f} s "
        f"wall for {tasks['client_events']:,} events "
        f"({tasks['client_events'] / tasks['client_wall']:,.0f} events/s)"
    )


def _compare_runs(scenario: Scenario, root: Path, persons: int, days: int) -> None:
    """The run in one process (into ``root / "one"``) and split on 2 local workers."""
    started = time.perf_counter()
    run(scenario, root / "one")
    alone = time.perf_counter() - started
    started = time.perf_counter()
    run(scenario, root / "two", workers=2)
    split = time.perf_counter() - started
    manifests = [json.loads((root / n / "manifest.json").read_text()) for n in ("one", "two")]
    same = manifests[0]["files"] == manifests[1]["files"]
    events = manifests[0]["rows"]["events"]
    print(
        f"{persons:,} persons x {days} days, {events:,} events: one process "
        f"{alone:.1f} s, 2 local workers {split:.1f} s (cluster start included), "
        f"ratio {alone / split:.2f}x; files identical: {same}"
    )
    files = manifests[0]["files"]
    streamed = sum(files[name]["bytes"] for name in _PARQUET)
    rest = sum(record["bytes"] for name, record in files.items() if name not in _PARQUET)
    print(
        f"output: {streamed / events:.1f} bytes per event (events, decisions, hits), "
        f"{rest / persons:.1f} bytes per person (the other files)"
    )


def _world(scenario: Scenario, model: EmbeddingModel, directory: Path) -> None:
    """What workers read of a run: its persons, cameras and model."""
    directory.mkdir()
    persons = generate_population(scenario)
    write_parquet(persons, directory / PERSONS)
    write_parquet(place_cameras(scenario, persons), directory / CAMERAS)
    (directory / EMBEDDING_MODEL).write_text(model.to_json() + "\n", encoding="utf-8")


def _share_enrollment(scenario: Scenario, directory: Path) -> None:
    """The whole population's `SharedEnrollment`, as the client makes and sends it."""
    model = EmbeddingModel.from_json(
        (directory / EMBEDDING_MODEL).read_text(encoding="utf-8"), scenario.algorithm
    )
    pipeline = Pipeline(
        scenario=scenario,
        model=model,
        persons=pd.read_parquet(directory / PERSONS),
        cameras=pd.read_parquet(directory / CAMERAS),
    )
    (directory / _ENROLLMENT).write_bytes(pickle.dumps(pipeline.enrollment))


def _tasks(scenario: Scenario, directory: Path, count: int) -> dict[str, object]:
    """Run chunk tasks 0 .. count - 1 here as a worker would, then write their parts."""
    scenario = scenario.with_mechanisms_applied()
    homes = pd.read_parquet(directory / PERSONS, columns=["home_district"])
    setup = _Setup(scenario, directory, district_residents(scenario, homes))
    enrollment = pickle.loads((directory / _ENROLLMENT).read_bytes())
    measured = []
    for index in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        state = _chunk_task(setup, enrollment, index)
        measured.append(
            {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
                "events": state.events,
            }
        )
    peak_mib = _peak_mib()
    started = time.perf_counter()
    out = directory / "client"
    out.mkdir()
    with (
        parquet_writer(out / "events.parquet", EVENT_SCHEMA) as events,
        parquet_writer(out / "decisions.parquet", DECISION_SCHEMA) as decisions,
        parquet_writer(out / "hits.parquet", HITS_SCHEMA) as hits,
    ):
        for index in range(count):
            part = _part(directory / ".parts", index)
            events.write_table(_read(part, "events", 0))
            decisions.write_table(_read(part, "decisions", 0))
            hits.write_table(_read(part, "hits", 0))
    return {
        "tasks": measured,
        "peak_mib": peak_mib,
        "client_wall": time.perf_counter() - started,
        "client_events": sum(int(task["events"]) for task in measured),
    }


def _peak_mib() -> float:
    """This process's peak resident memory since it started, in MiB.

    Not `resource.getrusage`: Linux keeps ``ru_maxrss`` across ``exec``, so this
    process would report its parent's memory at the fork (which holds the whole
    population's pipeline). ``VmHWM`` is of this process's own memory map.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark needs Linux)")


if __name__ == "__main__":
    main()
