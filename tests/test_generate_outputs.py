"""`riskclass generate`: files, byte-identical reruns, atomic output directories."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskclass import OutputExistsError, parquet_writer, validate_config
from riskclass.commands import EXIT_USAGE, RunOptions, generate, main

FILES = ("persons.parquet", "cameras.parquet", "events.parquet")


def _manifest_without_timings(directory: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    manifest.pop("timings_s")
    manifest.pop("performance")
    return manifest


def test_generate_writes_the_documented_tables(
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    assert main(["generate", str(write_config(small_default)), "--out", str(out)]) == 0
    persons = pd.read_parquet(out / "persons.parquet")
    assert list(persons.columns) == [
        "person_id",
        "ethnicity",
        "residency",
        "sex",
        "age",
        "occupation",
        "home_district",
        "work_district",
        "employed",
        "enrolled_years_ago",
    ]
    cameras = pd.read_parquet(out / "cameras.parquet")
    assert list(cameras.columns) == ["camera_id", "district", "kind"]
    events = pd.read_parquet(out / "events.parquet")
    assert {"event_id", "person_id", "camera_id", "time", "district", "face_px"} <= set(
        events.columns
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert manifest["seed"] == small_default["seed"]
    assert manifest["rows"] == {
        "persons": len(persons),
        "cameras": len(cameras),
        "events": len(events),
    }
    assert manifest["config"]["population"]["size"] == small_default["population"]["size"]
    assert {"python", "numpy", "pyarrow"} <= set(manifest["versions"])
    assert f"{len(events):,} events" in capsys.readouterr().out


def test_same_seed_same_bytes_other_seed_other_events(
    tmp_path: Path, small_default: dict[str, Any]
) -> None:
    scenario = validate_config(small_default)
    first = generate(scenario, tmp_path / "first").out
    second = generate(scenario, tmp_path / "second").out
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert _manifest_without_timings(first) == _manifest_without_timings(second)

    reseeded = generate(
        validate_config({**small_default, "seed": small_default["seed"] + 1}), tmp_path / "third"
    ).out
    assert (first / "events.parquet").read_bytes() != (reseeded / "events.parquet").read_bytes()


def test_existing_output_is_kept_unless_forced(
    tmp_path: Path, small_default: dict[str, Any]
) -> None:
    scenario = validate_config(small_default)
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--force"):
        generate(scenario, out)
    assert (out / "keep.txt").read_text() == "mine"
    generate(scenario, out, RunOptions(force=True))
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()


def test_failed_run_leaves_nothing_that_looks_complete(
    tmp_path: Path, small_default: dict[str, Any]
) -> None:
    # The progress callback fails once the first chunk of events is written: the
    # run fails with part of its files in the staging directory.
    def explode(task: str, done: int, total: int) -> None:
        if task == "events":
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        generate(validate_config(small_default), tmp_path / "run", RunOptions(progress=explode))
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_to_overwrite(
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "run").mkdir()
    code = main(["generate", str(write_config(small_default)), "--out", str(tmp_path / "run")])
    assert code == EXIT_USAGE
    assert "already exists; pass --force" in capsys.readouterr().err


def test_chunks_are_written_in_order_and_a_failed_write_is_raised(tmp_path: Path) -> None:
    schema = pa.schema([("x", pa.int64())])
    path = tmp_path / "chunks.parquet"
    with parquet_writer(path, schema) as writer:
        for start in range(0, 50, 10):
            writer.write_table(pa.table({"x": range(start, start + 10)}, schema=schema))
    assert pq.read_table(path).column("x").to_pylist() == list(range(50))
    assert pq.ParquetFile(path).num_row_groups == 5
    # Chunks are written in a thread of their own: a failure there still stops the writer.
    with pytest.raises(ValueError, match="schema"), parquet_writer(path, schema) as writer:
        writer.write_table(pa.table({"y": [1.0]}))
