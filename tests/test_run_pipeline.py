"""`riskclass run`: decisions, per-group rates, mechanisms of disparity, interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskclass import validate_config
from riskclass.commands import EXIT_USAGE, main, run

from .conftest import REPO, load_yaml, run_once, scaled_default

FAST_ALGORITHM = {
    "threshold": 0.6,
    "error_rates": {
        "default": {"fmr": 2e-4, "fnmr": 0.02, "fta": 0.03},
        "residency=migrant": {"fmr": 2e-3, "fnmr": 0.03, "fta": 0.06},
    },
}


GATE_IMPOSTOR_SHARE = 0.05
REVIEWER = {"confirms_target": 0.7, "confirms_other": 0.1}
INVESTIGATION = {
    "name": "trajectories",
    "kind": "investigation",
    "gallery": "police_watchlist",
    "camera_kinds": ["street"],
    "investigation": {"targets": 100, "candidates": 40, "reviewer": REVIEWER},
}


def _scenario(**changes: Any) -> dict[str, Any]:
    data = scaled_default(20_000, days=3)
    data["algorithm"] = FAST_ALGORITHM
    data["galleries"][0]["size"] = 1000
    data["deployments"][2]["impostor_share"] = GATE_IMPOSTOR_SHARE
    data["deployments"].append(INVESTIGATION)
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split(".")
        for part in path:
            node = node[part]
        node[last] = value
    return data


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_once(tmp_path_factory, "run", validate_config(_scenario()))


def test_run_writes_every_output(small_run: Path) -> None:
    expected = {
        "manifest.json",
        "persons.parquet",
        "cameras.parquet",
        "events.parquet",
        "calibration.csv",
        "embedding_model.json",
        "galleries.parquet",
        "decisions.parquet",
        "person_outcomes.parquet",
        "per_group.csv",
    }
    assert expected <= {p.name for p in small_run.iterdir()}
    decisions = pd.read_parquet(small_run / "decisions.parquet")
    assert list(decisions.columns) == [
        "event_id",
        "person_id",
        "deployment",
        "detected",
        "mated",
        "candidate_id",
        "score",
        "alert",
        "outcome",
        "consequence",
    ]


def test_outcomes_agree_with_ground_truth(small_run: Path) -> None:
    decisions = pd.read_parquet(small_run / "decisions.parquet")
    galleries = pd.read_parquet(small_run / "galleries.parquet")
    watch = decisions[decisions["deployment"] == "street_watchlist"]
    listed = set(galleries.loc[galleries["gallery"] == "police_watchlist", "person_id"])
    detected = watch[watch["detected"]]
    assert (detected["mated"] == detected["person_id"].isin(listed)).all()
    alerts = detected[detected["alert"]]
    assert (alerts["score"] >= 0.6).all() and (
        detected.loc[~detected["alert"], "score"] < 0.6
    ).all()
    true = alerts["candidate_id"] == alerts["person_id"]
    assert (alerts.loc[true, "outcome"] == "true_alert").all()
    assert (alerts.loc[~true, "outcome"] == "false_alert").all()
    assert (watch.loc[~watch["detected"], "outcome"] == "not_detected").all()
    assert watch.loc[~watch["detected"], "candidate_id"].isna().all()
    assert detected["candidate_id"].isin(listed).all(), (
        "the rank-1 candidate is kept below threshold"
    )
    assert (alerts["consequence"] == "police_stop").all()
    assert watch.loc[watch["outcome"] == "no_alert", "consequence"].isna().all()


def _recompute(
    decisions: pd.DataFrame,
    persons: pd.DataFrame,
    outcomes: pd.DataFrame,
    attribute: str,
    days: int,
) -> pd.DataFrame:
    """Per-group rates from the Parquet files alone, with plain pandas."""
    frame = decisions.merge(persons[["person_id", attribute]], on="person_id")
    reach = outcomes[outcomes["searchable"]].merge(persons[["person_id", attribute]])
    rows = []
    for (deployment, value), group in frame.groupby(["deployment", attribute], observed=True):
        searched = group[group["detected"]]
        mated, nonmated = searched[searched["mated"]], searched[~searched["mated"]]
        true_mated = mated["alert"] & (mated["candidate_id"] == mated["person_id"])
        residents = int((persons[attribute] == value).sum())
        reached = int(((reach["deployment"] == deployment) & (reach[attribute] == value)).sum())
        rows.append(
            {
                "deployment": deployment,
                "attribute": attribute,
                "value": value,
                "persons": residents,
                "searchable": reached,
                "events": len(group),
                "detected": len(searched),
                "mated_searches": len(mated),
                "nonmated_searches": len(nonmated),
                "alerts": int(group["alert"].sum()),
                "false_alerts": int(group["outcome"].isin(["false_alert", "false_accept"]).sum()),
                "fpir": nonmated["alert"].mean() if len(nonmated) else np.nan,
                "fnir": 1 - true_mated.mean() if len(mated) else np.nan,
                "false_alerts_per_1000_per_day": (
                    1000
                    * group["outcome"].isin(["false_alert", "false_accept"]).sum()
                    / reached
                    / days
                ),
            }
        )
    return pd.DataFrame(rows)


def test_per_group_csv_recomputes_exactly_from_parquet(small_run: Path) -> None:
    decisions = pd.read_parquet(small_run / "decisions.parquet")
    assert {"rental_gates", "trajectories"} <= set(decisions["deployment"])
    persons = pd.read_parquet(small_run / "persons.parquet")
    per_group = pd.read_csv(small_run / "per_group.csv")
    outcomes = pd.read_parquet(small_run / "person_outcomes.parquet")
    for attribute in ("ethnicity", "residency", "age"):
        mine = _recompute(decisions, persons, outcomes, attribute, days=3)
        theirs = per_group[per_group["attribute"] == attribute].merge(
            mine, on=["deployment", "attribute", "value"], suffixes=("", "_recomputed")
        )
        assert len(theirs) == len(mine) > 0
        counted = ("persons", "searchable", "events", "detected")
        searches = ("mated_searches", "nonmated_searches")
        for column in (*counted, *searches, "alerts", "false_alerts"):
            assert (theirs[column] == theirs[f"{column}_recomputed"]).all(), column
        for column in ("fpir", "fnir", "false_alerts_per_1000_per_day"):
            np.testing.assert_allclose(theirs[column], theirs[f"{column}_recomputed"], rtol=1e-12)


def _within(hits: int, n: int, p: float, z: float = 4.5) -> bool:
    """``hits`` of ``n`` trials is within ``z`` binomial standard errors of rate ``p``."""
    return abs(hits - n * p) <= z * np.sqrt(n * p * (1 - p))


def test_gate_impostors_claim_a_same_group_identity(small_run: Path) -> None:
    decisions = pd.read_parquet(small_run / "decisions.parquet")
    gates = decisions[(decisions["deployment"] == "rental_gates") & decisions["detected"]]
    impostors = gates[~gates["mated"]]
    assert _within(len(impostors), len(gates), GATE_IMPOSTOR_SHARE)
    assert (impostors["candidate_id"] != impostors["person_id"]).all()
    assert (
        gates.loc[gates["mated"], "candidate_id"] == gates.loc[gates["mated"], "person_id"]
    ).all()
    assert (
        impostors["outcome"] == impostors["alert"].map({True: "false_accept", False: "true_reject"})
    ).all()
    persons = pd.read_parquet(small_run / "persons.parquet").set_index("person_id")
    group = persons["residency"]  # the only attribute with its own error rates here
    claimed = group.loc[impostors["candidate_id"].astype(int)].to_numpy()
    assert (claimed == group.loc[impostors["person_id"]].to_numpy()).all()


def test_investigation_ranks_candidates_and_the_reviewer_errs(small_run: Path) -> None:
    decisions = pd.read_parquet(small_run / "decisions.parquet")
    found = decisions[decisions["deployment"] == "trajectories"]
    settings = INVESTIGATION["investigation"]
    per_target = found.groupby("candidate_id").size()
    assert len(per_target) == settings["targets"]
    assert (per_target == settings["candidates"]).all()
    galleries = pd.read_parquet(small_run / "galleries.parquet")
    assert per_target.index.isin(galleries["person_id"]).all()
    for _, rows in found.groupby("candidate_id"):
        assert (np.diff(rows["score"].to_numpy()) <= 0).all(), "best candidate first"
    assert (found["mated"] == (found["person_id"] == found["candidate_id"])).all()
    targets, others = found[found["mated"]], found[~found["mated"]]
    assert len(targets) >= 200 and len(others) >= 1000
    assert _within(int(targets["alert"].sum()), len(targets), REVIEWER["confirms_target"])
    assert _within(int(others["alert"].sum()), len(others), REVIEWER["confirms_other"])
    assert set(others.loc[others["alert"], "consequence"]) == {"wrongly_placed"}


def _disparity(per_group: pd.DataFrame) -> float:
    """Police stops (alerts, true or false) per resident, migrants over locals, on the street."""
    rows = per_group[
        (per_group["deployment"] == "street_watchlist") & (per_group["attribute"] == "residency")
    ]
    rate = rows.set_index("value")["alerts"] / rows.set_index("value")["persons"]
    return float(rate["migrant"] / rate["local"])


def test_each_mechanism_carries_part_of_the_disparity(tmp_path: Path) -> None:
    """Switching off any one mechanism lowers the migrant/local ratio of stops.

    In this scenario migrants have 10x the FMR, live where cameras are densest,
    and are over-represented on the watchlist.
    """
    ratios = {}
    for switch in ("none", "equal_error_rates", "equal_camera_density", "proportional_watchlists"):
        data = _scenario()
        if switch != "none":
            data["mechanisms"] = {switch: True}
        summary = run(validate_config(data), tmp_path / switch)
        assert summary.per_group is not None
        ratios[switch] = _disparity(summary.per_group)
    assert ratios["none"] > 2.0, ratios
    for switch in ("equal_error_rates", "equal_camera_density", "proportional_watchlists"):
        # Each false-alert count here is in the hundreds or more: a 15% drop is
        # several standard errors of the ratio.
        assert ratios[switch] < 0.85 * ratios["none"], (switch, ratios)


def test_rerun_after_sigkill_matches_an_uninterrupted_run(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    config = write_config(_scenario())
    out = tmp_path / "run"
    command = [sys.executable, "-m", "riskclass.commands", "run", str(config), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(tmp_path.glob(".run.partial-*/events.parquet")):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists(), "a killed run must not leave an output directory in place"
    assert main(["run", str(config), "--out", str(out)]) == 0
    assert not list(tmp_path.glob(".run.partial-*")), "the rerun cleans up the killed run's staging"
    reference = tmp_path / "reference"
    assert main(["run", str(config), "--out", str(reference)]) == 0
    files = ("events.parquet", "decisions.parquet", "hits.parquet", "per_group.csv")
    for name in (*files, "calibration.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


@pytest.mark.parametrize(
    "name",
    [
        "migrant_rental_gates",
        "transit_blacklist",
        "concentrated_cameras",
        "npl_2023",
        "trajectory_search",
    ],
)
def test_shipped_scenarios_run(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / name
    shrink = ["--set", "population.size=4000", "--set", "days=2"]
    for gallery in load_yaml(f"{name}.yaml").get("galleries", []):
        shrink += ["--set", f"galleries.{gallery['name']}.size=400"]
    assert main(["run", f"configs/{name}.yaml", "--out", str(out), *shrink]) == 0
    per_group = pd.read_csv(out / "per_group.csv")
    assert (per_group["events"] > 0).any()
    assert "events/s end to end" in capsys.readouterr().out


def test_a_run_without_deployments_says_what_to_use_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = REPO / "configs" / "video_lighting.yaml"
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == EXIT_USAGE
    message = capsys.readouterr().err
    assert "deployments" in message and "riskclass video render" in message
    assert not (tmp_path / "out").exists()
