"""The calibration cache: reused only for the same inputs, byte-identical runs, never fatal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskclass import Algorithm, validate_config
from riskclass.commands import (
    CACHE_ENV,
    MODEL_VERSION,
    cache_info,
    calibrate_and_check,
    calibration_key,
    main,
)

# Two groups, so that a cold calibration takes a second or two.
DEFAULT = {"fmr": 2e-4, "fnmr": 0.02, "fta": 0.03}
ALGORITHM: dict[str, Any] = {
    "threshold": 0.6,
    "error_rates": {
        "default": DEFAULT,
        "residency=migrant": {"fmr": 2e-3, "fnmr": 0.03, "fta": 0.06},
    },
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty calibration cache of this test's own."""
    directory = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def scenario(small_default: dict[str, Any]) -> dict[str, Any]:
    small_default["algorithm"] = json.loads(json.dumps(ALGORITHM))
    return small_default


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.json"))


def _manifest(out: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return manifest


@pytest.mark.parametrize(
    "change",
    [
        {"threshold": 0.61},
        {"error_rates": {**ALGORITHM["error_rates"], "default": {**DEFAULT, "fnmr": 0.021}}},
        {"error_rates": {**ALGORITHM["error_rates"], "default": {**DEFAULT, "fta": 0.04}}},
        {"error_rates": {**ALGORITHM["error_rates"], "default": {**DEFAULT, "fmr": 3e-4}}},
        {"cross_group_factor": 0.2},
        {"noise_effects": {"darkness": 0.31}},
    ],
)
def test_a_changed_algorithm_changes_the_key(change: dict[str, Any]) -> None:
    before = Algorithm.model_validate(ALGORITHM)
    after = Algorithm.model_validate({**ALGORITHM, **change})
    assert calibration_key(after, 1) != calibration_key(before, 1)
    assert calibration_key(before, 1) == calibration_key(Algorithm.model_validate(ALGORITHM), 1)


def test_seed_and_model_version_change_the_key() -> None:
    algorithm = Algorithm.model_validate(ALGORITHM)
    key = calibration_key(algorithm, 1)
    assert calibration_key(algorithm, 2) != key
    assert calibration_key(algorithm, 1, model_version=MODEL_VERSION + 1) != key


def test_a_changed_input_never_reuses_a_stale_entry(cache: Path, scenario: dict[str, Any]) -> None:
    _, first = calibrate_and_check(validate_config(scenario))
    assert len(_entries(cache)) == 1
    scenario["algorithm"]["threshold"] = 0.62
    _, changed = calibrate_and_check(validate_config(scenario))
    assert len(_entries(cache)) == 2
    assert not changed.equals(first)
    scenario["seed"] += 1
    calibrate_and_check(validate_config(scenario))
    assert len(_entries(cache)) == 3


def test_a_cached_run_is_byte_identical_to_a_cold_run(
    cache: Path, scenario: dict[str, Any], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config(scenario))
    cold, warm, off = tmp_path / "cold", tmp_path / "warm", tmp_path / "off"
    assert main(["run", config, "--out", str(cold)]) == 0
    assert main(["run", config, "--out", str(warm)]) == 0
    assert main(["run", config, "--out", str(off), "--no-cache"]) == 0
    assert [_manifest(out)["calibration_cache"] for out in (cold, warm, off)] == [
        "miss",
        "hit",
        "off",
    ]
    files = sorted(path.name for path in cold.iterdir() if path.name != "manifest.json")
    assert "embedding_model.json" in files and "calibration.csv" in files
    for other in (warm, off):
        for name in files:
            assert (other / name).read_bytes() == (cold / name).read_bytes(), (other, name)


def test_a_cached_model_keeps_the_drift_tables_it_was_solved_with(
    cache: Path, scenario: dict[str, Any]
) -> None:
    cold, _ = calibrate_and_check(validate_config(scenario))
    warm, _ = calibrate_and_check(validate_config(scenario))
    assert warm is not cold
    assert np.array_equal(warm.drift_tables, cold.drift_tables)
    (entry,) = _entries(cache)
    # Drift tables of the wrong shape make the entry a miss, solved and stored again.
    document = json.loads(entry.read_text())
    document["drift"] = document["drift"][:1]
    entry.write_text(json.dumps(document))
    again, _ = calibrate_and_check(validate_config(scenario))
    assert np.array_equal(again.drift_tables, cold.drift_tables)
    assert len(json.loads(entry.read_text())["drift"]) == len(cold.groups)


def test_no_cache_neither_reads_nor_writes_the_cache(
    cache: Path, scenario: dict[str, Any], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config(scenario))
    assert main(["calibrate", config, "--out", str(tmp_path / "a.csv"), "--no-cache"]) == 0
    assert _entries(cache) == []
    assert main(["calibrate", config, "--out", str(tmp_path / "b.csv")]) == 0
    (entry,) = _entries(cache)
    # A planted entry with a wrong table would show in the output if it were read.
    document = json.loads(entry.read_text())
    document["calibration"] = document["calibration"].replace(",fmr,", ",fnmr,")
    entry.write_text(json.dumps(document))
    assert main(["calibrate", config, "--out", str(tmp_path / "c.csv"), "--no-cache"]) == 0
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    assert main(["calibrate", config, "--out", str(tmp_path / "d.csv")]) == 0
    assert (tmp_path / "d.csv").read_bytes() != (tmp_path / "a.csv").read_bytes()


@pytest.mark.parametrize(
    "garbage",
    ["", "{not json", '{"model": 1, "calibration": []}', '{"model": "{}", "calibration": ""}'],
)
def test_a_corrupt_entry_is_ignored_and_replaced(
    cache: Path,
    scenario: dict[str, Any],
    write_config: Callable[..., Path],
    tmp_path: Path,
    garbage: str,
) -> None:
    config = str(write_config(scenario))
    assert main(["calibrate", config, "--out", str(tmp_path / "cold.csv")]) == 0
    (entry,) = _entries(cache)
    entry.write_text(garbage)
    assert main(["calibrate", config, "--out", str(tmp_path / "again.csv")]) == 0
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "cold.csv").read_bytes()
    assert json.loads(entry.read_text())["model"]


def test_cache_info_and_clear(
    cache: Path,
    scenario: dict[str, Any],
    write_config: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["calibrate", str(write_config(scenario)), "--out", str(tmp_path / "t.csv")]) == 0
    info = cache_info()
    assert info.entries == 1 and info.bytes > 0 and info.location.is_relative_to(cache)
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    shown = capsys.readouterr().out
    assert str(cache) in shown and "entries: 1" in shown
    assert main(["cache", "clear"]) == 0
    assert _entries(cache) == [] and cache_info().entries == 0
