"""One run in one process against the same run split across a 2-worker local Dask
cluster, and what one chunk task costs: the numbers behind "Sizing a national run".

    uv run python benchmarks/bench_distributed_run.py [--persons 262144] [--days 1] [--tasks 4]

Both runs are of configs/default.yaml at ``--persons`` persons and ``--days`` days,
with a warm calibration cache (filled first, outside the timings); the split run's
time includes starting the cluster. Then, in a fresh process (so that its peak
memory is a worker's), the chunk tasks of the first day are run one after another
as a worker runs them (`riskclass.commands._split`): the first one builds the
worker's copy of the run (enrollment), the others show the cost of a chunk alone,
in wall and CPU seconds; then their parts are written into Parquet as the client
writes them. Prints one line per measurement and the bytes of output per event.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine_line

from riskclass import Scenario, load_config, parquet_writer
from riskclass.commands import calibrate_and_check, run
from riskclass.commands._split import _chunk_task, _part, _read, _Setup  # what a worker runs
from riskclass.pipeline import DECISION_SCHEMA, HITS_SCHEMA
from riskclass.synthetic import EVENT_SCHEMA

_PARQUET = ("events.parquet", "decisions.parquet", "hits.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=262_144)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--tasks-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = [f"population.size={args.persons}", f"days={args.days}"]
    scenario = load_config("configs/default.yaml", overrides)
    if args.tasks_of is not None:
        print(json.dumps(_tasks(scenario, args.tasks_of, args.tasks)))
        return
    print(machine_line())
    calibrate_and_check(scenario.with_mechanisms_applied())
    with tempfile.TemporaryDirectory(prefix="riskclass-bench-split-") as scratch:
        root = Path(scratch)
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
            f"{args.persons:,} persons x {args.days} days, {events:,} events: one process "
            f"{alone:.1f} s, 2 local workers {split:.1f} s (cluster start included), "
            f"ratio {alone / split:.2f}x; files identical: {same}"
        )
        files = manifests[0]["files"]
        streamed = sum(files[name]["bytes"] for name in _PARQUET)
        rest = sum(record["bytes"] for name, record in files.items() if name not in _PARQUET)
        print(
            f"output: {streamed / events:.1f} bytes per event (events, decisions, hits), "
            f"{rest / args.persons:.1f} bytes per person (the other files)"
        )
        measured = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--tasks-of", str(root / "one")],
            check=True,
            capture_output=True,
            text=True,
        )
        tasks = json.loads(measured.stdout.strip().splitlines()[-1])
    first, rest_tasks = tasks["tasks"][0], tasks["tasks"][1:]
    print(
        f"first task (worker's copy of the run, then its chunk): {first['wall']:.1f} s wall, "
        f"{first['cpu']:.1f} s CPU, {first['events']:,} events"
    )
    for task in rest_tasks:
        print(
            f"chunk task: {task['wall']:.2f} s wall, {task['cpu']:.2f} s CPU, "
            f"{task['events']:,} events ({task['events'] / task['wall']:,.0f} events/s)"
        )
    print(f"worker peak memory: {tasks['peak_mib']:,.0f} MiB")
    print(
        f"client: reading the parts and writing them into Parquet: {tasks['client_wall']:.2f} s "
        f"wall for {tasks['client_events']:,} events "
        f"({tasks['client_events'] / tasks['client_wall']:,.0f} events/s)"
    )


def _tasks(scenario: Scenario, directory: Path, count: int) -> dict[str, object]:
    """Run chunk tasks 0 .. count - 1 here as a worker would, then write their parts."""
    setup = _Setup(scenario.with_mechanisms_applied(), directory)
    measured = []
    for index in range(count):
        wall, cpu = time.perf_counter(), time.process_time()
        state = _chunk_task(setup, index)
        measured.append(
            {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
                "events": state.events,
            }
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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


if __name__ == "__main__":
    main()
