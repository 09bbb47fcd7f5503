"""Time a scenario end to end: a cold run, a run with a warm calibration cache, the report.

Usage: uv run python benchmarks/bench_run.py [--rounds N] [--config FILE] [--set PATH=VALUE ...]
       uv run python benchmarks/bench_run.py --large [--keep DIR] [--config FILE] [--set ...]
       uv run python benchmarks/bench_run.py --end-to-end [--rounds N] [--baseline PYTHON]

Each round runs, in fresh processes and with a calibration cache of its own (a
temporary ``RISKCLASS_CACHE_DIR``):

1. ``riskclass run CONFIG --out DIR --no-cache`` (cold: calibrates),
2. ``riskclass run CONFIG --out DIR`` twice (the first fills the cache, the second
   reuses it: the warm run),
3. ``riskclass report DIR``.

Prints the median over rounds of each command's wall and CPU (user + system)
seconds, the stage timings the manifest records (median), and the warm run's
ratio to the cold one, measured in the same round. The machine is shared: CPU
seconds are the steadier figure, and the load average is printed with the results.
Peak memory is each command's own maximum resident set.

``--large`` instead runs the scenario once at 1,000,000 persons over 30 days (the
issue's scale target), with the calibration cache as it is, then its report,
and prints the same figures for each, the run's stage timings and rows, and the
peak memory of each command's whole process tree (the report's figure processes
are forked by a server process of its own), as sums of RSS and of PSS.

``--end-to-end`` instead times the README's first command, ``riskclass run CONFIG
--out DIR --force --report``, with the calibration cache as it is (filled first by
an untimed run), each round; with ``--baseline`` (another checkout's interpreter)
each round runs that checkout's right after, so that both see the same load. Prints
the median wall and CPU seconds of each (the figure processes included), each
round's, and the ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from _machine import (
    REPO,
    adopt_orphans,
    children_cpu,
    interleaved,
    machine_line,
    scenario_parser,
    tree_memory,
)

CLI = [sys.executable, "-m", "riskclass.commands"]
# `--large`: the scale target.
LARGE = ["population.size=1000000", "days=30"]


def timed(
    command: list[str], environment: dict[str, str], cwd: str | Path = REPO, *, tree: bool = False
) -> dict[str, float]:
    """Wall and CPU seconds and peak memory (MiB) of ``command``, measured alone; the
    CPU seconds include the processes it started (a report's figure processes),
    ``peak_mib`` is its own. With ``tree``, also the peaks of its process tree's
    memory (it and every process under it: the figure server and processes),
    sampled every quarter second: the sum of resident sets (``tree_rss_mib``) and
    of proportional sets (``tree_pss_mib``, pages shared by forked processes
    counted once over all of them: what the machine holds)."""
    before = children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=cwd, env=environment)
    peaks = {"tree_rss_mib": 0.0, "tree_pss_mib": 0.0}
    done = threading.Event()
    sampler = threading.Thread(target=_sample_tree, args=(process.pid, peaks, done), daemon=True)
    if tree:
        sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    result = {"wall": wall, "cpu": children_cpu() - before, "peak_mib": usage.ru_maxrss / 1024}
    if tree:
        sampler.join()
        result.update(peaks)
    return result


def _sample_tree(pid: int, peaks: dict[str, float], done: threading.Event) -> None:
    """Keep in ``peaks`` the largest sums of RSS and PSS (MiB) over process ``pid`` and
    its descendants until ``done``."""
    root = psutil.Process(pid)
    while not done.wait(0.25):
        rss, pss = tree_memory(root)
        peaks["tree_rss_mib"] = max(peaks["tree_rss_mib"], rss / 2**20)
        peaks["tree_pss_mib"] = max(peaks["tree_pss_mib"], pss / 2**20)


def large(config: str, overrides: list[str], keep: str | None) -> None:
    """One run of a large scenario, with the calibration cache as it is, and its report;
    in ``keep`` if given (a new directory), else in a temporary one."""
    with tempfile.TemporaryDirectory() as scratch:
        out = keep or str(Path(scratch) / "run")
        settings = [item for override in [*LARGE, *overrides] for item in ("--set", override)]
        run = [*CLI, "run", config, "--out", out, *settings]
        results = {"run": timed(run, dict(os.environ), tree=True)}
        manifest = json.loads((Path(out) / "manifest.json").read_text())
        results["report"] = timed([*CLI, "report", out], dict(os.environ), tree=True)
    for name, result in results.items():
        print(f"{name}: " + ", ".join(f"{key} {value:,.2f}" for key, value in result.items()))
    print(f"run stages (s): {manifest['timings_s']}; rows: {manifest['rows']}")
    print(f"events/s: {manifest['performance']['events_per_second']:,}")


def end_to_end(config: str, overrides: list[str], rounds: int, baseline: str | None) -> None:
    """``run --report`` with a warm calibration cache, interleaved with ``baseline``'s."""
    settings = [item for override in overrides for item in ("--set", override)]
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "run")
        run = ["-m", "riskclass.commands", "run", config, "--out", out, "--force", *settings]

        def measure(python: str) -> dict[str, float]:
            # Not in a checkout: Python puts the working directory first on the import path.
            return timed([python, *run, "--report"], dict(os.environ), cwd=scratch)

        timed([sys.executable, *run], dict(os.environ), cwd=scratch)  # fills a cold cache
        times = interleaved(rounds, baseline, measure)
    medians = {
        label: {key: statistics.median(r[key] for r in runs) for key in ("wall", "cpu")}
        for label, runs in times.items()
    }
    for label, median in medians.items():
        # Each round too: on a shared machine one busy spell moves a median of three.
        each = ", ".join(f"{r['wall']:.1f}/{r['cpu']:.1f}" for r in times[label])
        print(
            f"run --report, {label}: median {median['wall']:.2f} s wall, {median['cpu']:.2f} s "
            f"CPU (rounds, wall/CPU s: {each})"
        )
    if baseline:
        mine, base = medians["this checkout"], medians["baseline"]
        print(
            f"this checkout / baseline: {mine['wall'] / base['wall']:.2f} wall, "
            f"{mine['cpu'] / base['cpu']:.2f} CPU"
        )


