"""What each command of the ``riskclass`` command line does at the terminal.

`_cli` parses the arguments and imports this module only when a command that needs
the data stack runs: each handler runs its command with a progress bar and prints
its tables.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import pandas as pd
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from riskclass import (
    KINDS,
    REPORT_DIR,
    Progress as ProgressFn,
    Scenario,
    group_label,
    naming_config_file,
    records,
    write_file_atomically,
)
from riskclass.analysis import calibration_holds, calibration_summary, overall
from riskclass.analysis.report import fmt, start_figure_server

from . import _bench, _cache, _run
from ._cli import load_scenario
from ._options import RunOptions
from ._report import HTML, ReportSummary, build_report, figure_processes

_TERMINAL_ROWS = 12
_CACHE_NOTES = {
    "hit": "; reused from the calibration cache (--no-cache to recompute)",
    "miss": "; stored in the calibration cache",
    "off": "",
}

_console = Console(stderr=True)
# Tables printed to a file or pipe get room for every column instead of 80 characters.
_stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _say(text: str) -> None:
    """A line for the user, printed as it is (paths and brackets are not markup)."""
    _stdout.print(text, highlight=False)


def _world(
    args: argparse.Namespace, stage: Callable[..., _run.RunSummary]
) -> tuple[Scenario, _run.RunSummary]:
    """Run ``stage`` (`generate` or `run`) with a progress bar and print the world it made."""
    scenario = load_scenario(args)
    started = time.perf_counter()
    with _progress_bar() as progress:
        summary = stage(scenario, args.out, _options(args, progress))
    _print_world(summary, time.perf_counter() - started)
    return scenario, summary


def _options(args: argparse.Namespace, progress: ProgressFn) -> RunOptions:
    """The `RunOptions` of a command that writes ``--out``, reporting to ``progress``."""
    # `generate` and `video render` calibrate nothing, so they take no --no-cache.
    cache = getattr(args, "cache", True)
    return RunOptions(force=args.force, config_path=args.config, progress=progress, cache=cache)


def _generate(args: argparse.Namespace) -> int:
    _world(args, _run.generate)
    return 0


def _run_scenario(args: argparse.Namespace) -> int:
    if args.report and figure_processes() and args.scheduler is None and args.workers is None:
        # The report's figure processes fork from a server that imports matplotlib:
        # started now, it does so while the run builds its world on one core.
        start_figure_server()
    scenario, summary = _world(
        args,
        functools.partial(_run.run, scheduler=args.scheduler, workers=args.workers),
    )
    if scenario.dynamics is not None:
        _say("note: run treats the days as one window; `riskclass dynamics` runs the periods")
    assert summary.calibration is not None and summary.per_group is not None
    _say(
        f"calibration: {calibration_summary(summary.calibration)}"
        f"{_misses(summary.calibration)} (see calibration.csv)"
        f"{_CACHE_NOTES[summary.calibration_cache]}"
    )
    for name, threshold in summary.thresholds.items():
        target = next(d.fpir for d in scenario.deployments if d.name == name)
        _say(
            f"{name}: threshold {threshold:.4f}, solved from the model for FPIR {target:g} "
            "against its gallery"
        )
    if summary.rows["searches_cut"]:
        _console.print(
            f"warning: {summary.rows['searches_cut']:,} searches had more comparisons above the "
            "sweep floor than fit in memory; impostor rates in the report are too low for "
            "their groups (raise the lowest of report.thresholds)",
            highlight=False,
        )
    kinds = {deployment.name: deployment.kind for deployment in scenario.deployments}
    _print_per_group(summary.per_group, list(scenario.population.attributes), kinds)
    # A run of batch kinds only searches photos: it has no camera events to time.
    speed = (
        f"; pipeline ran at {summary.performance['events_per_second']:,.0f} events/s end to end"
        if summary.rows["events"]
        else " (photos searched once each; no camera events)"
    )
    _say(f"{summary.rows['decisions']:,} decisions{speed}")
    if args.report:
        with _progress_bar() as progress:
            report = build_report(args.out, progress=progress, figure_processes=figure_processes())
        _print_report(report)
    return 0


def _dynamics_command(args: argparse.Namespace) -> int:
    from ._dynamics import run_dynamics

    scenario = load_scenario(args)
    started = time.perf_counter()
    with _progress_bar() as progress:
        summary = run_dynamics(scenario, args.out, _options(args, progress))
    rows = summary.rows
    feedback = "with feedback" if scenario.mechanisms.feedback else "static baseline"
    _say(
        f"wrote {summary.out}: {rows['persons']:,} persons over {rows['periods']} periods "
        f"({feedback}), {rows['listings']:,} listings in {time.perf_counter() - started:.1f} s"
    )
    assert summary.calibration is not None
    _say(
        f"calibration: {calibration_summary(summary.calibration)}"
        f"{_misses(summary.calibration)} (see calibration.csv)"
        f"{_CACHE_NOTES[summary.calibration_cache]}"
    )
    tables = summary.dynamics
    view = _table(
        "disparity after the first and the last period, worst over best (wrongly listed: "
        "share of the group; damages and benefits: per person in the period)",
        ["metric", "group", "reference", "first ratio", "last ratio", "amplification"],
        labels=3,
    )
    for row in records(tables.amplification):
        interval = f"{fmt(row.amplification)} [{fmt(row.ci_low)}, {fmt(row.ci_high)}]"
        view.add_row(
            row.metric.replace("_", " "),
            group_label(row.attribute, row.value),
            row.reference,
            fmt(row.first_ratio),
            fmt(row.last_ratio),
            interval,
        )
    _stdout.print(view)
    classes = _table(
        "risk classes (net position: benefits minus damages over the run)",
        ["class", "persons", "mean damages", "mean benefits", "mean net", "ever wrongly listed"],
    )
    for row in records(tables.classes):
        classes.add_row(
            str(row.risk_class),
            f"{row.persons:,}",
            fmt(row.mean_damages),
            fmt(row.mean_benefits),
            fmt(row.mean_net),
            f"{row.ever_wrongly_listed_share:.1%}",
        )
    _stdout.print(classes)
    _say(f"report: {summary.out / REPORT_DIR / 'index.html'}")
    return 0


def _print_per_group(
    per_group: pd.DataFrame, attributes: list[str], kinds: Mapping[str, str]
) -> None:
    shown = per_group[per_group["attribute"].isin(["all", *attributes])]
    for deployment, rows in shown.groupby("deployment", sort=False):
        kind = kinds[str(deployment)]
        note = f"\n({KINDS[kind].note})" if KINDS[kind].note else ""
        view = _table(
            f"deployment {deployment}: {kind}{note}",
            [
                "group",
                "persons",
                "events",
                "detected",
                "false alerts",
                "per 1,000/day",
                "FPIR",
                "FNIR",
            ],
        )
        for row in records(rows):
            detection = row.detected / row.events if row.events else float("nan")
            view.add_row(
                group_label(row.attribute, row.value),
                f"{row.persons:,}",
                f"{row.events:,}",
                f"{detection:.1%}",
                f"{row.false_alerts:,}",
                fmt(row.false_alerts_per_1000_per_day),
                fmt(row.fpir),
                fmt(row.fnir),
            )
        _stdout.print(view)


def _table(title: str, columns: Sequence[str], *, labels: int = 1) -> Table:
    """A terminal table: the first ``labels`` columns name things (left), the rest are numbers."""
    view = Table(title=title, title_justify="left")
    for position, column in enumerate(columns):
        view.add_column(column, justify="left" if position < labels else "right")
    return view


def _sweep_command(args: argparse.Namespace) -> int:
    from ._sweep import Grid, sweep

    with _progress_bar() as progress:
        summary = sweep(
            args.config,
            Grid.parse(args.grid),
            seeds=args.seeds,
            out=args.out,
            overrides=args.overrides,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=progress,
        )
    _say(
        f"wrote {summary.out}: {summary.runs} runs ({summary.ran} made now in {summary.tasks} "
        f"tasks, {summary.ran_here} of them by this process; {summary.kept} kept from before), "
        f"{summary.calibrations} calibrations; "
        "sweep.csv, settings.csv, index.html"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    with _progress_bar() as progress:
        summary = build_report(args.run_dir, progress=progress, figure_processes=figure_processes())
    _print_report(summary)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from ._compare import COMPARE_CSV, compare

    summary = compare(args.run_dirs, args.out, force=args.force)
    changed = summary.table[summary.table["significant"] & (summary.table["attribute"] == "all")]
    for row in records(changed):
        _say(
            f"- {row.deployment} {row.metric} ({row.run}): x{fmt(row.change)} "
            f"[{fmt(row.change_low)}, {fmt(row.change_high)}]"
        )
    _say(
        f"wrote {summary.out} ({COMPARE_CSV}, {len(summary.differences)} config differences, "
        f"{HTML})"
    )
    return 0


def _print_report(summary: ReportSummary) -> None:
    disparities = summary.tables["disparities"]
    flagged = overall(disparities)
    flagged = flagged[flagged["significant"] & ~flagged["attribute"].str.contains("&")]
    shown = flagged.sort_values("ratio", ascending=False).head(_TERMINAL_ROWS)
    if shown.empty:
        # An empty table would read as a failure to compute; say what the tests found.
        _say(
            f"no ratio in disparities.csv is significant once adjusted for the others "
            f"({len(overall(disparities))} at the operating point, over all light)"
        )
    else:
        _print_disparities(shown, len(flagged))
    for line in summary.summary:
        _say(f"- {line}")
    _say(
        f"wrote {summary.out} ({len(summary.tables)} tables as CSV and Parquet, "
        f"{HTML}) in {summary.seconds:.1f} s"
    )


def _print_disparities(shown: pd.DataFrame, flagged: int) -> None:
    view = _table(
        f"largest significant disparities ({len(shown)} of {flagged}; all in disparities.csv)",
        ["deployment", "metric", "group", "reference", "ratio", "95% interval", "adjusted"],
        labels=4,
    )
    for row in records(shown):
        view.add_row(
            row.deployment,
            row.metric,
            group_label(row.attribute, row.value),
            row.reference,
            f"{row.ratio:.3g}",
            f"{row.ci_low:.3g} - {row.ci_high:.3g}",
            f"{row.adjusted_low:.3g} - {row.adjusted_high:.3g}",
        )
    _stdout.print(view)


def _bench_command(args: argparse.Namespace) -> int:
    methods = [m for m in re.split(r"[\s;]+", args.methods) if m]
    with _progress_bar() as progress:
        results = _bench.run_bench(
            gallery=args.gallery,
            probes=args.probes,
            k=args.k,
            methods=methods,
            rounds=args.rounds,
            seed=args.seed,
            progress=progress,
        )
    environment = _bench.bench_environment()
    at_k = [f"recall@{args.k}"] if args.k > 1 else []
    view = _table(
        f"1:N search, gallery {args.gallery:,}, {args.probes:,} probes, k={args.k} "
        f"(OPENBLAS_CORETYPE={environment['openblas_coretype']}, {environment['cpus']} CPUs)",
        [
            "method",
            "probes/s",
            "vs exact",
            "recall@1",
            *at_k,
            "mates found",
            "build s",
            "bytes/identity",
        ],
    )
    exact = next((r.probes_per_s for r in results if r.method == "exact"), float("nan"))
    for r in results:
        recall_at_k = [f"{r.recall_at_k:.4f}"] if at_k else []
        view.add_row(
            r.method,
            f"{r.probes_per_s:,.1f}",
            f"{r.probes_per_s / exact:.3g}x",
            f"{r.recall_at_1:.4f}",
            *recall_at_k,
            f"{r.mated_found_at_1:.4f}",
            f"{r.build_s:.2f}",
            f"{r.bytes_per_identity:,.0f}",
        )
    _stdout.print(view)
    if args.json is not None:
        document = _bench.results_json(results, environment=environment)
        write_file_atomically(args.json, json.dumps(document, indent=2) + "\n")
        _say(f"wrote {args.json}")
    return 0


def _video_render(args: argparse.Namespace) -> int:
    from . import _video  # OpenCV, face_recognition and dlib: only for video

    scenario = load_scenario(args)
    with _progress_bar() as progress:
        summary = _video.render(scenario, args.out, _options(args, progress))
    _say(
        f"wrote {args.out}: {summary.scenes} scenes, {summary.frames:,} frames, {summary.faces:,} "
        f"visible faces of {summary.persons} persons in {summary.seconds:.1f} s "
        f"({summary.frames / summary.seconds:.1f} frames/s rendered and encoded)"
    )
    return 0


def _video_run(args: argparse.Namespace) -> int:
    from . import _video

    with _progress_bar() as progress:
        summary = _video.run_video(args.directory, progress=progress)
    table = summary.per_group
    # The terminal shows each lighting by group; video_per_group.csv has every cut.
    shown = table[
        table["stage"].str.endswith("_detection")
        & (table["lighting"] != "all")
        & (table["attribute"] != "skin_reflectance")
    ]
    view = _table(
        "detection rate by lighting and group (95% Wilson interval)",
        ["detector", "lighting", "group", "faces", "detected", "rate", "95% interval"],
        labels=3,
    )
    for row in records(shown):
        view.add_row(
            row.stage.removesuffix("_detection"),
            row.lighting,
            group_label(row.attribute, row.value),
            f"{row.n:,}",
            f"{row.count:,}",
            f"{row.rate:.3f}",
            f"{row.ci_low:.3f} - {row.ci_high:.3f}",
        )
    _stdout.print(view)
    _say(
        f"wrote {summary.out}: {summary.frames:,} frames, {summary.faces:,} faces, "
        f"{summary.tracks:,} tracks in {summary.seconds:.1f} s "
        f"({summary.frames / summary.seconds:.2f} frames/s detected, tracked and encoded)"
    )
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from riskclass.pipeline import encode_photos, fit_profile, read_labels  # dlib, OpenCV

    labels = read_labels(args.labels, args.images)
    with _progress_bar() as progress:
        photos = encode_photos(labels, args.images, progress=progress)
    profile = fit_profile(photos, tolerance=args.tolerance)
    header = (
        f"# Error profile fitted by `riskclass enroll` from {len(labels)} photos of "
        f"{labels['identity'].nunique()} identities at tolerance {args.tolerance}.\n"
        f"# Use it in a scenario: algorithm: {{error_profile: {args.out.name}}}\n"
    )
    write_file_atomically(args.out, header + yaml.safe_dump(profile, sort_keys=False))
    view = _table(
        f"error profile at distance {args.tolerance}",
        [
            "group",
            "images",
            "no face",
            "genuine pairs",
            "impostor pairs",
            "FNMR seen",
            "FMR seen",
            "FNMR fitted",
            "FMR fitted",
        ],
    )
    for group, fit in profile["fit"].items():
        view.add_row(
            group,
            str(fit["images"]),
            str(fit["no_single_face"]),
            str(fit["genuine_pairs"]),
            str(fit["impostor_pairs"]),
            fmt(fit["observed_fnmr"]),
            fmt(fit["observed_fmr"]),
            fmt(fit["fitted_fnmr"]),
            fmt(fit["fitted_fmr"]),
        )
    _stdout.print(view)
    _say(f"wrote {args.out}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args)
    started = time.perf_counter()
    with _progress_bar() as progress, naming_config_file(args.config):
        _, table = _run.calibrate_and_check(scenario, progress=progress, cache=args.cache)
    write_file_atomically(args.out, table.to_csv(index=False))
    _print_calibration(table)
    _say(
        f"{calibration_summary(table)}{_misses(table)}; wrote {args.out} in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 0


def _misses(table: pd.DataFrame) -> str:
    """Which calibrated rates missed their target, as a clause (empty when none did)."""
    held = calibration_holds(table)
    missed = [
        f"{row.group} {row.metric} {fmt(row.realized)} [{fmt(row.ci_low)}, {fmt(row.ci_high)}] "
        f"against {fmt(row.target)}"
        for row in records(table[~held])
    ]
    return f"; missed: {'; '.join(missed)}" if missed else ""


def _print_calibration(table: pd.DataFrame) -> None:
    view = _table(
        "calibration: configured vs realized (fresh samples; computed where counting cannot reach)",
        [
            "group",
            "metric",
            "at",
            "condition",
            "target",
            "realized",
            "95% interval",
            "n",
            "method",
            "",
        ],
        labels=4,
    )
    for row in records(table):
        counted = row.method == "counted"
        view.add_row(
            row.group,
            row.metric,
            "" if math.isnan(row.threshold) else f"{row.threshold:g}",
            row.condition,
            f"{row.target:.3g}",
            f"{row.realized:.3g}",
            f"{row.ci_low:.3g} - {row.ci_high:.3g}" if counted else "",
            f"{row.n:,}" if counted else "",
            row.method,
            row.status.upper() if row.status == "off" else row.status,
        )
    _stdout.print(view)


@contextmanager
def _progress_bar() -> Iterator[ProgressFn]:
    bar = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(task: str, done: int, total: int) -> None:
        # "name: detail" keeps one bar per name and shows the latest detail on it.
        name = task.partition(":")[0]
        if name not in tasks:
            tasks[name] = bar.add_task(task, total=total)
        bar.update(tasks[name], completed=done, total=total, description=task)

    with bar:
        yield update


def _print_world(summary: _run.RunSummary, seconds: float) -> None:
    rows = summary.rows
    _say(
        f"wrote {summary.out}: {rows['persons']:,} persons, {rows['cameras']:,} cameras, "
        f"{rows['events']:,} events in {seconds:.1f} s"
    )
    table = _table(
        "exposure by home district",
        ["district", "residents", "cameras", "cameras / 1,000", "sightings / resident / day"],
    )
    for row in records(summary.districts):
        table.add_row(
            row.district,
            f"{row.residents:,}",
            f"{row.cameras:,}",
            f"{row.cameras_per_1000:.2f}",
            f"{row.sightings_per_resident_day:.2f}",
        )
    _stdout.print(table)


def _cache_info(args: argparse.Namespace) -> int:
    info = _cache.cache_info()
    _say(
        f"calibration cache (set {_cache.CACHE_ENV} to move it)\n"
        f"location: {info.location}\nentries: {info.entries:,}\nsize: {info.bytes / 1024:,.1f} KiB"
    )
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    removed = _cache.clear_cache()
    _say(f"removed {removed:,} entries from the calibration cache {_cache.cache_dir()}")
    return 0
