"""Risk-class dynamics (issue 17): feedback amplifies a disparity in wrongful listing,
the static baseline does not, and every record, listing and benefit can be recomputed
from the run's Parquet files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from riskclass import (
    GALLERIES,
    LISTINGS,
    PERIOD_OUTCOMES,
    PERSONS,
    STANDING,
    ConfigError,
    validate_config,
)
from riskclass.commands import main, run_dynamics

from .conftest import CONFIGS

# A small city of two groups with equal error rates. Group a (a fifth) lives where
# cameras are 12 times as dense; same-group impostors match ten times as often as
# cross-group ones (NIST FRVT Part 3). Rates sit far above the operational regime
# so that 15,000 persons over 8 weeks see enough false alerts: a few dozen wrongful
# listings in each group after the first week. Every alert makes a record; one
# record puts a person on the key-persons list for two weeks, a score below 600 on
# the travel ban for four.
CITY: dict[str, Any] = {
    "name": "feedback_city",
    "seed": 17,
    "days": 56,
    "population": {"size": 15000, "attributes": {"group": {"shares": {"a": 0.2, "b": 0.8}}}},
    "districts": [
        {
            "name": "dense",
            "population_share": 0.2,
            "resident_bias": {"group=b": 0.0},
            "cameras_per_1000": 10.0,
            "camera_mix": {"street": 0.7, "transit_checkpoint": 0.3},
        },
        {
            "name": "sparse",
            "population_share": 0.8,
            "resident_bias": {"group=a": 0.0},
            "cameras_per_1000": 0.8,
            "camera_mix": {"street": 0.7, "transit_checkpoint": 0.3},
        },
    ],
    "mobility": {
        "passes_per_camera_density": 0.15,
        "work_in_home_district": 1.0,
        "time_share": {"home": 0.7, "work": 0.3, "elsewhere": 0.0},
    },
    "algorithm": {
        "threshold": 0.6,
        "cross_group_factor": 0.1,
        "error_rates": {
            "default": {"fmr": 2.0e-5, "fnmr": 0.01, "fta": 0.02},
            "group=a": {"fmr": 2.0e-5, "fnmr": 0.01, "fta": 0.02},
        },
    },
    "galleries": [{"name": "key_persons", "share": 0.01}, {"name": "travel_ban", "share": 0.01}],
    "deployments": [
        {
            "name": "street",
            "kind": "watchlist_screening",
            "camera_kinds": ["street"],
            "gallery": "key_persons",
        },
        {
            "name": "station",
            "kind": "blacklist_checkpoint",
            "camera_kinds": ["transit_checkpoint"],
            "gallery": "travel_ban",
        },
    ],
    "dynamics": {
        "period_days": 7,
        "records": {
            "street": {"true_alert": 1.0, "false_alert": 1.0},
            "station": {"true_alert": 1.0, "false_alert": 1.0},
        },
        "score": {
            "start": 700,
            "creditworthy": 600,
            "gain_per_clean_period": 10,
            "loss_per_record": 50,
        },
        "listings": [
            {
                "gallery": "key_persons",
                "records_at_least": 1,
                "within_days": 7,
                "duration_days": 14,
            },
            {"gallery": "travel_ban", "score_below": 600, "duration_days": 28},
        ],
        "fast_lane": {"score_at_least": 740, "deployments": ["station"], "value_per_use": 2.0},
        "escape": {"share": {"group=b": 0.1}, "exposure_factor": 0.5, "value_per_period": 3.0},
    },
}


def _scenario(**mechanisms: bool) -> Any:
    return validate_config({**CITY, "mechanisms": mechanisms})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("dynamics")
    return {
        name: (base / name, run_dynamics(_scenario(feedback=feedback), base / name))
        for name, feedback in (("feedback", True), ("static", False))
    }


def test_feedback_amplifies_the_disparity_in_wrongful_listing_and_the_static_baseline_does_not(
    runs: dict[str, Any],
) -> None:
    rows = {}
    for name, (_, summary) in runs.items():
        table = summary.dynamics.amplification
        mine = (table["metric"] == "wrongly_listed") & (table["attribute"] == "group")
        rows[name] = table[mine & (table["value"] == "a")].iloc[0]
    feedback, static = rows["feedback"], rows["static"]
    # The same seed: the first period is the same city, before anything fed back.
    assert feedback["first"] == static["first"] > 0
    assert feedback["first_ratio"] == static["first_ratio"] > 1
    # The interval is a person-level bootstrap of both ratios together.
    assert feedback["ci_low"] > 1.0, feedback.to_dict()
    assert static["ci_low"] <= 1.0 <= static["ci_high"], static.to_dict()
    assert feedback["amplification"] > static["ci_high"]


def test_first_period_is_the_same_with_and_without_feedback(runs: dict[str, Any]) -> None:
    standing = {
        name: pd.read_parquet(directory / STANDING, filters=[("period", "==", 0)])
        for name, (directory, _) in runs.items()
    }
    pd.testing.assert_frame_equal(standing["feedback"], standing["static"])


def test_the_run_writes_its_tables_and_page(runs: dict[str, Any]) -> None:
    directory, summary = runs["feedback"]
    written = pd.read_csv(directory / "report" / "amplification.csv")
    pd.testing.assert_frame_equal(written, summary.dynamics.amplification, check_dtype=False)
    page = (directory / "report" / "index.html").read_text()
    assert "Amplification of the disparity in wrongful listing" in page
    assert page.count("data:image/png;base64,") == 2  # trajectories by group, Lorenz
    classes = pd.read_csv(directory / "report" / "risk_classes.csv")
    assert classes["persons"].sum() == CITY["population"]["size"]
    assert classes["mean_net"].is_monotonic_increasing


def _replay(directory: Path, settings: dict[str, Any], feedback: bool) -> None:
    """Recompute records, scores, listings, listed counts, damages and benefits from
    the run's Parquet files alone, and compare them with what it wrote."""
    standing = pd.read_parquet(directory / STANDING)
    listings = pd.read_parquet(directory / LISTINGS)
    outcomes = pd.read_parquet(directory / PERIOD_OUTCOMES)
    galleries = pd.read_parquet(directory / GALLERIES)
    persons = pd.read_parquet(directory / PERSONS)
    n = len(persons)
    periods = standing["period"].max() + 1
    days = settings["period_days"]
    score_rules = settings["score"]
    names = [g["name"] for g in CITY["galleries"]]
    initial = np.zeros((len(names), n), dtype=bool)
    for index, name in enumerate(names):
        initial[index, galleries.loc[galleries["gallery"] == name, "person_id"]] = True

    # Every record has an outcome that makes one: here each alert always does.
    assert (
        outcomes["records"]
        == outcomes[["rightful_alerts", "wrongful_alerts", "false_alerts"]].sum(axis=1)
    ).all()
    assert (outcomes["rightful_records"] == outcomes["rightful_alerts"]).all()
    # Damages: each wrongful alert costs 1 (report.costs unset).
    assert np.allclose(outcomes["damages"], outcomes["wrongful_alerts"] + outcomes["false_alerts"])

    per_period = outcomes.groupby(["period", "person_id"])[
        ["records", "rightful_records", "damages", "skipped"]
    ].sum()
    score = np.full(n, float(score_rules["start"]))
    window: list[np.ndarray] = []
    until = np.zeros((len(names), n), dtype=np.int64)
    wrongful = np.zeros((len(names), n), dtype=bool)
    ever_rightful = np.zeros(n, dtype=bool)
    fast_lane = settings["fast_lane"]
    escape = settings["escape"]
    expected_listings = []
    for period in range(periods):
        rows = standing[standing["period"] == period].set_index("person_id").sort_index()
        counts = per_period.xs(period, level="period").reindex(range(n), fill_value=0)
        records = counts["records"].to_numpy()
        rightful = counts["rightful_records"].to_numpy()
        assert (rows["records"].to_numpy() == records).all()
        assert (rows["wrongful_records"].to_numpy() == records - rightful).all()
        assert np.allclose(rows["damages"], counts["damages"])
        # Fast lanes follow the score at the start of the period (the start score
        # without feedback); benefits are skipped screenings and escape routes.
        start_score = score if feedback else np.full(n, float(score_rules["start"]))
        assert (rows["fast_lane"].to_numpy() == (start_score >= fast_lane["score_at_least"])).all()
        assert (counts["skipped"].to_numpy()[~rows["fast_lane"].to_numpy()] == 0).all()
        benefits = (
            fast_lane["value_per_use"] * counts["skipped"].to_numpy()
            + escape["value_per_period"] * rows["escaped"].to_numpy()
        )
        assert np.allclose(rows["benefits"], benefits)

        score = np.clip(
            score
            - score_rules["loss_per_record"] * records
            + score_rules["gain_per_clean_period"] * (records == 0),
            350.0,
            950.0,
        )
        assert np.allclose(rows["score"], score)
        window.append(records)
        ever_rightful |= rightful > 0
        next_day = (period + 1) * days
        for index, rule in enumerate(settings["listings"]):
            g = names.index(rule["gallery"])
            if "score_below" in rule:
                fires = score < rule["score_below"]
            else:
                span = math.ceil(rule["within_days"] / days)
                fires = np.sum(window[-span:], axis=0) >= rule["records_at_least"]
            new = np.flatnonzero(fires & ~initial[g] & (until[g] <= next_day))
            until[g, new] = next_day + rule["duration_days"]
            wrongful[g, new] = ~ever_rightful[new]
            expected_listings += [
                (p, rule["gallery"], index, period, next_day, next_day + rule["duration_days"], w)
                for p, w in zip(new, ~ever_rightful[new], strict=True)
            ]
        active = until > next_day
        assert (rows["listed"].to_numpy() == (initial | active).sum(axis=0)).all()
        assert (
            rows["wrongly_listed"].to_numpy() == (active & ~initial & wrongful).sum(axis=0)
        ).all()

    written = listings[
        ["person_id", "gallery", "rule", "period", "start_day", "end_day", "wrongful"]
    ].astype({"gallery": str})
    recomputed = pd.DataFrame(expected_listings, columns=written.columns)
    key = ["period", "rule", "person_id"]
    pd.testing.assert_frame_equal(
        written.sort_values(key, ignore_index=True),
        recomputed.sort_values(key, ignore_index=True),
        check_dtype=False,
    )
    assert len(written) > 0

    # Listing changes what later searches find: with feedback an alert on a person
    # is rightful or wrongful exactly as their listing on the searched gallery is,
    # and persons on it never alert falsely; without, only the drawn galleries count.
    nobody = np.zeros(n, dtype=bool)
    for period in range(1, periods):
        day = period * days
        rows = outcomes[outcomes["period"] == period]
        for deployment, g in (("street", 0), ("station", 1)):
            mine = rows[rows["deployment"] == deployment]
            person = mine["person_id"].to_numpy()
            covered = _covered(listings, names[g], day, n) if feedback else nobody
            wrongly = _covered(listings, names[g], day, n, wrongful=True) if feedback else nobody
            on = (initial[g] | covered)[person]
            wrong = (wrongly & ~initial[g])[person]
            assert (mine["false_alerts"].to_numpy()[on] == 0).all()
            assert (mine[["rightful_alerts", "wrongful_alerts"]].to_numpy()[~on] == 0).all()
            assert (mine["wrongful_alerts"].to_numpy()[~wrong] == 0).all()
            assert (mine["rightful_alerts"].to_numpy()[wrong] == 0).all()
    assert (outcomes["wrongful_alerts"].sum() > 0) == feedback


