"""The ``riskclass`` command line: its arguments, and `main`.

Every subcommand has ``--help``. Errors the user can fix (bad config, missing file,
existing output) print one clear message and exit with code 2.

This module imports nothing heavy: ``riskclass --help`` and ``riskclass validate``
start in a fraction of a second. What the other commands do at the terminal is in
`_handlers`, which loads the data stack when one of them runs.
"""

from __future__ import annotations

import argparse
import copy
import gc
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from riskclass import RiskclassError

from ._bench_methods import DEFAULT_METHODS

EXIT_USAGE = 2
# 128 + SIGINT, as shells report it; SIGTERM and SIGHUP exit with 128 + theirs.
EXIT_INTERRUPTED = 130
_TERMINATING = (signal.SIGTERM, signal.SIGHUP)

if TYPE_CHECKING:
    from riskclass import Scenario

Handler = Callable[[argparse.Namespace], int]
_N = TypeVar("_N", int, float)


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


def program() -> NoReturn:
    """The ``riskclass`` program: `main`, then exit with its code."""
    code = main()
    # The objects a run leaves (pandas, pyarrow and matplotlib modules, the report's
    # tables) are left out of the garbage collection that Python runs as it shuts
    # down: walking them took 0.2 to 0.3 s of every `run --report`, on one core, with
    # nothing else to do. Only the process ends here; memory is the system's again.
    gc.freeze()
    sys.exit(code)


def _deferred(
    name: str, *, local_cluster: Callable[[argparse.Namespace], bool] | None = None
) -> Handler:
    """The handler ``name`` of `_handlers`, imported only when its command runs.

    Where ``local_cluster`` says that the command starts a local Dask cluster, the
    fork server its workers come from starts first: the server's imports (seconds)
    then run beside the handler's on another core, rather than after them.
    """

    def handler(args: argparse.Namespace) -> int:
        if local_cluster is not None and local_cluster(args):
            from ._cluster import start_forkserver

            start_forkserver()
        run: Handler = getattr(import_module("._handlers", __package__), name)
        return run(args)

    return handler


@dataclass(frozen=True)
class _Argument:
    """One ``add_argument`` call: the option's flags (or a positional's name) and keywords."""

    names: tuple[str, ...]
    keywords: dict[str, Any]


def _arg(*names: str, **keywords: Any) -> _Argument:
    return _Argument(names, keywords)


def _output_file(text: str) -> Path:
    """A file to write, refused before any work if it is a directory (not after it)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a directory; give a file path")
    return path


def _parsed(text: str, convert: Callable[[str], _N], expected: str) -> _N:
    """``convert(text)``, or the argument error naming what was expected."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text[:40]!r}") from None