def one_round(config: str, overrides: list[str]) -> dict[str, dict[str, float]]:
    settings = [item for override in overrides for item in ("--set", override)]
    with tempfile.TemporaryDirectory() as scratch:
        environment = {**os.environ, "RISKCLASS_CACHE_DIR": str(Path(scratch) / "cache")}
        out = str(Path(scratch) / "run")
        run = [*CLI, "run", config, "--out", out, "--force", *settings]
        results = {"run, cold (--no-cache)": timed([*run, "--no-cache"], environment)}
        results["stages, cold"] = _stages(out)
        timed(run, environment)  # fills the cache
        results["run, warm cache"] = timed(run, environment)
        results["stages, warm"] = _stages(out)
        results["report"] = timed([*CLI, "report", out], environment)
    return results


def _stages(out: str) -> dict[str, float]:
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    timings: dict[str, float] = manifest["timings_s"]
    return timings


def main() -> None:
    parser = scenario_parser(__doc__, rounds=1)
    parser.add_argument(
        "--large",
        action="store_true",
        help=f"instead of the rounds, one `run` with {' '.join(LARGE)} and its `report`",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="with --large: run into DIR and keep it (1.6 GB at a million persons over 30 "
        "days), to profile its report (benchmarks/profile_report_memory.py) or compare it",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="instead of the rounds above, `run --report` with a warm calibration cache",
    )
    parser.add_argument(
        "--baseline", metavar="PYTHON", help="with --end-to-end: another checkout's interpreter"
    )
    args = parser.parse_args()
    adopt_orphans()
    print(machine_line())
    if args.end_to_end:
        end_to_end(args.config, args.overrides, args.rounds, args.baseline)
        print(f"load average {os.getloadavg()[0]:.1f} after; {args.rounds} round(s)")
        return
    if args.large:
        large(args.config, args.overrides, args.keep)
        print(f"load average {os.getloadavg()[0]:.1f} after")
        return
    rounds = [one_round(args.config, args.overrides) for _ in range(args.rounds)]
    for name in rounds[0]:
        keys = rounds[0][name]
        median = {key: statistics.median(r[name][key] for r in rounds) for key in keys}
        shown = ", ".join(f"{key} {value:,.2f}" for key, value in median.items())
        print(f"{name}: {shown}")
    ratios = [r["run, warm cache"]["wall"] / r["run, cold (--no-cache)"]["wall"] for r in rounds]
    print(
        f"warm run / cold run (wall, same round): median {statistics.median(ratios):.2f}; "
        f"load average {os.getloadavg()[0]:.1f} after; {args.rounds} round(s)"
    )


if __name__ == "__main__":
    main()
