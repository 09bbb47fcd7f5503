"""Impostor rates in the report count every comparison above the floor, however many."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from riskclass import load_config
from riskclass.commands import build_report, run

from .conftest import scaled_default

FMR = 4e-3


def test_a_high_fmr_against_many_members_is_counted_in_full(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    data = scaled_default(6000, days=1)
    # One error-rate group at reference conditions: every street capture compares
    # with 4,000 members of its own group at FMR 4e-3, 16 matches a search on
    # average, so a per-search limit of 16 cuts about half of the searches.
    data["algorithm"] = {
        "threshold": 0.6,
        "error_rates": {"default": {"fmr": FMR, "fnmr": 0.02, "fta": 0.0}},
        "noise_effects": {},
        "fta_effects": {},
    }
    data["galleries"] = [{"name": "police_watchlist", "size": 4000}]
    data["deployments"] = [data["deployments"][0]]
    data["report"] = {"thresholds": [0.6], "hits_per_search": 16}
    config = write_config(data)
    out = tmp_path / "run"
    summary = run(load_config(config), out)
    assert summary.rows["searches_cut"] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["searches_cut"] == 0
    hits = pd.read_parquet(out / "hits.parquet")
    per_search = hits.groupby("event_id").size()
    assert (per_search > 16).mean() > 0.3, "the first limit was reached often"
    metrics = pd.read_csv(build_report(out).out / "metrics.csv")
    row = metrics[(metrics["attribute"] == "all") & (metrics["metric"] == "fmr")].iloc[0]
    # The interval reweighs probe persons and gallery members (two-way bootstrap).
    assert row["ci_low"] <= FMR <= row["ci_high"], row.to_dict()
    assert abs(row["rate"] / FMR - 1) < 0.05