def _positive_int(text: str) -> int:
    """A count of at least 1 (workers), refused before any work otherwise."""
    value = _parsed(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _distance(text: str) -> float:
    """A match distance between two unit-length encodings: finite, above 0 and below 2."""
    value = _parsed(text, float, "a number")
    if not 0 < value < 2:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be above 0 and below 2, got {text[:40]}")
    return value


# Arguments several commands take, each written once.
_CONFIG = (
    _arg("config", type=Path, metavar="CONFIG", help="scenario YAML file"),
    _arg(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a config value, e.g. --set population.size=5000 or "
        "--set districts.center.cameras_per_1000=4 (repeatable)",
    ),
)
_OUT_DIR = _arg("--out", type=Path, required=True, metavar="DIR", help="output directory")
_OUTPUT = (
    _OUT_DIR,
    _arg(
        "--force",
        action="store_true",
        help="replace DIR if it exists (only once the new run is complete)",
    ),
)
_CACHE = _arg(
    "--no-cache",
    dest="cache",
    action="store_false",
    help="calibrate afresh instead of reusing the calibration cache (and do not store it)",
)

# Where Dask tasks run.
_DASK = (
    _arg(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:port); default: a local cluster on this machine",
    ),
    _arg("--workers", type=_positive_int, default=2, help="local worker processes (default: 2)"),
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


@dataclass(frozen=True)
class _Command:
    """A subcommand: its words (``"video render"``), help line, handler and arguments."""

    words: str
    help: str
    handler: Handler
    arguments: tuple[_Argument, ...] = ()
    # Arguments of which at most one may be given.
    exclusive: tuple[_Argument, ...] = ()


# Every subcommand, in the order `--help` lists them.
_COMMANDS = (
    _Command("validate", "check a scenario config without running it", _validate, (*_CONFIG,)),
    _Command(
        "generate",
        "generate the synthetic world (persons, cameras, camera events)",
        _deferred("_generate"),
        (*_CONFIG, *_OUTPUT),
    ),
    _Command(
        "run",
        "run a scenario end to end: world, calibration, deployments, per-group rates",
        _deferred(
            "_run_scenario",
            local_cluster=lambda args: args.workers is not None and args.scheduler is None,
        ),
        (
            *_CONFIG,
            *_OUTPUT,
            _arg(
                "--report",
                action="store_true",
                help="also write the per-group report (as `riskclass report DIR`) into DIR/report",
            ),
            _CACHE,
        ),
        (
            _arg(
                "--workers",
                type=_positive_int,
                metavar="N",
                help="decide the chunks of events on a local Dask cluster of N worker processes "
                "(same files as without)",
            ),
            _arg(
                "--scheduler",
                metavar="ADDRESS",
                help="decide the chunks of events on the Dask cluster of this scheduler "
                "(tcp://host:port); its workers must see the output directory at the same path",
            ),
        ),
    ),
    _Command(
        "dynamics",
        "run a scenario with dynamics period by period: records, scores, listings, risk positions",
        _deferred("_dynamics_command"),
        (*_CONFIG, *_OUTPUT, _CACHE),
    ),
    _Command(
        "sweep",
        "run a grid of settings x seeds as Dask tasks; one combined table and HTML page",
        _deferred("_sweep_command", local_cluster=lambda args: args.scheduler is None),
        (
            *_CONFIG,
            _arg(
                "--grid",
                action="append",
                required=True,
                metavar="PATH=V1,V2,...",
                help="a config path and the values it takes, e.g. "
                "--grid deployments.street_watchlist.threshold=0.56,0.6 "
                "(repeatable: every combination)",
            ),
            _arg("--seeds", type=int, default=1, help="seeds per setting (default: 1)"),
            _OUT_DIR,
            *_DASK,
        ),
    ),
    _Command(
        "report",
        "per-group error report of a finished run: tables, figures and HTML in RUN_DIR/report",
        _deferred("_report"),
        (_arg("run_dir", type=Path, metavar="RUN_DIR", help="a `riskclass run` output"),),
    ),
    _Command(
        "compare",
        "what-if: finished runs side by side per deployment and group, with change ratios",
        _deferred("_compare"),
        (
            _arg(
                "run_dirs",
                type=Path,
                nargs="+",
                metavar="RUN_DIR",
                help="two or more `riskclass run` outputs; the first is the baseline",
            ),
            *_OUTPUT,
        ),
    ),
    _Command(
        "bench",
        "measure 1:N search throughput and recall of each matcher on synthetic embeddings",
        _deferred("_bench_command"),
        (
            _arg("--gallery", type=int, default=100_000, metavar="N", help="gallery size"),
            _arg("--probes", type=int, default=2_000, metavar="M", help="probes per round"),
            _arg("--k", type=int, default=1, metavar="K", help="candidates per probe"),
            _arg(
                "--methods",
                default=" ".join(DEFAULT_METHODS),
                metavar="LIST",
                help="space- or semicolon-separated methods (default: %(default)s)",
            ),
            _arg("--rounds", type=int, default=3, help="rounds per method; the median counts"),
            _arg("--seed", type=int, default=0),
            _arg(
                "--json", type=_output_file, metavar="PATH", help="also write the results as JSON"
            ),
        ),
    ),
    _Command(
        "video render",
        "render camera scenes (MP4), ground truth and enrollment portraits",
        _deferred("_video_render"),
        (*_CONFIG, *_OUTPUT),
    ),
    _Command(
        "video run",
        "detect (HOG, Haar), track, encode and match rendered scenes; per-group rates",
        _deferred("_video_run"),
        (_arg("directory", type=Path, metavar="DIR", help="a `video render` output"),),
    ),
    _Command(
        "enroll",
        "encode labelled real photos and fit a per-group error profile for configs",
        _deferred("_enroll"),
        (
            _arg("images", type=Path, metavar="IMAGES_DIR", help="folder of photos"),
            _arg(
                "--labels",
                type=Path,
                required=True,
                metavar="CSV",
                help="file, identity, then one column per group attribute",
            ),
            _arg(
                "--out",
                type=_output_file,
                default=Path("error_profile.yaml"),
                metavar="FILE",
                help="where to write the profile (default: error_profile.yaml)",
            ),
            _arg(
                "--tolerance",
                type=_distance,
                default=0.6,
                help="face_recognition match distance, above 0 and below 2 "
                "(default: 0.6, the library's)",
            ),
        ),
    ),
    _Command(
        "calibrate",
        "solve the embedding model for the configured error rates and check it out of sample",
        _deferred("_calibrate"),
        (
            *_CONFIG,
            _arg(
                "--out",
                type=_output_file,
                default=Path("calibration.csv"),
                metavar="FILE",
                help="where to write the calibration table (default: calibration.csv)",
            ),
            _CACHE,
        ),
    ),
    _Command(
        "cache info",
        "where the cache is, how many entries it holds and their size",
        _deferred("_cache_info"),
    ),
    _Command("cache clear", "remove every entry", _deferred("_cache_clear")),
)
# The commands that group subcommands (``video render``), with their help lines.
_GROUPS = {
    "video": "rendered camera video with the real face detector and encoder",
    "cache": "the calibration cache: solved embedding models reused by run and calibrate",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskclass",
        description="Simulate face-recognition surveillance and measure who bears its errors.",
    )
    # Subcommand lists by the words before them; a group's appears with its first command.
    lists = {"": parser.add_subparsers(title="commands", metavar="COMMAND")}
    for command in _COMMANDS:
        group, _, name = command.words.rpartition(" ")
        if group not in lists:
            group_parser = lists[""].add_parser(group, help=_GROUPS[group])
            lists[group] = group_parser.add_subparsers(title=f"{group} commands", metavar="COMMAND")
        subparser = lists[group].add_parser(name, help=command.help)
        for argument in command.arguments:
            # A copy: a default list (--set's) goes into the parsed arguments as it is.
            subparser.add_argument(*argument.names, **copy.deepcopy(argument.keywords))
        if command.exclusive:
            alternatives = subparser.add_mutually_exclusive_group()
            for argument in command.exclusive:
                alternatives.add_argument(*argument.names, **copy.deepcopy(argument.keywords))
        subparser.set_defaults(handler=command.handler)
    return parser


if __name__ == "__main__":
    sys.exit(main())
