"""Time the command line's start-up: `riskclass --help` and `riskclass validate`.

Usage: uv run python benchmarks/bench_startup.py [--runs N]

Each command runs N times (default 9) in a fresh process, interleaved with two
baselines measured in the same run: the bare interpreter (`python -c pass`, the
floor) and importing the whole stack: the command handlers with the data stack,
video, faiss and Dask (what every command paid before imports were deferred).
Prints the median wall and CPU (user + system) seconds of each, and each
command's ratio to the whole import.
The machine is shared, so CPU seconds are the steadier figure; the load average
is printed with the results.

Python compiles every module it imports unless a cached ``.pyc`` exists. Where
``PYTHONDONTWRITEBYTECODE`` is set and the environment was installed without
bytecode (as ``uv sync`` does by default), that compilation dominates start-up;
the script says whether the installed packages have their bytecode (``uv sync
--compile-bytecode`` or ``python -m compileall .venv`` provides it).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = [sys.executable]
# What every command, --help included, imported before imports were deferred: the
# handlers with the data stack, video (OpenCV, face_recognition), faiss and Dask.
WHOLE_STACK = (
    "riskclass.commands._handlers",
    "riskclass.commands._video",
    "riskclass.commands._sweep",
    "riskclass.pipeline.matching._faiss",
)
FULL = "whole stack (what every command imported before)"
CASES = {
    "python -c pass (floor)": [*PYTHON, "-c", "pass"],
    "riskclass --help": [*PYTHON, "-m", "riskclass.commands", "--help"],
    "riskclass validate configs/default.yaml": [
        *PYTHON,
        "-m",
        "riskclass.commands",
        "validate",
        str(REPO / "configs/default.yaml"),
    ],
    FULL: [*PYTHON, "-c", "; ".join(f"import {module}" for module in WHOLE_STACK)],
}


def has_bytecode() -> bool:
    """Whether an installed package (pydantic, which validate loads) has its .pyc files."""
    spec = importlib.util.find_spec("pydantic")
    assert spec is not None and spec.origin is not None
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


def measure(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="runs of each command")
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f} before; "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')}, "
        f"installed bytecode: {'yes' if has_bytecode() else 'no'}"
    )
    for command in CASES.values():  # warm the file cache and .pyc files
        measure(command)
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in CASES}
    for _ in range(args.runs):
        for label, command in CASES.items():
            times[label].append(measure(command))
    full_wall = statistics.median(wall for wall, _ in times[FULL])
    full_cpu = statistics.median(cpu for _, cpu in times[FULL])
    for label, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(
            f"{label}: median {wall:.3f} s wall ({min(w for w, _ in runs):.3f} to "
            f"{max(w for w, _ in runs):.3f}), {cpu:.3f} s CPU; "
            f"{wall / full_wall:.2f} of the full import's wall, {cpu / full_cpu:.2f} of its CPU"
        )
    print(f"load average {os.getloadavg()[0]:.1f} after; {args.runs} runs each")


if __name__ == "__main__":
    main()
