"""The ``riskclass`` command line: its arguments, and `main`.

Every subcommand has ``--help``. Errors the user can fix (bad config, missing file,
existing output) print one clear message and exit with code 2.

This module imports nothing heavy: ``riskclass --help`` and ``riskclass validate``
start in a fraction of a second. What the other commands do at the terminal is in
`_handlers`, which loads the data stack when one of them runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from riskclass import RiskclassError

from ._bench_methods import DEFAULT_METHODS

EXIT_USAGE = 2
# 128 + SIGINT, as shells report it; SIGTERM and SIGHUP exit with 128 + theirs.
EXIT_INTERRUPTED = 130
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)

if TYPE_CHECKING:
    from riskclass import Scenario

Handler = Callable[[argparse.Namespace], int]


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is so that it unwinds as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    # A killed run removes its staging folder on the way out, as on Ctrl-C.
    previous = {number: signal.signal(number, _terminate) for number in _TERMINATING}
    try:
        handler: Handler = args.handler
        return handler(args)
    except RiskclassError as exc:
        # Plain print: messages hold paths and brackets that rich would wrap or parse.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        number = exc.signum if isinstance(exc, _Terminated) else signal.SIGINT
        print(
            f"interrupted ({signal.Signals(number).name}); no partial output was left in place",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED - signal.SIGINT + number
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)


def _deferred(name: str) -> Handler:
    """The handler ``name`` of `_handlers`, imported only when its command runs."""

    def handler(args: argparse.Namespace) -> int:
        run: Handler = getattr(import_module("._handlers", __package__), name)
        return run(args)

    return handler


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskclass",
        description="Simulate face-recognition surveillance and measure who bears its errors.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a scenario config without running it")
    _add_config_arguments(validate)
    validate.set_defaults(handler=_validate)

    generate = commands.add_parser(
        "generate", help="generate the synthetic world (persons, cameras, camera events)"
    )
    _add_config_arguments(generate)
    _add_output_arguments(generate)
    generate.set_defaults(handler=_deferred("_generate"))

    run = commands.add_parser(
        "run",
        help="run a scenario end to end: world, calibration, deployments, per-group rates",
    )
    _add_config_arguments(run)
    _add_output_arguments(run)
    run.add_argument(
        "--report",
        action="store_true",
        help="also write the per-group report (as `riskclass report DIR`) into DIR/report",
    )
    _add_cache_argument(run)
    cluster = run.add_mutually_exclusive_group()
    cluster.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="decide the chunks of events on a local Dask cluster of N worker processes "
        "(same files as without)",
    )
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="decide the chunks of events on the Dask cluster of this scheduler "
        "(tcp://host:port); its workers must see the output directory at the same path",
    )
    run.set_defaults(handler=_deferred("_run_scenario"))

    dynamics = commands.add_parser(
        "dynamics",
        help="run a scenario with dynamics period by period: records, scores, listings, "
        "risk positions",
    )
    _add_config_arguments(dynamics)
    _add_output_arguments(dynamics)
    _add_cache_argument(dynamics)
    dynamics.set_defaults(handler=_deferred("_dynamics_command"))

    sweep = commands.add_parser(
        "sweep",
        help="run a grid of settings x seeds as Dask tasks; one combined table and HTML page",
    )
    _add_config_arguments(sweep)
    sweep.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="PATH=V1,V2,...",
        help="a config path and the values it takes, e.g. "
        "--grid deployments.street_watchlist.threshold=0.56,0.6 (repeatable: every combination)",
    )
    sweep.add_argument("--seeds", type=int, default=1, help="seeds per setting (default: 1)")
    sweep.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:port); default: a local cluster on this machine",
    )
    sweep.add_argument("--workers", type=int, default=2, help="local worker processes (default: 2)")
    sweep.set_defaults(handler=_deferred("_sweep_command"))

    report_parser = commands.add_parser(
        "report",
        help="per-group error report of a finished run: tables, figures and HTML in RUN_DIR/report",
    )
    report_parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="a `riskclass run` output"
    )
    report_parser.set_defaults(handler=_deferred("_report"))

    compare_parser = commands.add_parser(
        "compare",
        help="what-if: finished runs side by side per deployment and group, with change ratios",
    )
    compare_parser.add_argument(
        "run_dirs",
        type=Path,
        nargs="+",
        metavar="RUN_DIR",
        help="two or more `riskclass run` outputs; the first is the baseline",
    )
    _add_output_arguments(compare_parser)
    compare_parser.set_defaults(handler=_deferred("_compare"))

    bench = commands.add_parser(
        "bench",
        help="measure 1:N search throughput and recall of each matcher on synthetic embeddings",
    )
    bench.add_argument("--gallery", type=int, default=100_000, metavar="N", help="gallery size")
    bench.add_argument("--probes", type=int, default=2_000, metavar="M", help="probes per round")
    bench.add_argument("--k", type=int, default=1, metavar="K", help="candidates per probe")
    bench.add_argument(
        "--methods",
        default=" ".join(DEFAULT_METHODS),
        metavar="LIST",
        help="space- or semicolon-separated methods (default: %(default)s)",
    )
    bench.add_argument("--rounds", type=int, default=3, help="rounds per method; the median counts")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument(
        "--json", type=_output_file, metavar="PATH", help="also write the results as JSON"
    )
    bench.set_defaults(handler=_deferred("_bench_command"))

    video = commands.add_parser(
        "video", help="rendered camera video with the real face detector and encoder"
    )
    video_commands = video.add_subparsers(title="video commands", metavar="COMMAND")
    render = video_commands.add_parser(
        "render", help="render camera scenes (MP4), ground truth and enrollment portraits"
    )
    _add_config_arguments(render)
    _add_output_arguments(render)
    render.set_defaults(handler=_deferred("_video_render"))
    video_run = video_commands.add_parser(
        "run",
        help="detect (HOG, Haar), track, encode and match rendered scenes; per-group rates",
    )
    video_run.add_argument("directory", type=Path, metavar="DIR", help="a `video render` output")
    video_run.set_defaults(handler=_deferred("_video_run"))

    enroll = commands.add_parser(
        "enroll",
        help="encode labelled real photos and fit a per-group error profile for configs",
    )
    enroll.add_argument("images", type=Path, metavar="IMAGES_DIR", help="folder of photos")
    enroll.add_argument(
        "--labels",
        type=Path,
        required=True,
        metavar="CSV",
        help="file, identity, then one column per group attribute",
    )
    enroll.add_argument(
        "--out",
        type=_output_file,
        default=Path("error_profile.yaml"),
        metavar="FILE",
        help="where to write the profile (default: error_profile.yaml)",
    )
    enroll.add_argument(
        "--tolerance",
        type=_distance,
        default=0.6,
        help="face_recognition match distance, above 0 and below 2 (default: 0.6, the library's)",
    )
    enroll.set_defaults(handler=_deferred("_enroll"))

    calibrate = commands.add_parser(
        "calibrate",
        help="solve the embedding model for the configured error rates and check it out of sample",
    )
    _add_config_arguments(calibrate)
    calibrate.add_argument(
        "--out",
        type=_output_file,
        default=Path("calibration.csv"),
        metavar="FILE",
        help="where to write the calibration table (default: calibration.csv)",
    )
    _add_cache_argument(calibrate)
    calibrate.set_defaults(handler=_deferred("_calibrate"))

    cache = commands.add_parser(
        "cache", help="the calibration cache: solved embedding models reused by run and calibrate"
    )
    cache_commands = cache.add_subparsers(title="cache commands", metavar="COMMAND")
    cache_info = cache_commands.add_parser(
        "info", help="where the cache is, how many entries it holds and their size"
    )
    cache_info.set_defaults(handler=_deferred("_cache_info"))
    cache_clear = cache_commands.add_parser("clear", help="remove every entry")
    cache_clear.set_defaults(handler=_deferred("_cache_clear"))
    return parser


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, metavar="CONFIG", help="scenario YAML file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a config value, e.g. --set population.size=5000 or "
        "--set districts.center.cameras_per_1000=4 (repeatable)",
    )


def _output_file(text: str) -> Path:
    """A file to write, refused before any work if it is a directory (not after it)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; give a file path")
    return path


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _distance(text: str) -> float:
    """A match distance between two unit-length encodings: finite, above 0 and below 2."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
    if not 0 < value < 2:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be above 0 and below 2, got {text[:40]}")
    return value


def _add_cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="calibrate afresh instead of reusing the calibration cache (and do not store it)",
    )


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace DIR if it exists (only once the new run is complete)",
    )


def load_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario of a command's CONFIG and --set overrides."""
    from riskclass import load_config  # pydantic and yaml: not needed for --help

    scenario = load_config(args.config, args.overrides)
    if any(o.split("=", 1)[0].strip() == "algorithm.threshold" for o in args.overrides):
        # Earlier versions' docs let users read this key as the operating threshold.
        print(
            "note: algorithm.threshold is the calibration reference (where the configured "
            "error rates hold), not where deployments alert; to change a deployment's "
            "operating threshold use --set deployments.NAME.threshold=VALUE",
            file=sys.stderr,
        )
    return scenario


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args)
    print(
        f"{args.config}: valid scenario {scenario.name!r}: {scenario.population.size:,} persons, "
        f"{len(scenario.districts)} districts, {scenario.days} days"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
