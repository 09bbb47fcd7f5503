"""What the ``riskclass`` command line runs, as functions. Imported as ``riskclass.commands``.

The top layer: each command strings the stages together and writes a directory
through the base's run-directory contract. `main` is the command line itself.
"""

from typing import TYPE_CHECKING

from riskclass import lazy_exports

from ._bench_methods import DEFAULT_METHODS as DEFAULT_METHODS
from ._cli import EXIT_INTERRUPTED as EXIT_INTERRUPTED, EXIT_USAGE as EXIT_USAGE, main as main

# The commands load the data stack; the command line imports this package first,
# so they load on first use (see `riskclass.lazy_exports`) and `riskclass --help`
# stays quick.
if TYPE_CHECKING:
    from ._bench import (
        BenchResult as BenchResult,
        bench_environment as bench_environment,
        results_json as results_json,
        run_bench as run_bench,
    )
    from ._cache import (
        CACHE_ENV as CACHE_ENV,
        MODEL_VERSION as MODEL_VERSION,
        CacheInfo as CacheInfo,
        cache_dir as cache_dir,
        cache_info as cache_info,
        calibration_key as calibration_key,
        clear_cache as clear_cache,
    )
    from ._compare import (
        COMPARE_CSV as COMPARE_CSV,
        CompareSummary as CompareSummary,
        compare as compare,
    )
    from ._dynamics import (
        run_dynamics as run_dynamics,
        write_dynamics_report as write_dynamics_report,
    )
    from ._options import RunOptions as RunOptions
    from ._report import (
        HTML as HTML,
        ReportSummary as ReportSummary,
        RunTables as RunTables,
        build_report as build_report,
        report_tables as report_tables,
    )
    from ._run import (
        Calibration as Calibration,
        RunSummary as RunSummary,
        calibrate_and_check as calibrate_and_check,
        generate as generate,
        run as run,
        run_alike as run_alike,
    )
    from ._split import ChunkTaskError as ChunkTaskError
    from ._sweep import (
        SWEEP_COLUMNS as SWEEP_COLUMNS,
        Grid as Grid,
        SweepError as SweepError,
        SweepRun as SweepRun,
        SweepSummary as SweepSummary,
        combine as combine,
        plan as plan,
        sweep as sweep,
    )
    from ._video import VideoRunSummary as VideoRunSummary, render as render, run_video as run_video

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__, globals())
