"""Thresholds by target FPIR (NIST threshold mode): solved from the model, realized by the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskclass import ConfigError, load_config
from riskclass.analysis import wilson_interval
from riskclass.commands import run

from .conftest import scaled_default

TARGET = 0.02


def test_a_run_realizes_the_fpir_its_threshold_was_solved_for(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    data = scaled_default(6000, days=2)
    # One error-rate group, so the probe mix cannot matter; no FTA, so every
    # sighting is a search.
    data["algorithm"] = {"error_rates": {"default": {"fmr": 1e-5, "fnmr": 0.02, "fta": 0.0}}}
    data["deployments"] = [{**data["deployments"][0], "fpir": TARGET}]
    out = tmp_path / "run"
    summary = run(load_config(write_config(data)), out)
    threshold = summary.thresholds["street_watchlist"]
    assert 0.0 < threshold < 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resolved_thresholds"] == {"street_watchlist": threshold}
    per_group = pd.read_csv(out / "per_group.csv")
    everyone = per_group[per_group["attribute"] == "all"].iloc[0]
    alerts, searches = int(everyone["nonmated_alerts"]), int(everyone["nonmated_searches"])
    low, high = wilson_interval(alerts, searches)
    assert searches > 3000
    assert low <= TARGET <= high, (everyone["fpir"], low, high)
    decisions = pd.read_parquet(out / "decisions.parquet")
    searched = decisions[decisions["detected"]]
    np.testing.assert_array_equal(searched["alert"], searched["score"] >= np.float32(threshold))


def test_fpir_and_threshold_together_are_refused(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["deployments"][0].update(fpir=0.003, threshold=0.6)
    small_default["deployments"][2]["fpir"] = 0.003
    with pytest.raises(ConfigError) as error:
        load_config(write_config(small_default))
    fields = [field for field, _ in error.value.problems]
    assert fields == ["deployments.0", "deployments.2"]
