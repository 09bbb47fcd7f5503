"""What the ``riskclass`` command line runs, as functions. Imported as ``riskclass.commands``.

The top layer: each command strings the stages together and writes a directory
through the base's run-directory contract. `main` is the command line itself.
"""

from ._bench import DEFAULT_METHODS, BenchResult, bench_environment, results_json, run_bench
from ._cli import EXIT_INTERRUPTED, EXIT_USAGE, main
from ._compare import COMPARE_CSV, CompareSummary, compare
from ._report import HTML, ReportSummary, build_report
from ._run import Calibration, RunSummary, calibrate_and_check, generate, run
from ._sweep import SWEEP_COLUMNS, Grid, SweepError, SweepRun, SweepSummary, combine, plan, sweep
from ._video import VideoRunSummary, render, run_video

__all__ = [
    "COMPARE_CSV",
    "DEFAULT_METHODS",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "HTML",
    "SWEEP_COLUMNS",
    "BenchResult",
    "Calibration",
    "CompareSummary",
    "Grid",
    "ReportSummary",
    "RunSummary",
    "SweepError",
    "SweepRun",
    "SweepSummary",
    "VideoRunSummary",
    "bench_environment",
    "build_report",
    "calibrate_and_check",
    "combine",
    "compare",
    "generate",
    "main",
    "plan",
    "render",
    "results_json",
    "run",
    "run_bench",
    "run_video",
    "sweep",
]
