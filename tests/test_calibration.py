"""Embedding calibration: configured error rates are what comparing vectors realizes."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from riskclass import Algorithm, ConfigError
from riskclass.analysis import CALIBRATION_COLUMNS, calibration_holds, calibration_table
from riskclass.commands import main
from riskclass.synthetic import EmbeddingModel, calibrate, condition_deficits, measure_rates

FOUR_GROUPS = {
    "threshold": 0.6,
    "cross_group_factor": 0.1,
    "error_rates": {
        "default": {"fmr": 1e-5, "fnmr": 0.005, "fta": 0.01},
        "sex=female": {"fmr": 1e-4, "fnmr": 0.01, "fta": 0.02},
        "age=elderly": {"fmr": 3e-4, "fnmr": 0.02, "fta": 0.03},
        "age=child": {"fmr": 1e-3, "fnmr": 0.05, "fta": 0.05},
    },
}


@pytest.fixture(scope="module")
def four_groups() -> tuple[EmbeddingModel, pd.DataFrame]:
    model = calibrate(Algorithm.model_validate(FOUR_GROUPS), seed=101)
    # Out of sample: a seed other than calibration's.
    table = calibration_table(measure_rates(model, seed=202), rng=np.random.default_rng(202))
    return model, table


def test_every_realized_rate_holds_out_of_sample(
    four_groups: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    _, table = four_groups
    assert list(table.columns) == list(CALIBRATION_COLUMNS)
    assert set(table["metric"]) == {"fmr", "fnmr", "fta"}
    # FNMR, FMR, FTA and FMR at a worse condition per group, one FMR per pair of groups.
    assert len(table) == 4 * 4 + 6
    assert set(table["method"]) == {"counted"}
    off = table[~calibration_holds(table)]
    assert off.empty, off.to_string()


def test_same_group_impostors_match_more_often_by_the_configured_factor(
    four_groups: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    _, table = four_groups
    reference = table[(table["metric"] == "fmr") & (table["condition"] == "reference")]
    same = reference[~reference["group"].str.contains(" vs ")].set_index("group")
    cross = table[table["group"].str.contains(" vs ")]
    for row in cross.itertuples():
        first, second = row.group.split(" vs ")
        lower = same.loc[[first, second], "realized"].idxmin()
        ratio = row.realized / same.loc[lower, "realized"]
        # Standard error of the log ratio, from the width of each rate's 95% interval.
        log_se = math.hypot(
            math.log(row.ci_high / row.ci_low) / 3.92,
            math.log(same.loc[lower, "ci_high"] / same.loc[lower, "ci_low"]) / 3.92,
        )
        factor = FOUR_GROUPS["cross_group_factor"]
        assert abs(math.log(ratio / factor)) < 3 * log_se, (row.group, ratio)


def test_calibration_is_reproducible() -> None:
    algorithm = Algorithm.model_validate({"error_rates": {"default": {"fmr": 1e-3, "fnmr": 0.02}}})
    first, second = calibrate(algorithm, seed=5), calibrate(algorithm, seed=5)
    assert first.to_json() == second.to_json()
    np.testing.assert_array_equal(
        first.person_identities(np.zeros(10, dtype=np.intp)),
        second.person_identities(np.zeros(10, dtype=np.intp)),
    )


def test_fpir_emerges_from_search_against_growing_galleries() -> None:
    """Non-mated FPIR against N enrolled identities follows 1 - (1 - FMR)^N."""
    model = calibrate(
        Algorithm.model_validate({"error_rates": {"default": {"fmr": 1e-5, "fnmr": 0.01}}}), seed=3
    )
    table = calibration_table(measure_rates(model, seed=4), rng=np.random.default_rng(4))
    table = table[table["condition"] == "reference"].set_index("metric")
    fmr = table.loc["fmr", "realized"]
    fmr_se = (table.loc["fmr", "ci_high"] - table.loc["fmr", "ci_low"]) / 3.92
    rng = np.random.default_rng(99)
    for size in (100, 1_000, 10_000, 100_000):
        gallery_groups = np.zeros(size, dtype=np.intp)
        gallery = model.observe(model.identities(gallery_groups, rng), gallery_groups, 1.0, rng)
        n_probes = min(200_000, 200_000_000 // size)
        alerts = 0
        for start in range(0, n_probes, 20_000):
            groups = np.zeros(min(20_000, n_probes - start), dtype=np.intp)
            probes = model.observe(model.identities(groups, rng), groups, 1.0, rng)
            alerts += int(np.count_nonzero((probes @ gallery.T).max(axis=1) >= model.threshold))
        fpir = alerts / n_probes
        expected = 1 - (1 - fmr) ** size
        slope = size * (1 - fmr) ** (size - 1)
        tolerance = 4.5 * math.sqrt(expected * (1 - expected) / n_probes + (slope * fmr_se) ** 2)
        assert abs(fpir - expected) <= tolerance, (size, fpir, expected, tolerance)


@pytest.fixture(scope="module")
def one_group() -> EmbeddingModel:
    return calibrate(
        Algorithm.model_validate({"error_rates": {"default": {"fmr": 1e-3, "fnmr": 0.01}}}), seed=8
    )


def test_embeddings_do_not_depend_on_the_number_of_cpus(
    one_group: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Enough faces for several blocks, which are encoded in parallel threads.
    groups = np.zeros(40_000, dtype=np.intp)
    identity = one_group.identities(groups, np.random.default_rng(3))
    drift = np.linspace(0.0, 0.1, len(groups))

    def encoded(cpus: int) -> npt.NDArray[np.float32]:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
        return one_group.observe(identity, groups, 1.5, np.random.default_rng(4), drift)

    serial = encoded(1)
    assert serial.tobytes() == encoded(4).tobytes()
    # Normalised by the norm the construction implies, not by a measured one.
    np.testing.assert_allclose(np.linalg.norm(serial, axis=1), 1.0, atol=1e-6)


def test_encoding_rows_of_identities_is_encoding_those_identities(
    one_group: EmbeddingModel,
) -> None:
    # Several blocks, each gathering its own rows; repeated rows, as a person seen twice.
    identity = one_group.identities(np.zeros(5_000, dtype=np.intp), np.random.default_rng(3))
    kept = identity.copy()
    rows = np.random.default_rng(5).integers(0, len(identity), 40_000)
    groups = np.zeros(len(rows), dtype=np.intp)
    drift = np.linspace(0.0, 0.1, len(rows))
    taken = one_group.observe(identity, groups, 1.5, np.random.default_rng(4), drift, rows=rows)
    given = one_group.observe(identity[rows], groups, 1.5, np.random.default_rng(4), drift)
    assert taken.tobytes() == given.tobytes()
    assert identity.tobytes() == kept.tobytes()


def _fnmr_at(
    model: EmbeddingModel, rng: np.random.Generator, **conditions: float
) -> tuple[float, float]:
    reference = model.algorithm.reference_conditions
    values = {
        "face_px": reference.face_px,
        "illumination": reference.illumination,
        "pose_deg": reference.pose_deg,
        "blur_px": reference.blur_px,
        "years": 0.0,
    } | conditions
    deficits = condition_deficits(reference, **values)
    n = 100_000
    groups = np.zeros(n, dtype=np.intp)
    identity = model.identities(groups, rng)
    enrolled = model.observe(identity, groups, 1.0, rng)
    scale, drift = model.capture_conditions(groups, deficits)
    captured = model.observe(identity, groups, scale, rng, drift)
    fnmr = float(np.mean(np.einsum("ij,ij->i", enrolled, captured) < model.threshold))
    fta = float(model.fta_probability(groups[:1], deficits)[0])
    return fnmr, fta


@pytest.mark.parametrize(
    ("condition", "levels"),
    [
        ("face_px", [64, 40, 28, 20, 14]),
        ("illumination", [0.8, 0.6, 0.4, 0.25, 0.1]),
        ("pose_deg", [15, 25, 35, 45]),
        ("years", [0, 5, 10, 20]),
    ],
)
def test_worse_conditions_raise_fnmr_and_fta_monotonically(
    condition: str, levels: list[float], one_group: EmbeddingModel
) -> None:
    model = one_group
    rng = np.random.default_rng(1)
    results = [_fnmr_at(model, rng, **{condition: level}) for level in levels]
    fnmr = [r[0] for r in results]
    fta = [r[1] for r in results]
    for better, worse in itertools.pairwise(fnmr):
        # Each step must rise by more than the sampling error of the difference.
        assert worse - better > 3 * math.sqrt((better + worse) / 100_000), fnmr
    if condition != "years":  # ageing of the ID photo does not hinder detection
        assert all(b < w for b, w in itertools.pairwise(fta)), fta
    assert fnmr[0] == pytest.approx(0.01, abs=4.5 * math.sqrt(0.01 / 100_000) + 0.001)


def test_unreachable_targets_are_reported_against_the_group() -> None:
    algorithm = Algorithm.model_validate(
        {"threshold": 0.1, "error_rates": {"default": {"fmr": 1e-3, "fnmr": 0.01}}}
    )
    message = r"error_rates\.default\.fmr: FMR 0.001 is unreachable .* already match at FMR 0\.1"
    with pytest.raises(ConfigError, match=message):
        calibrate(algorithm, seed=1)


def test_calibrate_command_writes_the_table(
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    small_default["algorithm"] = {
        "error_rates": {
            "default": {"fmr": 1e-3, "fnmr": 0.02},
            "sex=female": {"fmr": 2e-3, "fnmr": 0.03},
        }
    }
    out = tmp_path / "calibration.csv"
    assert main(["calibrate", str(write_config(small_default)), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == list(CALIBRATION_COLUMNS)
    assert len(table) == 2 * 4 + 1
    assert f"{int(calibration_holds(table).sum())} of 9 counted rates" in capsys.readouterr().out
