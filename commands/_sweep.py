"""`riskclass sweep`: a grid of settings times several seeds, run as Dask tasks.

Every combination of the grid's values, for each of ``seeds`` seeds, is one
ordinary run (`riskclass.commands.run`) into its own directory under
``OUT/runs/``; the sweep then combines their ``per_group.csv`` into one table and
one HTML page. Runs are tasks on a Dask cluster: a local cluster of worker
processes by default, whose command makes a share of the tasks itself rather than
wait for its workers, or the scheduler at ``--scheduler``. Calibration depends only
on the algorithm section and the seed, so it is computed once per distinct pair and
shared by its runs: read here from the calibration cache while the workers start
where the cache holds it, otherwise as a task of its own. Runs that differ only in
deployments' thresholds (`riskclass.pipeline.alike_key`) are made together, in one
task (`riskclass.commands.run_alike`): their world, events, enrollment, captures and
searches are made once, and each run's files are still those of the run alone.

A run whose directory already holds a complete manifest of the same config is
kept: an interrupted sweep resumes where it stopped. A task that dies with its
worker is retried (runs write atomically, so a retried run leaves no partial or
duplicate rows).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from riskclass import (
    PER_GROUP,
    ConfigError,
    DataError,
    Progress,
    RiskclassError,
    Scenario,
    load_config,
    read_manifest,
    report_progress,
    write_file_atomically,
)
from riskclass.pipeline import alike_key

from . import _cache
from ._cluster import RETRIES, client_starting
from ._options import RunOptions
from ._run import Calibration, calibrate_and_check, run_alike

RUNS_DIR = "runs"
# The Dask event topic on which a worker says it started a task of runs.
_STARTED = "riskclass-sweep-started"
SWEEP_TABLE = "sweep.csv"
SETTINGS_TABLE = "settings.csv"
HTML = "index.html"
# Rates combined across seeds: (column in the table, numerator, denominator);
# false alerts per resident per day divide by residents x days.
_RATES = (
    ("fpir", "nonmated_alerts", "nonmated_searches"),
    ("fnir", "misses", "mated_searches"),
    ("false_alerts_per_1000_per_day", "false_alerts", "resident_days"),
)
SWEEP_COLUMNS = (
    "setting", "deployment", "attribute", "value", "metric", "seeds", "mean", "sd",
    "pooled", "ci_low", "ci_high", "interval", "numerator", "denominator",
)  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """The swept config paths and the values each takes (parsed as YAML, like ``--set``)."""

    paths: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Grid:
        """From ``PATH=V1,V2,...`` strings.

        Examples
        --------
        >>> grid = Grid.parse(["algorithm.threshold=0.58,0.6", "days=1,2"])
        >>> grid.settings()[1]
        {'algorithm.threshold': 0.58, 'days': 2}
        """
        paths, values = [], []
        for spec in specs:
            path, sep, text = spec.partition("=")
            items = [item for item in text.split(",") if item.strip()]
            if not sep or not path or not items:
                raise ConfigError(
                    "--grid", [(spec, "expected PATH=V1,V2,... with one value at least")]
                )
            if path in paths:
                raise ConfigError("--grid", [(path, "swept twice")])
            try:
                parsed = tuple(yaml.safe_load(item) for item in items)
            except yaml.YAMLError as exc:
                raise ConfigError("--grid", [(path, f"a value is not valid YAML: {exc}")]) from None
            paths.append(path)
            values.append(parsed)
        return cls(tuple(paths), tuple(values))

    def settings(self) -> list[dict[str, Any]]:
        """Every combination, the last path varying fastest."""
        return [
            dict(zip(self.paths, combo, strict=True)) for combo in itertools.product(*self.values)
        ]


@dataclass(frozen=True)
class SweepRun:
    """One run of the sweep: its setting, seed, scenario and directory."""

    setting: int
    seed: int
    scenario: Scenario
    out: Path

    @property
    def calibration_key(self) -> str:
        """What calibration depends on: the calibration cache's key of the algorithm
        that `_calibrate` calibrates (mechanisms applied: ``equal_error_rates``
        changes it) and the seed."""
        calibrated = self.scenario.with_mechanisms_applied()
        return _cache.calibration_key(calibrated.algorithm, calibrated.seed)


@dataclass
class SweepSummary:
    """What a sweep ran, kept and combined."""

    out: Path
    runs: int
    ran: int
    kept: int
    calibrations: int
    # Tasks that made the runs: runs alike share one (see `_alike`).
    tasks: int
    # Runs made by the calling process itself: a share, where it starts a local cluster.
    ran_here: int
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def plan(
    config: str | Path,
    grid: Grid,
    *,
    seeds: int,
    out: str | Path,
    overrides: Sequence[str] = (),
) -> list[SweepRun]:
    """Every run of the sweep, validated before any is started.

    Seed ``i`` of ``seeds`` is the config's seed plus ``i``.

    Raises
    ------
    ConfigError
        For a bad grid or a combination that does not validate, naming it.
    """
    if seeds < 1:
        raise ConfigError("--seeds", [("--seeds", "needs at least 1 seed")])
    base = load_config(config, overrides)
    runs = []
    for index, setting in enumerate(grid.settings()):
        for offset in range(seeds):
            seed = base.seed + offset
            assignments = [f"{path}={json.dumps(value)}" for path, value in setting.items()]
            scenario = load_config(config, [*overrides, *assignments, f"seed={seed}"])
            runs.append(
                SweepRun(index, seed, scenario, Path(out) / RUNS_DIR / _run_name(index, seed))
            )
    return runs


def _run_name(setting: int, seed: int) -> str:
    return f"setting-{setting:03d}-seed-{seed}"


def sweep(
    config: str | Path,
    grid: Grid,
    *,
    seeds: int,
    out: str | Path,
    overrides: Sequence[str] = (),
    scheduler: str | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> SweepSummary:
    """Run every setting of ``grid`` for ``seeds`` seeds and combine the results.

    Without ``scheduler`` a local cluster of ``workers`` processes runs the tasks,
    one per group of runs alike (see `_tasks`), and this process makes a share of
    them (``SweepSummary.ran_here`` runs) where that splits no group. Writes
    ``OUT/runs/setting-NNN-seed-S/`` (each an ordinary run directory),
    ``OUT/settings.csv``, ``OUT/sweep.csv`` and ``OUT/index.html``.

    Raises
    ------
    ConfigError
        For a bad grid, a setting that does not validate, or an unreachable scheduler.
    """
    out = Path(out)
    runs = plan(config, grid, seeds=seeds, out=out, overrides=overrides)
    pending = [r for r in runs if not _finished(r)]
    # The first pending run of each distinct calibration stands for all its runs.
    calibrated: dict[str, SweepRun] = {}
    for r in pending:
        calibrated.setdefault(r.calibration_key, r)
    tally = _Tally(len(runs) - len(pending), len(runs), progress)
    with (
        client_starting(scheduler, workers) as starting,
        ThreadPoolExecutor(1, thread_name_prefix="dask-submit") as submitting,
    ):
        # While the workers start, this process reads what the calibration cache
        # holds (0.05 s each: entries keep the drift tables) and groups the runs
        # alike; the rest, and whatever is left when the cluster is up, are tasks.
        read = {}
        for key, r in calibrated.items():
            if starting.done() or _cache.load(key) is None:
                break
            read[key] = _calibrate(r.scenario)
        alike = _alike(pending)
        here: list[list[SweepRun]] = []
        if scheduler is None:
            # The cluster is this machine's: rather than wait for its workers, this
            # process makes a share of the runs too (every ``workers + 1``-th task
            # whose calibration it read), the first while the workers start.
            tasks = _tasks(alike, workers + 1)
            # Whole groups only: a group split to make room for this process would
            # make its world, events and searches twice, which costs more than the
            # share saves where the workers fill the cores.
            if len(tasks) == len(alike):
                here = [t for t in tasks[workers :: workers + 1] if t[0].calibration_key in read]
            if here:
                alike = [t for t in tasks if all(t is not mine for mine in here)]
        submitted = submitting.submit(
            _submit, starting, alike, calibrated, read, tally, split=not here
        )
        for task in here:
            tally.expect(_run_key(task), task)
            tally.started(_run_key(task))
            try:
                made = _runs_task(task, read[task[0].calibration_key])
            # As a task's failure on a worker: counted, and the other runs go on.
            except Exception as exc:
                tally.finished(_run_key(task), task, exc)
            else:
                tally.finished(_run_key(task), task, made)
        client, futures = submitted.result()
        tables = tally.wait()
        # Each task read its runs' tables as it made them; the runs kept are read here.
        table = _combined([tables[r.out] if r.out in tables else _run_table(r) for r in runs], grid)
        # The workers are idle now: they draw the page's figures (most of its time).
        _write_summary(out, runs, grid, table, pool=client.get_executor(retries=RETRIES))
    return SweepSummary(
        out,
        len(runs),
        len(pending),
        len(runs) - len(pending),
        len(calibrated),
        len(here) + len(futures),
        sum(map(len, here)),
        table,
    )


def _submit(
    starting: Future[Any],
    groups: list[list[SweepRun]],
    calibrated: dict[str, SweepRun],
    read: dict[str, Calibration],
    tally: _Tally,
    *,
    split: bool,
) -> tuple[Any, list[Any]]:
    """Once the cluster is up, submit a task per group of runs (``split``: split
    first, for the cluster's workers, see `_tasks`), each after the calibration
    it needs; returns the client and the tasks' futures, which report to ``tally``."""
    client = starting.result()
    tasks = _tasks(groups, len(client.nthreads())) if split else groups
    needed = {task[0].calibration_key for task in tasks}
    # A calibration read here travels inside its task rather than scattered:
    # scattered data dies with the worker holding it, and the runs that needed
    # it would be lost with it; a task is run again.
    calibrations = {
        key: client.submit(
            *((_given, read[key]) if key in read else (_calibrate, r.scenario)),
            key=f"calibrate-{i}",
            retries=RETRIES,
        )
        for i, (key, r) in enumerate(calibrated.items())
        if key in needed
    }
    # Before the first task, on the stream the tasks go by: no start is missed.
    client.subscribe_topic(_STARTED, lambda event: tally.started(event[1]))
    futures = []
    for task in tasks:
        future = client.submit(
            _worker_task,
            task,
            calibrations[task[0].calibration_key],
            key=_run_key(task),
            retries=RETRIES,
        )
        tally.track(future, task)
        futures.append(future)
    return client, futures


def _run_key(task: list[SweepRun]) -> str:
    return f"run-{task[0].out.name}"


def _alike(pending: Sequence[SweepRun]) -> list[list[SweepRun]]:
    """The runs grouped by what they share (`riskclass.pipeline.alike_key`): runs of
    one seed that differ in deployments' thresholds only, largest group first."""
    groups: dict[str, list[SweepRun]] = {}
    for r in pending:
        groups.setdefault(alike_key(r.scenario.with_mechanisms_applied()), []).append(r)
    return sorted(groups.values(), key=len, reverse=True)


def _tasks(groups: list[list[SweepRun]], workers: int) -> list[list[SweepRun]]:
    """The tasks that run ``groups``: one per group, the largest split in halves
    until the tasks are a multiple of the ``workers`` (or each is one run), so that
    no worker idles while another runs a whole group; largest first.

    Examples
    --------
    >>> [len(task) for task in _tasks([[1, 2, 3, 4]] * 3, workers=2)]
    [4, 4, 2, 2]
    >>> [len(task) for task in _tasks([[1, 2]], workers=4)]
    [1, 1]
    """
    tasks = sorted(groups, key=len, reverse=True)
    while len(tasks) % workers and len(tasks[0]) > 1:
        largest = tasks.pop(0)
        half = (len(largest) + 1) // 2
        tasks = sorted([*tasks, largest[:half], largest[half:]], key=len, reverse=True)
    return tasks


def _finished(r: SweepRun) -> bool:
    """The run's directory holds a complete run of exactly this scenario."""
    try:
        manifest = read_manifest(r.out)
    except DataError:
        return False
    return bool(manifest.get("config") == r.scenario.model_dump(mode="json"))


def _calibrate(scenario: Scenario) -> Calibration:
    return calibrate_and_check(scenario.with_mechanisms_applied())


def _given(calibration: Calibration) -> Calibration:
    return calibration


def _worker_task(task: list[SweepRun], calibration: Calibration) -> list[pd.DataFrame]:
    """`_runs_task` on a worker, which first tells the command that it started
    (the progress bar's runs running; a retry tells it again)."""
    from distributed import get_worker

    get_worker().log_event(_STARTED, _run_key(task))
    return _runs_task(task, calibration)


def _runs_task(task: list[SweepRun], calibration: Calibration) -> list[pd.DataFrame]:
    """Make ``task``'s runs (alike) and return their tables for `combine`, read while
    the other tasks still run rather than after them all."""
    scenarios, outs = [r.scenario for r in task], [r.out for r in task]
    run_alike(scenarios, outs, RunOptions(force=True), calibration=calibration)
    return [_run_table(r) for r in task]


class _Tally:
    """Runs done, running, queued and failed, reported as tasks start and end: in
    this thread (the runs it makes) and in Dask's event and callback threads (the
    workers' tasks); and the tables each finished task returned, by run directory.
    Tasks are known by their keys (`_run_key`)."""

    def __init__(self, kept: int, total: int, progress: Progress | None) -> None:
        self._changed = threading.Condition()
        self._done, self._total, self._failed = kept, total, 0
        self._progress = progress
        self._failures: list[tuple[str, object]] = []
        self._tables: dict[Path, pd.DataFrame] = {}
        # Runs per task key, of the tasks started and not yet ended; and the keys
        # ended, whose start may still arrive (events and results travel apart).
        self._running: dict[str, int] = {}
        self._ended: set[str] = set()
        self._runs: dict[str, int] = {}
        self._report()

    def _report(self) -> None:
        running = sum(self._running.values())
        queued = self._total - self._done - running
        status = f"sweep: {running} running, {queued} queued, {self._failed} failed"
        report_progress(self._progress, status, self._done, self._total)

    def started(self, key: str) -> None:
        """The task ``key`` started (again, after its worker died)."""
        with self._changed:
            if key not in self._ended and key in self._runs:
                self._running[key] = self._runs[key]
                self._report()

    def track(self, future: Any, task: list[SweepRun]) -> None:
        """Count ``future``, which makes ``task``, when it ends, whichever way."""
        self.expect(future.key, task)

        def ended(future: Any) -> None:
            if future.status == "finished":
                self.finished(future.key, task, future.result())
            elif future.status == "error":
                self.finished(future.key, task, future.exception())
            else:  # lost or cancelled: it did not run to its end
                self.finished(future.key, task, f"the task was {future.status}")

        future.add_done_callback(ended)

    def expect(self, key: str, task: list[SweepRun]) -> None:
        """``task`` will run as ``key``."""
        with self._changed:
            self._runs[key] = len(task)

    def finished(self, key: str, task: list[SweepRun], outcome: object) -> None:
        """``task`` ended: ``outcome`` is its runs' tables, or what failed."""
        with self._changed:
            self._ended.add(key)
            self._running.pop(key, None)
            self._done += len(task)
            if isinstance(outcome, list):
                self._tables.update(zip([r.out for r in task], outcome, strict=True))
            else:
                self._failed += len(task)
                self._failures.append((key, outcome))
            self._report()
            self._changed.notify_all()

    def wait(self) -> dict[Path, pd.DataFrame]:
        """Wait until every run is counted; the tables of the runs made, by directory.

        Raises
        ------
        SweepError
            If any run failed.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._done == self._total)
        if self._failures:
            key, exc = self._failures[0]
            raise SweepError(
                f"{self._failed} of {self._total} runs failed; the others are kept and a "
                f"rerun resumes. First failure, {key}: {exc}"
            )
        return self._tables


class SweepError(RiskclassError):
    """One or more runs of a sweep failed; the finished ones are kept."""


def combine(runs: Sequence[SweepRun], grid: Grid) -> pd.DataFrame:
    """Per setting, deployment, group and rate: the spread across seeds and the pooled rate.

    ``mean`` and ``sd`` are over the seeds' rates; ``pooled`` is the summed
    numerator over the summed denominator. Its interval treats the seeds as
    independent replicates of the city (Student's t on the seeds' rates around
    the pooled rate, ``interval = "t over seeds"``), which keeps the correlation of
    a person's repeated sightings inside each replicate; with one seed there is no
    such interval and ``ci_low``/``ci_high`` are empty.
    """
    return _combined([_run_table(r) for r in runs], grid)


def _run_table(r: SweepRun) -> pd.DataFrame:
    """The run's ``per_group.csv``, with what `combine` adds up across seeds."""
    read_manifest(r.out)  # the runs' files as they were written, or a clear error
    table = pd.read_csv(r.out / PER_GROUP)
    table["setting"] = r.setting
    table["seed"] = r.seed
    table["misses"] = table["mated_searches"] - table["true_alerts"]
    # Per-resident rates count the residents a deployment's cameras can sight; a
    # batch kind's trials are photos searched once, so it has none (`KindInfo.batch`).
    table["resident_days"] = table["searchable"] * r.scenario.days / 1000.0
    batch = [d.name for d in r.scenario.deployments if d.info.batch]
    table["per_resident"] = ~table["deployment"].isin(batch)
    return table


def _combined(frames: list[pd.DataFrame], grid: Grid) -> pd.DataFrame:
    """`combine` of the runs' tables (`_run_table`)."""
    from scipy.special import stdtrit  # the t quantile (what scipy.stats.t.ppf calls)

    every = pd.concat(frames, ignore_index=True)
    keys = ["setting", "deployment", "attribute", "value"]
    tables = []
    for metric, numerator, denominator in _RATES:
        rows = every[every["per_resident"]] if denominator == "resident_days" else every
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = rows[numerator] / rows[denominator].where(rows[denominator] > 0)
        groups = rows.assign(rate=rate).groupby(keys, sort=False)
        table = groups.agg(
            seeds=("rate", "size"),
            rated=("rate", "count"),
            mean=("rate", "mean"),
            sd=("rate", "std"),
            numerator=(numerator, "sum"),
            denominator=(denominator, "sum"),
        ).reset_index()
        table.insert(4, "metric", metric)
        table[["numerator", "denominator"]] = table[["numerator", "denominator"]].astype(float)
        den = table["denominator"]
        table["pooled"] = (table["numerator"] / den.where(den > 0)).astype(float)
        # An interval needs two seeds' rates at least (the standard deviation is NaN below).
        several = table["rated"] > 1
        rated = table["rated"].where(several)
        half = stdtrit(rated - 1, 0.975) * table["sd"] / np.sqrt(rated)
        table["ci_low"] = (table["pooled"] - half).clip(lower=0.0)
        table["ci_high"] = table["pooled"] + half
        table["interval"] = np.where(several, "t over seeds", "")
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)[list(SWEEP_COLUMNS)]
    settings = pd.DataFrame(grid.settings()).rename_axis("setting").reset_index()
    return settings.merge(table, on="setting")


def _write_summary(
    out: Path,
    runs: Sequence[SweepRun],
    grid: Grid,
    table: pd.DataFrame,
    *,
    pool: Executor | None = None,
) -> None:
    """``settings.csv``, ``sweep.csv`` and ``index.html``, beside ``runs/``, atomically
    each; ``pool``, where given, draws the page's figures."""
    from riskclass.analysis.report import sweep_page

    settings = pd.DataFrame(
        [{"run": r.out.name, "setting": r.setting, "seed": r.seed} for r in runs]
    ).merge(pd.DataFrame(grid.settings()).rename_axis("setting").reset_index(), on="setting")
    page = sweep_page(table, list(grid.paths), title=f"Sweep of {runs[0].scenario.name}", pool=pool)

    for name, text in (
        (SETTINGS_TABLE, settings.to_csv(index=False)),
        (SWEEP_TABLE, table.to_csv(index=False)),
        (HTML, page),
    ):
        write_file_atomically(out / name, text)