def _covered(
    listings: pd.DataFrame, gallery: str, day: int, n: int, *, wrongful: bool = False
) -> np.ndarray:
    """Who a listing on ``gallery`` (a wrongful one, if ``wrongful``) covers on ``day``."""
    rows = listings[
        (listings["gallery"] == gallery)
        & (listings["start_day"] <= day)
        & (listings["end_day"] > day)
        & (listings["wrongful"] | (not wrongful))
    ]
    covered = np.zeros(n, dtype=bool)
    covered[rows["person_id"]] = True
    return covered


@pytest.mark.parametrize("name", ["feedback", "static"])
def test_records_listings_and_benefits_recompute_from_the_parquet_files(
    runs: dict[str, Any], name: str
) -> None:
    directory, _ = runs[name]
    _replay(directory, CITY["dynamics"], feedback=name == "feedback")


def test_bad_dynamics_config_names_each_field() -> None:
    bad = {
        **CITY,
        "days": 50,
        "dynamics": {
            **CITY["dynamics"],
            "records": {"stret": {"false_alert": 0.5}, "street": {"false_reject": 1.0}},
            "listings": [{"gallery": "nowhere", "score_below": 600, "duration_days": 10}],
            # 1.5 sightings a day in the dense district, 150 under this scrutiny.
            "scrutiny": {"score_below": 600, "exposure_factor": 100},
        },
    }
    with pytest.raises(ConfigError) as caught:
        validate_config(bad, source="city.yaml")
    fields = [field for field, _ in caught.value.problems]
    assert fields == [
        "dynamics.period_days",
        "dynamics.records.stret",
        "dynamics.records.street.false_reject",
        "dynamics.listings.0.gallery",
        "dynamics.scrutiny.exposure_factor",
    ], caught.value.problems
    assert "whole number of periods" in caught.value.problems[0][1]


def test_the_command_prints_amplification_and_risk_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "city.yaml"
    small = {**CITY, "days": 14, "population": {**CITY["population"], "size": 3000}}
    config.write_text(yaml.safe_dump(small, sort_keys=False))
    assert main(["dynamics", str(config), "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "3,000 persons over 2 periods (with feedback)" in printed
    assert "wrongly listed" in printed and "group=a" in printed and "risk classes" in printed
    assert (tmp_path / "run" / "report" / "index.html").is_file()
    # Same config and seed, same bytes.
    assert main(["dynamics", str(config), "--out", str(tmp_path / "again")]) == 0
    for name in (
        STANDING,
        LISTINGS,
        PERIOD_OUTCOMES,
        "report/trajectories.csv",
        "report/risk_classes.csv",
        "report/index.html",
    ):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert main(["dynamics", str(CONFIGS / "default.yaml"), "--out", str(tmp_path / "x")]) == 2
    assert "needs a 'dynamics' section" in capsys.readouterr().err
