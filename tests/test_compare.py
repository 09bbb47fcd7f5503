"""`riskclass compare`: a run against the same run at a higher operating threshold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskclass import validate_config
from riskclass.commands import COMPARE_CSV, main, run

from .conftest import scaled_default

STREET = "street_watchlist"
METRICS = ("false_alerts_per_1000_per_day", "fpir", "fnir")


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("compare")
    data = scaled_default(4000, days=2)
    # Rates well above the operational regime: a city this small and short sees
    # enough false alerts at both thresholds for a change to be measurable.
    data["algorithm"]["error_rates"] = {
        "default": {"fmr": 2.0e-4, "fnmr": 0.01, "fta": 0.02},
        "ethnicity=minority": {"fmr": 2.0e-3, "fnmr": 0.016, "fta": 0.04},
    }
    run(validate_config(data), root / "at_0.60")
    data["deployments"][0]["threshold"] = 0.64
    run(validate_config(data), root / "at_0.64")
    out = root / "what_if"
    assert main(["compare", str(root / "at_0.60"), str(root / "at_0.64"), "--out", str(out)]) == 0
    return root / "at_0.60", root / "at_0.64", out


def test_compare_shows_each_groups_change_with_intervals(
    compared: tuple[Path, Path, Path],
) -> None:
    _, _, out = compared
    table = pd.read_csv(out / COMPARE_CSV)
    street = table[table["deployment"] == STREET]
    groups = street[["attribute", "value"]].drop_duplicates()
    assert {"all", "ethnicity", "residency", "sex", "age", "occupation"} == set(groups["attribute"])
    assert not groups["attribute"].str.contains("&").any()
    for metric in METRICS:
        for run_label in ("at_0.60", "at_0.64"):
            rows = street[(street["metric"] == metric) & (street["run"] == run_label)]
            assert len(rows) == len(groups), (metric, run_label)
            rated = rows[rows["rate"].notna()]
            assert (rated["ci_low"] <= rated["rate"]).all() and (
                rated["rate"] <= rated["ci_high"]
            ).all()
    later = street[street["run"] == "at_0.64"].set_index(["attribute", "value", "metric"])
    first = street[street["run"] == "at_0.60"].set_index(["attribute", "value", "metric"])
    np.testing.assert_allclose(
        later["change"].dropna(),
        (later["rate"] / first["rate"]).loc[later["change"].dropna().index],
    )
    # The same persons and sightings at a stricter threshold: never more false alerts,
    # never fewer misses, group by group.
    for metric, direction in (("false_alerts_per_1000_per_day", -1), ("fpir", -1), ("fnir", 1)):
        a = first.xs(metric, level="metric")["rate"]
        b = later.xs(metric, level="metric")["rate"]
        assert (np.sign(b - a).dropna() * direction >= 0).all(), metric
    decisions = pd.read_parquet(compared[0] / "decisions.parquet")
    false_alerts = (decisions["deployment"] == STREET) & (decisions["outcome"] == "false_alert")
    counted = first.loc[("all", "all", "false_alerts_per_1000_per_day"), "count"]
    assert counted == pytest.approx(false_alerts.sum()), "count is false alerts, not per 1,000"
    everyone = later.loc[("all", "all", "false_alerts_per_1000_per_day")]
    assert everyone["change_high"] < 1 and everyone["significant"]
    assert everyone["change_low"] <= everyone["change"] <= everyone["change_high"]


def test_compare_names_what_differs_and_writes_a_page(compared: tuple[Path, Path, Path]) -> None:
    _, _, out = compared
    differences = pd.read_csv(out / "config_differences.csv")
    assert differences["key"].tolist() == [f"deployments.{STREET}.threshold"]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f"deployments.{STREET}.threshold" in html and "false alerts per 1,000" in html
    assert '<td class="label">not set</td>' in html, "the first run leaves it unset"
    assert "missed match rate (FNIR)" in html and "false alert rate (FPIR)" in html


def test_other_deployments_do_not_change(compared: tuple[Path, Path, Path]) -> None:
    _, _, out = compared
    table = pd.read_csv(out / COMPARE_CSV)
    gates = table[(table["deployment"] == "rental_gates") & (table["run"] == "at_0.64")]
    finite = gates[gates["change"].notna()]
    assert len(finite) and np.allclose(finite["change"], 1.0)
    assert not finite["significant"].any()


def test_setting_the_calibration_threshold_says_how_to_set_the_operating_one(
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(write_config(small_default))
    assert main(["validate", config, "--set", "algorithm.threshold=0.64"]) == 0
    assert "--set deployments.NAME.threshold=" in capsys.readouterr().err
    assert main(["validate", config, "--set", f"deployments.{STREET}.threshold=0.64"]) == 0
    assert "calibration reference" not in capsys.readouterr().err
