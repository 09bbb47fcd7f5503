"""Where a report's memory goes: the peak of each step of `build_report`.

Usage: uv run python benchmarks/profile_report_memory.py RUN_DIR [--no-figures]

Writes ``RUN_DIR/report`` as `riskclass report` does (figures in processes of their
own unless ``--no-figures``), with the report's steps (the analysis functions it
calls, found by name and wrapped) measured two ways:

- own peak: the report process's high-water mark of resident memory (``VmHWM``),
  reset as each step starts (``/proc/self/clear_refs``; Linux only);
- tree: the sums of RSS and of PSS over the report process and every process
  under it (the figure server and processes), sampled every 0.1 s, the largest
  seen while the step ran.

A step that calls another (a deployment's metrics, then its bootstrap) has its
peaks measured without the inner one, and its seconds with it. Resetting ``VmHWM`` also resets
what ``getrusage`` reports, so time the command with ``bench_run.py`` instead.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
from _machine import machine_line, tree_memory

MiB = 2**20


def _high_water() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def _reset_high_water() -> None:
    Path("/proc/self/clear_refs").write_text("5")


class Steps:
    """Peaks per step: own ``VmHWM``, tree RSS and tree PSS (bytes), and seconds."""

    def __init__(self) -> None:
        self.current = "outside the steps"
        self.peaks: dict[str, list[float]] = {}
        self._me = psutil.Process()

    def _entry(self, name: str) -> list[float]:
        return self.peaks.setdefault(name, [0, 0, 0, 0])

    def wrap(self, module: ModuleType, name: str) -> None:
        """Replace ``module.name`` by itself, measured as step ``name``."""
        original: Callable[..., Any] = getattr(module, name)

        def measured(*args: Any, **kwargs: Any) -> Any:
            outer = self.current
            entry = self._entry(outer)
            entry[0] = max(entry[0], _high_water())
            self.current = name
            _reset_high_water()
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                mine = self._entry(name)
                mine[0] = max(mine[0], _high_water())
                mine[3] += time.perf_counter() - started
                self.current = outer
                _reset_high_water()

        setattr(module, name, measured)

    def sample(self, done: threading.Event) -> None:
        while not done.wait(0.1):
            rss, pss = tree_memory(self._me)
            entry = self._entry(self.current)
            entry[1], entry[2] = max(entry[1], rss), max(entry[2], pss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--no-figures", action="store_true")
    args = parser.parse_args()
    # Imported here: the figure processes import this script as their main module.
    from riskclass.analysis import _metrics, report
    from riskclass.commands import _report

    steps = Steps()
    for name in (
        "read_outcomes",
        "group_cells",
        "count_run",
        "det_points",
        "impostor_rates",
        "impostor_heatmap",
        "group_metrics",
        "person_burden",
        "burden_by_group",
        "alternative_burden",
        "_write_report",
    ):
        steps.wrap(_report, name)
    for name in ("_metrics_of", "rates_by_group", "_shares"):
        steps.wrap(_metrics, name)
    for name in ("run_summary", "run_context", "render_report"):
        steps.wrap(report, name)
    print(machine_line())
    done = threading.Event()
    sampler = threading.Thread(target=steps.sample, args=(done,), daemon=True)
    sampler.start()
    started = time.perf_counter()
    processes = 0 if args.no_figures else _report.figure_processes()
    _report.build_report(args.run_dir, figure_processes=processes)
    done.set()
    sampler.join()
    print(f"report: {time.perf_counter() - started:.1f} s wall, {processes} figure processes")
    print(f"{'step':<22} {'s':>6} {'own peak':>9} {'tree RSS':>9} {'tree PSS':>9}  (MiB)")
    for name, (own, rss, pss, seconds) in steps.peaks.items():
        print(f"{name:<22} {seconds:>6.1f} {own / MiB:>9.0f} {rss / MiB:>9.0f} {pss / MiB:>9.0f}")
    top = {
        label: max(entry[i] for entry in steps.peaks.values())
        for i, label in enumerate(["own", "tree RSS", "tree PSS"])
    }
    print(
        "peaks (MiB): " + ", ".join(f"{label} {value / MiB:,.0f}" for label, value in top.items())
    )


if __name__ == "__main__":
    main()
