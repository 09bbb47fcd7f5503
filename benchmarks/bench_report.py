"""Time `riskclass report` on a finished run, optionally against another checkout.

Usage: uv run python benchmarks/bench_report.py RUN_DIR [--rounds N] [--baseline PYTHON]

RUN_DIR is a `riskclass run` output (e.g. of configs/default.yaml). Each round runs
the report in a fresh process; with ``--baseline`` (the interpreter of another
checkout's environment, e.g. one of main: ``git worktree add ../base main && cd
../base && uv sync``) each round runs that checkout's report too, interleaved, so
that the ratio is measured in the same run on the same machine load. Prints the
median wall and CPU (user + system) seconds of each, its figure processes
included, each round's, and the ratios. The machine is
shared: CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

from _machine import adopt_orphans, children_cpu, interleaved, machine_line


def timed(python: str, run_dir: Path) -> tuple[float, float]:
    before = children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "riskclass.commands", "report", str(run_dir)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Not a checkout: Python puts the working directory first on the import path.
        cwd=run_dir,
    )
    wall = time.perf_counter() - started
    return wall, children_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="PYTHON", help="another checkout's interpreter")
    args = parser.parse_args()
    adopt_orphans()
    print(machine_line())
    # Absolute: each report runs with the run directory as its working directory.
    run_dir = args.run_dir.resolve()
    times = interleaved(args.rounds, args.baseline, lambda python: timed(python, run_dir))
    medians = {
        label: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for label, runs in times.items()
    }
    for label, (wall, cpu) in medians.items():
        # Each round too: on a shared machine one busy spell moves a median.
        each = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in times[label])
        print(f"report, {label}: median {wall:.2f} s wall, {cpu:.2f} s CPU (rounds: {each})")
    if args.baseline:
        (wall, cpu), (base_wall, base_cpu) = medians["this checkout"], medians["baseline"]
        print(f"this checkout / baseline: {wall / base_wall:.2f} wall, {cpu / base_cpu:.2f} CPU")
    print(f"load average {os.getloadavg()[0]:.1f} after; {args.rounds} round(s)")


if __name__ == "__main__":
    main()
