"""Property: whatever is done to a shipped config, `validate` accepts it or names a field,
quickly and in bounded memory, and an accepted config runs or names its file.

A small example count for CI; `benchmarks/fuzz_configs.py` is the larger run (1,000
configs, each in a child process under a memory limit).
"""

from __future__ import annotations

import copy
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from riskclass import ConfigError, validate_config
from riskclass.commands import EXIT_USAGE, main

from .conftest import CONFIGS, load_yaml

SHIPPED = sorted(p.name for p in CONFIGS.glob("*.yaml"))
# Per example: validation is milliseconds; these bounds catch blow-ups, not slowness.
_SECONDS = 5.0
_PEAK_BYTES = 64 << 20

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["1e99999", "inf", "ethnicity=nobody", "population", "watchlist_screening"]),
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    found = []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped config with one to three values replaced or deleted."""
    data = copy.deepcopy(load_yaml(draw(st.sampled_from(SHIPPED))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(data)))
        parent = _at(data, path[:-1])
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_values)
    return data


@settings(max_examples=40, deadline=None, database=None)
@given(data=mutated_configs())
def test_validate_accepts_or_names_a_field_in_bounded_time_and_memory(data: dict[str, Any]) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        validate_config(data, source="mutated.yaml")
    except ConfigError as exc:
        assert exc.problems
        for field, message in exc.problems:
            assert field and message  # each problem names a field and what was expected
        assert str(exc).startswith("mutated.yaml: ")
        assert len(str(exc)) < 30_000
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - started < _SECONDS
    assert peak < _PEAK_BYTES


@st.composite
def tweaked_numbers(draw: st.DrawFn) -> dict[str, Any]:
    """default.yaml with one to three numbers outside its algorithm set to other plausible ones."""
    data = copy.deepcopy(load_yaml("default.yaml"))
    numbers = [
        p
        for p in _paths(data)
        if p[0] not in ("algorithm", "seed")
        and isinstance(_at(data, p), int | float)
        and not isinstance(_at(data, p), bool)
    ]
    for path in draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=3)):
        value = draw(st.integers(0, 60) | st.floats(0, 5, allow_nan=False, allow_subnormal=False))
        _at(data, path[:-1])[path[-1]] = value
    return data


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


@settings(
    max_examples=4,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=tweaked_numbers())
def test_an_accepted_config_runs_small_or_names_its_file(
    data: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The algorithm and seed are kept so that every example reuses one calibration.
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    small = ["--set", "population.size=1000", "--set", "days=1"]
    code = main(["run", str(path), *small, "--out", str(out), "--force"])
    err = capsys.readouterr().err
    assert code in (0, EXIT_USAGE), err
    if code == EXIT_USAGE:
        assert f"{path}: " in err
    else:
        assert (out / "manifest.json").is_file()
