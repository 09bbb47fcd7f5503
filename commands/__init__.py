"""What the ``riskclass`` command line runs, as functions. Imported as ``riskclass.commands``.

The top layer: each command strings the stages together and writes a directory
through the base's run-directory contract. `main` is the command line itself.
"""

from ._bench import DEFAULT_METHODS, BenchResult, bench_environment, results_json, run_bench
from ._cli import EXIT_INTERRUPTED, EXIT_USAGE, main
from ._compare import COMPARE_CSV, CompareSummary, compare
from ._report import HTML, ReportSummary, build_report
from ._run import RunSummary, calibrate_and_check, generate, run
from ._video import VideoRunSummary, render, run_video

__all__ = [
    "COMPARE_CSV",
    "DEFAULT_METHODS",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "HTML",
    "BenchResult",
    "CompareSummary",
    "ReportSummary",
    "RunSummary",
    "VideoRunSummary",
    "bench_environment",
    "build_report",
    "calibrate_and_check",
    "compare",
    "generate",
    "main",
    "render",
    "results_json",
    "run",
    "run_bench",
    "run_video",
]
