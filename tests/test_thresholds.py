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
from riskclass.pipeline import expected_fpir
from riskclass.synthetic import calibrate

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


# NPL's Black tail: at 0.56 a probe of the look-alike family (about 1% of the group)
# alerts against 3,000 members almost surely, any other rarely; averaging FMR over
# the two before applying the gallery's size would give 0.050 instead of 0.011.
TAIL_THRESHOLD = 0.56
TAIL_MEMBERS = 3_000
# Independent galleries, each searched by its own probes: the spread of their FPIRs
# carries the gallery draw (how many family members it holds) as well as sampling.
TAIL_GALLERIES, TAIL_PROBES = 20, 1_000


def test_expected_fpir_matches_searches_of_a_group_with_a_configured_tail() -> None:
    scenario = load_config(Path(__file__).parent.parent / "configs" / "npl_2023.yaml")
    model = calibrate(scenario.algorithm, seed=scenario.seed)
    black = model.groups.index("ethnicity=black")
    rng = np.random.default_rng(56)
    fpir = []
    for _ in range(TAIL_GALLERIES):
        enrolled = np.full(TAIL_MEMBERS, black)
        gallery = model.observe(
            model.identities(enrolled, rng), enrolled, 1.0, rng, enrollment=True
        )
        searching = np.full(TAIL_PROBES, black)
        probes = model.observe(model.identities(searching, rng), searching, 1.0, rng)
        best = (probes @ gallery.T).max(axis=1)
        fpir.append(np.mean(best >= np.float32(TAIL_THRESHOLD)))
    members = np.bincount(np.full(TAIL_MEMBERS, black), minlength=len(model.groups))
    searches = np.bincount([black], minlength=len(model.groups)).astype(np.float64)
    expected = expected_fpir(model, members, searches, TAIL_THRESHOLD)
    # The galleries' FPIRs are independent: their mean is off the expectation by a t
    # with 19 degrees of freedom, beyond 4.5 standard errors once in 4,000 runs.
    error = np.std(fpir, ddof=1) / np.sqrt(TAIL_GALLERIES)
    assert abs(np.mean(fpir) - expected) < 4.5 * error, (np.mean(fpir), expected, error)
    # Mixing the kinds' FMR before applying the gallery's size would be far off.
    one_kind = (
        1.0 - (1.0 - model.impostor_fmr(black, black, threshold=TAIL_THRESHOLD)) ** TAIL_MEMBERS
    )
    assert abs(np.mean(fpir) - one_kind) > 20 * error
