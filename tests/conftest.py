"""Shared fixtures: small scenarios derived from the shipped configs."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from riskclass import Scenario
from riskclass.commands import run

if TYPE_CHECKING:
    from distributed import LocalCluster

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
FACES = REPO.parent / "shared" / "faces"

# Rates high enough that calibration's counting samples are small: tests of
# the machinery (sweeps, split runs), not the error model.
FAST_ALGORITHM = {
    "threshold": 0.6,
    "error_rates": {
        "default": {"fmr": 2e-3, "fnmr": 0.02, "fta": 0.03},
        "residency=migrant": {"fmr": 5e-3, "fnmr": 0.03, "fta": 0.06},
    },
}


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CONFIGS / name).read_text())
    return data


def scaled_default(size: int, days: int | None = None) -> dict[str, Any]:
    """configs/default.yaml with ``size`` persons and, where given, ``days`` days."""
    data = load_yaml("default.yaml")
    data["population"]["size"] = size
    if days is not None:
        data["days"] = days
    return data


def run_once(factory: pytest.TempPathFactory, name: str, scenario: Scenario) -> Path:
    """Run ``scenario`` into a new directory, for a module-scoped fixture whose tests
    all read the same run."""
    out = factory.mktemp(name) / "run"
    run(scenario, out)
    return out


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
    return scaled_default(4000, days=2)


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[LocalCluster]:
    """A real local Dask cluster of 2 worker processes, started once for every test
    that runs tasks on it (it takes seconds to start)."""
    from distributed import LocalCluster  # only the tests that use it pay for the import

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # Its HTTP server on any free port, as `riskclass.commands` starts one.
        scheduler_kwargs={"dashboard_address": ":0"},
    ) as local:
        yield local


@contextmanager
def killing_a_worker_once(address: str, prefix: str) -> Iterator[list[int]]:
    """While the block runs, SIGKILL the worker process running the first task whose
    key starts with ``prefix``; yields the list that then holds its process id."""
    from distributed import Client

    killed: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        with Client(address) as client:
            pids = client.run(os.getpid)
            while not stop.is_set():
                busy = [
                    w
                    for w, keys in client.processing().items()
                    if any(str(k).startswith(prefix) for k in keys)
                ]
                if busy:
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(pids[busy[0]])
                    return
                stop.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield killed
    finally:
        stop.set()
        watcher.join()
