"""Shared fixtures: small scenarios derived from the shipped configs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
FACES = REPO.parent / "shared" / "faces"


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CONFIGS / name).read_text())
    return data


@pytest.fixture(scope="session", autouse=True)
def calibration_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One calibration cache for the session, never the user's: runs of the same
    algorithm and seed share their calibration, as they would at the terminal."""
    directory = tmp_path_factory.mktemp("calibration_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKCLASS_CACHE_DIR", str(directory))
        yield directory


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config mapping to a YAML file in the test's directory."""
    counter = iter(range(1_000_000))

    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / f"config_{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def small_default() -> dict[str, Any]:
    """configs/default.yaml scaled down to run in a fraction of a second."""
    data = load_yaml("default.yaml")
    data["population"]["size"] = 4000
    data["days"] = 2
    return data
