"""Time a dynamics run: 100,000 persons over 26 weekly periods, and its peak memory.

Usage: uv run python benchmarks/bench_dynamics.py [--config FILE] [--set PATH=VALUE ...]

Runs ``riskclass dynamics CONFIG --out DIR`` once in a fresh process (by default
``configs/social_credit_feedback.yaml`` at ``population.size=100000``, 182 days of
7-day periods), with a calibration cache of its own that is filled first, so the
timing is the periods and the analysis rather than calibration. Prints wall and
CPU (user + system) seconds, peak resident memory, the stage timings the manifest
records, the row counts, and the load average (the machine is shared: CPU seconds
are the steadier figure).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import REPO, machine_line, scenario_parser

CLI = [sys.executable, "-m", "riskclass.commands"]
DEFAULTS = ["population.size=100000", "days=182", "dynamics.period_days=7"]


def main() -> None:
    args = scenario_parser(__doc__, config="social_credit_feedback.yaml").parse_args()
    settings = [item for o in [*DEFAULTS, *args.overrides] for item in ("--set", o)]
    print(machine_line())
    with tempfile.TemporaryDirectory() as scratch:
        environment = {**os.environ, "RISKCLASS_CACHE_DIR": str(Path(scratch) / "cache")}
        # Calibration depends on the algorithm and seed only: fill the cache first.
        subprocess.run(
            [*CLI, "calibrate", args.config, "--out", str(Path(scratch) / "calibration.csv")],
            check=True,
            stdout=subprocess.DEVNULL,
            env=environment,
            cwd=REPO,
        )
        out = Path(scratch) / "run"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [*CLI, "dynamics", args.config, "--out", str(out), *settings],
            check=True,
            stdout=subprocess.DEVNULL,
            env=environment,
            cwd=REPO,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        manifest = json.loads((out / "manifest.json").read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"settings: {' '.join([*DEFAULTS, *args.overrides])}")
    peak = after.ru_maxrss / 1024
    print(f"riskclass dynamics: {wall:.1f} s wall, {cpu:.1f} s CPU, {peak:.0f} MiB peak")
    print(f"stages (s): {manifest['timings_s']}")
    print(f"rows: {manifest['rows']}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
