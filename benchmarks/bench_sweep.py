"""A sweep on a 2-worker local Dask cluster against the same runs one after another.

    uv run python benchmarks/bench_sweep.py [--settings 4] [--seeds 3] [--sizes 20000 50000]
        [--sides strict sweep-cli ...] [--rounds N] [--grid PATH=V1,V2,...]

Each size runs one small scenario (configs/default.yaml at that many persons and 2
days) at ``--settings`` street thresholds (or the values of ``--grid``, a grid
over something else, whose runs share nothing but calibration) times ``--seeds``
seeds, with a warm
calibration cache (filled before any timing), six ways, each timed end to end:

- ``library, one after another``: `riskclass.commands.run` per run in this
  process, its threads at their default (every CPU), each run reading its model
  from the calibration cache;
- ``library, calibration shared``: the same, with each seed's calibration read
  once and passed to its runs, as the sweep shares it (the strict baseline);
- ``library, runs alike shared``: the same, each seed's runs made together by
  `riskclass.commands.run_alike`, which makes their world, events, enrollment,
  captures and searches once (the stricter baseline: the sweep's work done in one
  process, minus the cluster and the combined page);
- ``CLI, one after another``: ``riskclass run CONFIG --set ...`` per run, a fresh
  process each (what a user does without the sweep command);
- ``sweep``: `riskclass.commands.sweep` in this process, and ``riskclass sweep``
  as a fresh process; both start their local cluster, and both write the combined
  ``sweep.csv`` and ``index.html`` inside the timing. The one-after-another sides
  write no combined table or page. The library sweeps of later sizes reuse the
  fork server that the first started (it imported riskclass then), as sweeps
  made in one process do; each ``riskclass sweep`` starts its own.

``--sides`` times some of them only (by the short names below); ``--rounds N``
times them N times in turn, so that a changing load weighs on each alike, and
gives each side's median.

Every run's files (all but the manifest, which records timings) are checked to
be the same bytes on every side. Prints each time with the load average before
it and the CPU seconds the side used in all its processes (this one, the commands
it waits for, and the fork server and workers of a local cluster, sampled every
0.1 s: the last tenth of a second of each is missed), then each baseline over each
sweep. On a busy machine the CPU seconds say more than the times: there each
process gets a share of the cores by its runnable threads, whatever it does.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import yaml
from _machine import REPO, machine_line

from riskclass import THREADS_VARIABLE, worker_threads
from riskclass.commands import (
    Grid,
    RunOptions,
    SweepRun,
    calibrate_and_check,
    plan,
    run,
    run_alike,
    sweep,
)
from riskclass.pipeline import alike_key

GRID_PATH = "deployments.street_watchlist.threshold"
# Every file of a run but its manifest (which records timings).
COMPARED = ("persons.parquet", "cameras.parquet", "events.parquet", "galleries.parquet",
            "decisions.parquet", "hits.parquet", "person_outcomes.parquet", "per_group.csv",
            "calibration.csv", "embedding_model.json")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000])
    parser.add_argument("--sides", nargs="+", choices=list(SIDES), default=list(SIDES))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--grid",
        help="PATH=V1,V2,... to sweep instead of --settings street thresholds",
    )
    args = parser.parse_args()
    thresholds = [f"{0.56 + 0.02 * i:g}" for i in range(args.settings)]
    path, _, values = (args.grid or f"{GRID_PATH}={','.join(thresholds)}").partition("=")
    print(machine_line())
    print(
        f"threads: {worker_threads()} in this process and in each `riskclass run`; "
        f"1 in each sweep worker ({THREADS_VARIABLE}=1); 2 workers"
    )
    for persons in args.sizes:
        with tempfile.TemporaryDirectory(prefix="riskclass-bench-sweep-") as scratch:
            _one_size(
                Path(scratch),
                persons,
                (path, values.split(",")),
                args.seeds,
                args.sides,
                args.rounds,
            )


# Each side's short name (for ``--sides``) and label; the first four are baselines.
SIDES = {
    "library": "library, one after another",
    "strict": "library, calibration shared",
    "alike": "library, runs alike shared",
    "cli": "CLI, one after another",
    "sweep": "sweep (library)",
    "sweep-cli": "sweep (CLI)",
}


def _one_size(
    root: Path,
    persons: int,
    swept_values: tuple[str, list[str]],
    seeds: int,
    chosen: list[str],
    rounds: int,
) -> None:
    data = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    data["population"]["size"] = persons
    data["days"] = 2
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    grid_path, values = swept_values
    grid = Grid.parse([f"{grid_path}={','.join(values)}"])
    runs = plan(config, grid, seeds=seeds, out=root / "x")
    # Warm the calibration cache for every seed, outside the timings.
    for seed_run in runs[:seeds]:
        calibrate_and_check(seed_run.scenario.with_mechanisms_applied())
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}

    def timed(label: str, work: Callable[[Path], object]) -> None:
        # A round after the first starts afresh: a sweep would keep the runs it finds.
        shutil.rmtree(root / label, ignore_errors=True)
        load = os.getloadavg()[0]
        with cpu_seconds() as cpu:
            started = time.perf_counter()
            work(root / label)
            seconds = time.perf_counter() - started
        times.setdefault(label, []).append(seconds)
        cpus.setdefault(label, []).append(cpu[0])
        print(
            f"  {label}: {seconds:.1f} s, {cpu[0]:.1f} CPU s (load average {load:.1f} before)",
            flush=True,
        )

    def library(out: Path) -> None:
        for one in runs:
            run(one.scenario, _moved(one, out), RunOptions(force=True))

    def shared(out: Path) -> None:
        calibrations = {}
        for one in runs:
            key = one.calibration_key
            if key not in calibrations:
                calibrations[key] = calibrate_and_check(one.scenario.with_mechanisms_applied())
            run(
                one.scenario,
                _moved(one, out),
                RunOptions(force=True),
                calibration=calibrations[key],
            )

    def alike(out: Path) -> None:
        # Runs of one seed and one `alike_key` (all of a seed's runs in a sweep of
        # thresholds, each run alone in a sweep of anything else).
        groups: dict[tuple[int, str], list[SweepRun]] = {}
        for one in runs:
            key = alike_key(one.scenario.with_mechanisms_applied())
            groups.setdefault((one.seed, key), []).append(one)
        for mine in groups.values():
            calibration = calibrate_and_check(mine[0].scenario.with_mechanisms_applied())
            run_alike(
                [one.scenario for one in mine],
                [_moved(one, out) for one in mine],
                RunOptions(force=True),
                calibration=calibration,
            )

    def cli(out: Path) -> None:
        for one in runs:
            setting = grid.settings()[one.setting][grid_path]
            _riskclass(
                "run",
                str(config),
                "--out",
                str(_moved(one, out)),
                "--set",
                f"{grid_path}={setting}",
                "--set",
                f"seed={one.seed}",
            )

    def swept(out: Path) -> None:
        sweep(config, grid, seeds=seeds, out=out, workers=2)

    def swept_cli(out: Path) -> None:
        _riskclass(
            "sweep",
            str(config),
            "--grid",
            f"{grid_path}={','.join(values)}",
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--workers",
            "2",
        )

    print(
        f"{len(runs)} runs of {persons:,} persons x 2 days "
        f"({grid_path} at {len(values)} values x {seeds} seeds):"
    )
    work = {"library": library, "strict": shared, "alike": alike, "cli": cli}
    work |= {"sweep": swept, "sweep-cli": swept_cli}
    sides = [SIDES[name] for name in SIDES if name in chosen]
    for _ in range(rounds):
        for name in SIDES:
            if name in chosen:
                timed(SIDES[name], work[name])
    reference = root / sides[0]
    for label in sides[1:]:
        for one in runs:
            for name in COMPARED:
                mine = _moved(one, root / label) / name
                if mine.read_bytes() != (_moved(one, reference) / name).read_bytes():
                    raise SystemExit(f"{label}: {one.out.name}/{name} differs")
    print("  every run's files are the same bytes on every side")
    if rounds > 1:
        for label in sides:
            print(
                f"  {label}, median of {rounds}: {statistics.median(times[label]):.1f} s, "
                f"{statistics.median(cpus[label]):.1f} CPU s"
            )
    baselines = [SIDES[name] for name in list(SIDES)[:4] if SIDES[name] in sides]
    for baseline in baselines:
        for label in [SIDES[name] for name in list(SIDES)[4:] if SIDES[name] in sides]:
            ratio = statistics.median(times[baseline]) / statistics.median(times[label])
            print(f"  {baseline} / {label}: {ratio:.2f}x")


@contextmanager
def cpu_seconds() -> Iterator[list[float]]:
    """User and system CPU seconds of this process and every process it starts
    during the block; the list's one item is set when the block ends.

    Direct children that this process waits for count exactly (the commands run
    one after another); the others (a local cluster's fork server, and its
    workers, whose parent is the fork server) are sampled, as this process does
    not wait for them.
    """
    me = psutil.Process()

    def used(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def waited() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before = {p.pid for p in me.children(recursive=True)}
    sampled: dict[int, float] = {}
    direct: set[int] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            direct.update(p.pid for p in me.children())
            for process in me.children(recursive=True):
                if process.pid not in before:
                    # It may exit between the listing and the reading.
                    with suppress(psutil.Error):
                        sampled[process.pid] = used(process)

    own, children = used(me), waited()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = [0.0]
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        alive = {p.pid for p in me.children()}
        # A direct child that exited was waited for: it is in ``waited()`` already.
        unwaited = sum(cpu for pid, cpu in sampled.items() if pid not in direct or pid in alive)
        result[0] = used(me) - own + waited() - children + unwaited


def _moved(one: SweepRun, out: Path) -> Path:
    """Where ``one`` goes under ``out``: as a sweep into ``out`` places it."""
    return out / one.out.parent.name / one.out.name


def _riskclass(*arguments: str) -> None:
    """The command line, quietly (its summary and progress are not timed apart)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "riskclass"), *arguments],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"riskclass {' '.join(arguments)} failed:\n{done.stderr}")


if __name__ == "__main__":
    main()
