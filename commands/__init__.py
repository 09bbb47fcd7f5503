"""What the ``riskclass`` command line runs, as functions. Imported as ``riskclass.commands``.

The top layer: each command strings the stages together and writes a directory
through the base's run-directory contract. `main` is the command line itself.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._bench_methods import DEFAULT_METHODS
from ._cli import EXIT_INTERRUPTED, EXIT_USAGE, main

# The commands load the data stack; the command line imports this package first,
# so they load on first use and `riskclass --help` stays quick.
_LAZY = {
    "_cache": (
        "CACHE_ENV",
        "MODEL_VERSION",
        "CacheInfo",
        "cache_dir",
        "cache_info",
        "calibration_key",
        "clear_cache",
    ),
    "_bench": ("BenchResult", "bench_environment", "results_json", "run_bench"),
    "_compare": ("COMPARE_CSV", "CompareSummary", "compare"),
    "_dynamics": ("run_dynamics", "write_dynamics_report"),
    "_report": ("HTML", "ReportSummary", "RunTables", "build_report", "report_tables"),
    "_run": ("Calibration", "RunSummary", "calibrate_and_check", "generate", "run"),
    "_split": ("ChunkTaskError",),
    "_sweep": (
        "SWEEP_COLUMNS",
        "Grid",
        "SweepError",
        "SweepRun",
        "SweepSummary",
        "combine",
        "compare",
        "plan",
        "sweep",
    ),
    "_video": ("VideoRunSummary", "render", "run_video"),
}

if TYPE_CHECKING:
    from ._bench import BenchResult, bench_environment, results_json, run_bench
    from ._cache import (
        CACHE_ENV,
        MODEL_VERSION,
        CacheInfo,
        cache_dir,
        cache_info,
        calibration_key,
        clear_cache,
    )
    from ._compare import COMPARE_CSV, CompareSummary, compare
    from ._dynamics import run_dynamics, write_dynamics_report
    from ._report import HTML, ReportSummary, RunTables, build_report, report_tables
    from ._run import Calibration, RunSummary, calibrate_and_check, generate, run
    from ._split import ChunkTaskError
    from ._sweep import (
        SWEEP_COLUMNS,
        Grid,
        SweepError,
        SweepRun,
        SweepSummary,
        combine,
        plan,
        sweep,
    )
    from ._video import VideoRunSummary, render, run_video

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "CACHE_ENV",
    "COMPARE_CSV",
    "DEFAULT_METHODS",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "HTML",
    "MODEL_VERSION",
    "SWEEP_COLUMNS",
    "BenchResult",
    "CacheInfo",
    "Calibration",
    "ChunkTaskError",
    "CompareSummary",
    "Grid",
    "ReportSummary",
    "RunSummary",
    "RunTables",
    "SweepError",
    "SweepRun",
    "SweepSummary",
    "VideoRunSummary",
    "bench_environment",
    "build_report",
    "cache_dir",
    "cache_info",
    "calibrate_and_check",
    "calibration_key",
    "clear_cache",
    "combine",
    "compare",
    "generate",
    "main",
    "plan",
    "render",
    "report_tables",
    "results_json",
    "run",
    "run_bench",
    "run_dynamics",
    "run_video",
    "sweep",
    "write_dynamics_report",
]
