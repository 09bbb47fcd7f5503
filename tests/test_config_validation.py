"""Scenario configs: every shipped config validates; bad input gets a clear error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from riskclass import ConfigError, load_config
from riskclass.commands import EXIT_USAGE, main

from .conftest import CONFIGS


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate_and_start_with_a_comment(path: Path) -> None:
    scenario = load_config(path)
    assert scenario.name
    assert path.read_text().startswith("#"), (
        "each config starts with a comment saying what it shows"
    )


def _problems(
    write_config: Callable[..., Path], data: dict[str, Any]
) -> tuple[Path, list[tuple[str, str]]]:
    path = write_config(data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    return path, caught.value.problems


def test_unknown_key_is_named(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["mobility"]["pases_per_camera_density"] = 1.0
    _, problems = _problems(write_config, small_default)
    assert problems == [("mobility.pases_per_camera_density", "unknown key")]


def test_shares_must_sum_to_one(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["population"]["attributes"]["sex"]["shares"] = {"female": 0.5, "male": 0.6}
    _, problems = _problems(write_config, small_default)
    assert len(problems) == 1
    field, message = problems[0]
    assert field == "population.attributes.sex"
    assert "sum to 1" in message and "1.1" in message


def test_negative_rate_is_rejected(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["districts"][0]["cameras_per_1000"] = -2
    _, problems = _problems(write_config, small_default)
    assert problems[0][0] == "districts.0.cameras_per_1000"
    assert "greater than or equal to 0" in problems[0][1]
    assert "-2" in problems[0][1]


def test_group_value_that_no_attribute_has(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["mobility"]["activity"]["residency=tourist"] = 2.0
    _, problems = _problems(write_config, small_default)
    assert problems == [
        (
            "mobility.activity.residency=tourist",
            "attribute 'residency' has no value 'tourist' (group 'residency=tourist'); "
            "its values are ['local', 'migrant']",
        )
    ]


def test_unknown_camera_kind(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["districts"][1]["camera_mix"] = {"drone": 1.0}
    _, problems = _problems(write_config, small_default)
    assert problems[0][0] == "districts.1.camera_mix.drone"


def test_conditional_attribute_must_follow_its_condition(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    attributes = small_default["population"]["attributes"]
    small_default["population"]["attributes"] = {
        "residency": attributes["residency"],
        "ethnicity": attributes["ethnicity"],
    }
    _, problems = _problems(write_config, small_default)
    assert "must be an attribute listed before 'residency'" in problems[0][1]


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"nowhere.yaml: \(file\): config file not found"):
        load_config("nowhere.yaml")


def test_overrides_reach_nested_and_named_items(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    path = write_config(small_default)
    scenario = load_config(
        path,
        [
            "population.size=12345",
            "districts.old_town.cameras_per_1000=7.5",
            "districts.0.name=core",
        ],
    )
    assert scenario.population.size == 12345
    assert scenario.districts[2].cameras_per_1000 == 7.5
    assert scenario.districts[0].name == "core"


def test_override_of_a_missing_list_item(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    path = write_config(small_default)
    with pytest.raises(ConfigError, match=r"--set districts\.harbour: no list item"):
        load_config(path, ["districts.harbour.cameras_per_1000=1"])


def test_cli_reports_bad_config_without_traceback(
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    small_default["days"] = 0
    path = write_config(small_default)
    assert main(["validate", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(path.name) in err and "days" in err and "greater than 0" in err
    assert "Traceback" not in err


def test_cli_validate_accepts_a_good_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(CONFIGS / "default.yaml")]) == 0
    assert "valid scenario 'default'" in capsys.readouterr().out


def test_settings_of_another_deployment_kind_are_rejected(
    write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    small_default["deployments"][0]["impostor_share"] = 0.1
    small_default["deployments"][1]["investigation"] = {"targets": 5}
    _, problems = _problems(write_config, small_default)
    assert [field for field, _ in problems] == ["deployments.0", "deployments.1"]
    assert "access_gate deployments only" in problems[0][1]
    assert "investigation deployments only" in problems[1][1]
