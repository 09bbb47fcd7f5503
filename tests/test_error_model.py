"""The operational-regime error model: closed forms checked by counting, tails, pairs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskclass import Algorithm, ConfigError, load_config
from riskclass.analysis import calibration_holds, calibration_table
from riskclass.synthetic import (
    WORSE_CONDITIONS,
    EmbeddingModel,
    calibrate,
    condition_deficits,
    measure_rates,
)

# Rates from 1e-2 down to 1e-10: the first three groups are counted at least at one
# point, the tail's lower points and the smallest pairs only computed. The tail is
# NPL-style: log FMR convex, falling 235 times from 0.56 to 0.60 and 85 times from
# 0.60 to 0.64, where one cluster through 1.7e-8 at 0.60 falls 41 and 81 times.
TAIL = {0.56: 4.0e-6, 0.60: 1.7e-8, 0.64: 2.0e-10}
SPREAD = {
    "threshold": 0.6,
    "cross_group_factor": 0.1,
    # The tail's mismatch lowers every score of the group's captures and enrollments,
    # so against the 1e-10 group the factor's 1e-11 is out of reach (1.06e-12 at most).
    "cross_group_fmr": {"age=child vs default": 1.0e-7, "age=elderly vs age=child": 5.0e-13},
    "fmr_effects": {"face_size": 1.0, "darkness": -2.0},
    "error_rates": {
        "default": {"fmr": 1e-2, "fnmr": 0.01},
        "sex=female": {"fmr": 1e-5, "fnmr": 0.02},
        "age=child": {"fmr": TAIL, "fnmr": 0.03},
        "age=elderly": {"fmr": 1e-10, "fnmr": 0.01},
    },
}
# Impostor pairs a check may count: enough to reach 1e-7 with about 40 matches.
MAX_PAIRS = 400_000_000


@pytest.fixture(scope="module")
def spread() -> tuple[EmbeddingModel, pd.DataFrame]:
    model = calibrate(Algorithm.model_validate(SPREAD), seed=31)
    table = calibration_table(
        measure_rates(model, seed=32, max_pairs=MAX_PAIRS), rng=np.random.default_rng(32)
    )
    return model, table


def _standard_error(row: Any) -> float:
    return (row.ci_high - row.ci_low) / 3.92


def test_computed_rates_match_counting_wherever_both_reach(
    spread: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    _, table = spread
    impostor = table[(table["metric"] == "fmr") & (table["method"] == "counted")]
    # Counting reaches from 1e-2 down to 1e-7 here.
    assert impostor["model"].max() >= 1e-2 and impostor["model"].min() <= 1.2e-7
    for row in impostor.itertuples():
        # The pair bootstrap interval's width gives the sampling error, pairs that
        # share identities included; four of them allow for every row at once.
        assert abs(row.realized - row.model) <= 4 * _standard_error(row), row
    genuine = table[(table["metric"] == "fnmr") & (table["method"] == "counted")]
    for row in genuine.itertuples():
        assert abs(row.realized - row.model) <= 4 * _standard_error(row), row


def test_every_rate_from_1e_2_to_1e_10_is_realized_and_says_how(
    spread: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    _, table = spread
    off = table[~calibration_holds(table)]
    assert off.empty, off.to_string()
    computed = table[table["method"] == "computed"]
    # Rates below what counting reaches are computed, never marked ok.
    assert set(computed["status"]) == {"computed"}
    assert computed["n"].eq(0).all() and computed["ci_low"].isna().all()
    assert (computed["model"] < 20 / MAX_PAIRS).all()
    assert {"1e-10", "1.7e-08", "2e-10"} <= {f"{v:.2g}" for v in computed["target"]}
    counted = table[table["method"] == "counted"]
    assert set(counted["status"]) == {"ok"}


def test_a_configured_tail_is_realized_at_every_point(
    spread: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    model, table = spread
    child = model.groups.index("age=child")
    rows = table[(table["group"] == "age=child") & (table["metric"] == "fmr")]
    rows = rows[rows["condition"] == "reference"].set_index("threshold")
    assert sorted(rows.index) == sorted(TAIL)
    for threshold, fmr in TAIL.items():
        row = rows.loc[threshold]
        if row["method"] == "counted":
            assert row["ci_low"] <= fmr <= row["ci_high"], row
        else:
            assert row["realized"] == pytest.approx(fmr, rel=0.1)
    # The sweep passes through the points and falls steadily between them.
    sweep = np.linspace(0.54, 0.66, 49)
    curve = model.impostor_fmr(child, child, threshold=sweep)
    assert np.all(np.diff(curve) < 0)
    for threshold, fmr in TAIL.items():
        assert float(np.interp(threshold, sweep, curve)) == pytest.approx(fmr, rel=0.1)
    # Convex like the configured points: log FMR falls more slowly at high thresholds.
    log_curve = np.log(model.impostor_fmr(child, child, threshold=np.array(list(TAIL))))
    assert log_curve[0] - log_curve[1] > log_curve[1] - log_curve[2]


def test_a_pair_override_replaces_the_factor(spread: tuple[EmbeddingModel, pd.DataFrame]) -> None:
    model, table = spread
    pair = table.set_index("group").loc["default vs age=child"]
    assert pair["target"] == 1.0e-7
    default, child = model.groups.index("default"), model.groups.index("age=child")
    assert float(model.impostor_fmr(default, child)) == pytest.approx(1.0e-7, rel=1e-6)
    # A pair without an override gets the factor times the lower same-group FMR.
    other = table.set_index("group").loc["default vs sex=female"]
    assert other["target"] == pytest.approx(0.1 * 1e-5)


def test_capture_conditions_move_fmr_by_the_configured_effect(
    spread: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    model, table = spread
    effects = model.algorithm.fmr_effects
    shift = sum(getattr(effects, name) * value for name, value in WORSE_CONDITIONS.items())
    worse = table[table["condition"] != "reference"].set_index("group")
    for key in model.groups:
        g = model.groups.index(key)
        assert worse.loc[key, "target"] == pytest.approx(
            float(model.impostor_fmr(g, g)) * math.exp(shift)
        )
    # Along each condition, computed FMR follows the effect within 2% (the drift
    # is interpolated in a table), raising FMR for smaller faces and lowering it
    # in the dark, although both add noise.
    reference = model.algorithm.reference_conditions
    face = np.array([64.0, 45.0, 32.0, 20.0, 12.0])
    light = np.array([0.8, 0.6, 0.4, 0.25, 0.1])
    for key, conditions in {"face_px": face, "illumination": light}.items():
        values: dict[str, Any] = {
            "face_px": reference.face_px,
            "illumination": reference.illumination,
            "pose_deg": reference.pose_deg,
            "blur_px": reference.blur_px,
            "years": 0.0,
        } | {key: conditions}
        deficits = condition_deficits(reference, **values)
        groups = np.full(len(conditions), model.groups.index("sex=female"))
        scale, drift = model.capture_conditions(groups, deficits)
        assert np.all(np.diff(scale) > 0)
        fmr = model.impostor_fmr(int(groups[0]), int(groups[0]), scale=scale, drift=drift)
        wanted = 1e-5 * np.exp(effects.face_size * deficits["face_size"])
        wanted = wanted * np.exp(effects.darkness * deficits["darkness"])
        np.testing.assert_allclose(fmr, wanted, rtol=0.02)


def test_by_default_conditions_leave_fmr_where_it_is_configured() -> None:
    algorithm = Algorithm.model_validate({"error_rates": {"default": {"fmr": 1e-3, "fnmr": 0.01}}})
    model = calibrate(algorithm, seed=2)
    table = calibration_table(measure_rates(model, seed=3), rng=np.random.default_rng(3))
    worse = table[table["condition"] != "reference"].iloc[0]
    assert worse["target"] == pytest.approx(1e-3)
    assert worse["method"] == "counted"
    assert worse["ci_low"] <= 1e-3 <= worse["ci_high"]
    # Without the drift, the extra noise alone would lower it by more than the interval.
    scale, _ = model.capture_conditions(
        np.zeros(1, dtype=np.intp), {k: np.array([v]) for k, v in WORSE_CONDITIONS.items()}
    )
    assert float(model.impostor_fmr(0, 0, scale=scale[0])) < worse["ci_low"]


def test_a_high_fmr_is_checked_on_a_bounded_sample() -> None:
    algorithm = Algorithm.model_validate({"error_rates": {"default": {"fmr": 0.3, "fnmr": 0.01}}})
    model = calibrate(algorithm, seed=4)
    table = calibration_table(measure_rates(model, seed=5), rng=np.random.default_rng(5))
    row = table[(table["metric"] == "fmr") & (table["condition"] == "reference")].iloc[0]
    # About 10,000 expected matches at most, whatever the rate (the bootstrap's memory).
    assert row["n"] * 0.3 <= 10_500
    assert row["status"] == "ok"


@pytest.mark.parametrize(
    ("rates", "field", "message"),
    [
        # Falls 10^8 times in 0.001: faster than any mismatch lets scores concentrate.
        (
            {"fmr": {0.6: 1.0e-2, 0.601: 1.0e-10}, "fnmr": 0.01},
            r"error_rates\.default\.fmr",
            r"FMR \{0\.6: 0\.01, 0\.601: 1e-10\} cannot be realized within 10% .* comes is ",
        ),
        (
            {"fmr": 1e-3, "fnmr": 0.01},
            r"error_rates\.default\.fmr",
            r"FMR 0\.001 is unreachable at threshold 0\.999: with the noise needed for FNMR",
        ),
    ],
)
def test_targets_the_model_cannot_reach_name_the_field(
    rates: dict[str, Any], field: str, message: str
) -> None:
    threshold = 0.999 if rates["fmr"] == 1e-3 else 0.6
    algorithm = Algorithm.model_validate(
        {"threshold": threshold, "error_rates": {"default": rates}}
    )
    with pytest.raises(ConfigError, match=f"{field}: {message}"):
        calibrate(algorithm, seed=1)


def test_an_unreachable_pair_names_its_override() -> None:
    algorithm = Algorithm.model_validate(
        {
            "error_rates": {
                "default": {"fmr": 1e-6, "fnmr": 0.01},
                "sex=female": {"fmr": 1e-5, "fnmr": 0.01},
            },
            "cross_group_fmr": {"sex=female vs default": 0.2},
        }
    )
    with pytest.raises(ConfigError, match=r"cross_group_fmr\.sex=female vs default: .* between"):
        calibrate(algorithm, seed=1)


_FMR_FIELD = r"algorithm\.error_rates\.default\.fmr: "


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ({"error_rates": {"default": {"fmr": 0.5, "fnmr": 0.01}}}, _FMR_FIELD + ".*below 0.5"),
        (
            {"error_rates": {"default": {"fmr": {0.6: 1e-6}, "fnmr": 0.01}}},
            _FMR_FIELD + "give FMR at two or more thresholds",
        ),
        (
            {"error_rates": {"default": {"fmr": {0.56: 1e-6, 0.6: 2e-6}, "fnmr": 0.01}}},
            _FMR_FIELD + "FMR must fall as the threshold rises",
        ),
        (
            {
                "error_rates": {"default": {"fmr": 1e-6, "fnmr": 0.01}},
                "cross_group_fmr": {"default vs sex=male": 1e-8},
            },
            r"algorithm\.cross_group_fmr: .*naming two different keys of error_rates",
        ),
    ],
)
def test_bad_error_model_configs_are_refused_by_validation(
    write_config: Any, small_default: dict[str, Any], algorithm: dict[str, Any], expected: str
) -> None:
    small_default["algorithm"] = algorithm
    with pytest.raises(ConfigError, match=expected):
        load_config(write_config(small_default))


def test_shaped_groups_take_their_coordinates_from_every_group_alike(
    spread: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    model, _ = spread
    # Four centres, one family coordinate, the enrollment and the capture coordinate:
    # every group works in the same free space.
    assert model.free_dims == 128 - 4 - 1 - 2
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(4), 20_000)
    identities = model.identities(groups, rng)
    np.testing.assert_allclose(np.linalg.norm(identities, axis=1), 1.0, rtol=1e-5)
    family = identities[:, 4]
    child = model.groups.index("age=child")
    assert np.all(family[groups != child] == 0)
    members = np.count_nonzero(family[groups == child])
    share = model.family_share[child]
    assert abs(members - 20_000 * share) <= 4 * math.sqrt(20_000 * share) + 1


def test_a_shaped_model_round_trips_through_json(
    spread: tuple[EmbeddingModel, pd.DataFrame],
) -> None:
    model, _ = spread
    again = EmbeddingModel.from_json(model.to_json(), model.algorithm)
    assert again.to_json() == model.to_json()
    np.testing.assert_array_equal(
        again.person_identities(np.arange(4).repeat(50)),
        model.person_identities(np.arange(4).repeat(50)),
    )
