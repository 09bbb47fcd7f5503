"""`riskclass sweep` on a real Dask cluster: same outputs as runs alone, retries, resume."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import LocalCluster

from riskclass import Progress, load_config
from riskclass.commands import (
    EXIT_USAGE,
    Grid,
    SweepSummary,
    calibrate_and_check,
    main,
    plan,
    run,
    run_alike,
    sweep,
)
from riskclass.synthetic import EmbeddingModel

from .conftest import FAST_ALGORITHM, killing_a_worker_once, scaled_default

GRID = ["deployments.street_watchlist.threshold=0.58,0.62"]
SEEDS = 2
# Every file of a run that is not a manifest (which records timings) or a log.
COMPARED = ("persons.parquet", "events.parquet", "decisions.parquet", "hits.parquet",
            "person_outcomes.parquet", "per_group.csv", "calibration.csv")  # fmt: skip


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = scaled_default(4000, days=1)
    data["algorithm"] = FAST_ALGORITHM
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _sweep(
    config: Path, out: Path, cluster: LocalCluster, progress: Progress | None = None
) -> SweepSummary:
    """The test grid, ``SEEDS`` seeds a setting, swept into ``out`` on ``cluster``."""
    return sweep(
        config,
        Grid.parse(GRID),
        seeds=SEEDS,
        out=out,
        scheduler=cluster.scheduler_address,
        progress=progress,
    )


@pytest.fixture(scope="module")
def reports() -> list[tuple[str, int, int]]:
    """What the `swept` sweep reported to its progress callback, in order."""
    return []


@pytest.fixture(scope="module")
def swept(
    tiny_config: Path,
    dask_cluster: LocalCluster,
    tmp_path_factory: pytest.TempPathFactory,
    reports: list[tuple[str, int, int]],
) -> tuple[Path, list[int]]:
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    with killing_a_worker_once(dask_cluster.scheduler_address, "run-") as killed:
        summary = _sweep(tiny_config, out, dask_cluster, lambda *report: reports.append(report))
    assert summary.runs == summary.ran == 4
    # Calibration depends on the algorithm and the seed only: once per seed here.
    assert summary.calibrations == SEEDS
    return out, killed


def test_every_run_equals_the_same_run_alone(
    swept: tuple[Path, list[int]], tiny_config: Path, tmp_path: Path
) -> None:
    out, killed = swept
    # The watcher killed a worker while it ran a task: the task was retried.
    assert len(killed) == 1
    runs = plan(tiny_config, Grid.parse(GRID), seeds=SEEDS, out=out)
    for swept_run in (runs[0], runs[-1]):
        alone = tmp_path / swept_run.out.name
        run(swept_run.scenario, alone)
        for name in COMPARED:
            assert (swept_run.out / name).read_bytes() == (alone / name).read_bytes(), name


def test_progress_counts_runs_running_queued_and_failed(
    swept: tuple[Path, list[int]], reports: list[tuple[str, int, int]]
) -> None:
    # Workers say when they start a task (again, after the killed one's retry):
    # the bar shows runs running before they are done, and none once all are.
    counts = [
        (done, total, *map(int, re.findall(r"(\d+) (?:running|queued|failed)", status)))
        for status, done, total in reports
    ]
    assert all(len(c) == 5 and c[1] == 4 for c in counts), reports
    # A start that arrives after its task's end is not counted as running.
    assert all(queued >= 0 for _, _, _, queued, _ in counts), reports
    assert any(running > 0 for _, _, running, _, _ in counts), reports
    assert counts[0][:3] == (0, 4, 0) and counts[-1] == (4, 4, 0, 0, 0), reports


def test_the_combined_table_pools_the_seeds(swept: tuple[Path, list[int]]) -> None:
    out, _ = swept
    table = pd.read_csv(out / "sweep.csv")
    settings = pd.read_csv(out / "settings.csv")
    assert len(settings) == 4 and set(settings["seed"].value_counts()) == {2}
    rows = table[
        (table["deployment"] == "street_watchlist")
        & (table["attribute"] == "all")
        & (table["metric"] == "fpir")
    ]
    assert sorted(rows["deployments.street_watchlist.threshold"]) == [0.58, 0.62]
    for row in rows.itertuples():
        per_seed = []
        for seed_run in settings[settings["setting"] == row.setting]["run"]:
            per_group = pd.read_csv(out / "runs" / seed_run / "per_group.csv")
            mine = per_group[
                (per_group["deployment"] == "street_watchlist") & (per_group["attribute"] == "all")
            ].iloc[0]
            per_seed.append((mine["nonmated_alerts"], mine["nonmated_searches"]))
        alerts, searches = np.sum(per_seed, axis=0)
        assert row.numerator == alerts and row.denominator == searches
        assert row.pooled == pytest.approx(alerts / searches)
        assert row.ci_low <= row.pooled <= row.ci_high
    # A higher threshold alerts less often.
    fpir = rows.set_index("deployments.street_watchlist.threshold")["pooled"]
    assert fpir[0.62] < fpir[0.58]
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 3


def test_an_interrupted_sweep_resumes_where_it_stopped(
    swept: tuple[Path, list[int]], tiny_config: Path, dask_cluster: LocalCluster
) -> None:
    out, _ = swept
    runs = plan(tiny_config, Grid.parse(GRID), seeds=SEEDS, out=out)
    kept = runs[0].out / "decisions.parquet"
    before = kept.stat().st_mtime_ns
    table = (out / "sweep.csv").read_bytes()
    # As if the sweep had been stopped before its last run finished.
    (runs[-1].out / "manifest.json").unlink()
    summary = _sweep(tiny_config, out, dask_cluster)
    assert (summary.ran, summary.kept) == (1, 3)
    assert kept.stat().st_mtime_ns == before
    assert (runs[-1].out / "manifest.json").is_file()
    # The rerun run is the same run: the combined table does not change.
    assert (out / "sweep.csv").read_bytes() == table


def test_a_local_cluster_command_makes_a_share_of_the_runs(
    swept: tuple[Path, list[int]], tiny_config: Path, tmp_path: Path
) -> None:
    # Without a scheduler the command starts its own cluster (one worker here) and,
    # rather than wait for it, makes one task of runs itself; the calibrations it
    # shares must be in the cache for that, as a sweep's second run finds them.
    runs = plan(tiny_config, Grid.parse(GRID), seeds=SEEDS, out=tmp_path / "s")
    for seed_run in runs[:SEEDS]:
        calibrate_and_check(seed_run.scenario.with_mechanisms_applied())
    summary = sweep(tiny_config, Grid.parse(GRID), seeds=SEEDS, out=tmp_path / "s", workers=1)
    assert (summary.ran, summary.tasks, summary.ran_here) == (4, 2, 2)
    out, _ = swept
    for mine in runs:
        for name in COMPARED:
            theirs = out / "runs" / mine.out.name / name
            assert (mine.out / name).read_bytes() == theirs.read_bytes(), (mine.out.name, name)
    assert (tmp_path / "s" / "sweep.csv").read_bytes() == (out / "sweep.csv").read_bytes()


def test_an_unreachable_scheduler_is_named(
    tiny_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "sweep",
            str(tiny_config),
            "--grid",
            GRID[0],
            "--out",
            str(tmp_path / "s"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ]
    )
    assert code == EXIT_USAGE
    assert "tcp://127.0.0.1:9" in capsys.readouterr().err


def test_a_bad_grid_is_refused_before_anything_runs(
    tiny_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    code = main(["sweep", str(tiny_config), "--grid", "days=1,-5", "--out", str(out)])
    assert code == EXIT_USAGE
    assert "days" in capsys.readouterr().err
    assert not out.exists()
    assert load_config(tiny_config).days == 1


def test_settings_that_change_what_is_calibrated_get_their_own_calibration(
    tiny_config: Path, tmp_path: Path
) -> None:
    # Equal error rates replace the algorithm's table before calibration: the two
    # settings must not share one model, while the threshold grid's settings do.
    runs = plan(
        tiny_config,
        Grid.parse(["mechanisms.equal_error_rates=false,true", *GRID]),
        seeds=1,
        out=tmp_path / "sweep",
    )
    keys = {(run.scenario.mechanisms.equal_error_rates, run.calibration_key) for run in runs}
    assert len(keys) == 2 and len({key for _, key in keys}) == 2


def test_runs_alike_share_their_work_and_equal_runs_alone(
    tiny_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thresholds of every kind of search: 1:N at the street, 1:1 at the gates, an
    # investigation's candidates and a batch search of photos.
    data = yaml.safe_load(tiny_config.read_text())
    data["deployments"] += [
        {"name": "trajectory_search", "kind": "investigation", "gallery": "police_watchlist",
         "investigation": {"targets": 10, "candidates": 5}},
        {"name": "photo_search", "kind": "batch_search", "gallery": "court_defaulters"},
    ]  # fmt: skip
    config = tmp_path / "alike.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    settings = [
        [],
        ["deployments.street_watchlist.threshold=0.62", "deployments.rental_gates.threshold=0.7"],
        ["deployments.trajectory_search.threshold=0.65", "deployments.photo_search.threshold=0.6"],
    ]
    scenarios = [load_config(config, setting) for setting in settings]
    calibration = calibrate_and_check(scenarios[0].with_mechanisms_applied())
    # Each set of captures is encoded by one call of `EmbeddingModel.observe`;
    # enrollment photos by calls of their own.
    captures = []
    observe = EmbeddingModel.observe

    def counted(self: EmbeddingModel, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("enrollment"):
            captures.append(1)
        return observe(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(EmbeddingModel, "observe", counted)
        run(scenarios[0], tmp_path / "alone-0", calibration=calibration)
        alone = len(captures)
        run_alike(scenarios, [tmp_path / f"alike-{i}" for i in range(3)], calibration=calibration)
    # Each chunk's faces are captured once for the three runs (the batch search's
    # photos once per run: they are few).
    assert len(captures) - alone < 3 * alone
    for i, scenario in enumerate(scenarios):
        if i:
            run(scenario, tmp_path / f"alone-{i}", calibration=calibration)
        for name in (*COMPARED, "cameras.parquet", "galleries.parquet", "embedding_model.json"):
            mine = (tmp_path / f"alike-{i}" / name).read_bytes()
            assert mine == (tmp_path / f"alone-{i}" / name).read_bytes(), (i, name)
    # The settings did change decisions: the runs alike are not one run copied.
    decisions = [(tmp_path / f"alike-{i}" / "decisions.parquet").read_bytes() for i in range(3)]
    assert len(set(decisions)) == 3


def test_runs_that_differ_in_more_than_thresholds_are_not_alike(
    tiny_config: Path, tmp_path: Path
) -> None:
    scenarios = [load_config(tiny_config), load_config(tiny_config, ["seed=8"])]
    with pytest.raises(ValueError, match="thresholds only"):
        run_alike(scenarios, [tmp_path / "a", tmp_path / "b"])
