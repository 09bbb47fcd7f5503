"""The run-directory contract: readers check a run's manifest and files before using them.

Each damaged run directory below gets exit code 2 and a message naming the damaged
file, never a traceback and never a report computed from it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskclass import SCHEMA_VERSION, config_digest, read_manifest, validate_config
from riskclass.commands import EXIT_USAGE, main

from .conftest import run_once, scaled_default


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_once(tmp_path_factory, "contract", validate_config(scaled_default(2000, days=1)))


def _edit_manifest(change: Callable[[dict[str, Any]], object], *, digest: bool = False) -> Any:
    """Damage: ``change`` the manifest in place (and recompute the config's digest)."""

    def damage(run_dir: Path) -> None:
        path = run_dir / "manifest.json"
        manifest = json.loads(path.read_text())
        change(manifest)
        if digest:
            manifest["config_sha256"] = config_digest(manifest["config"])
        path.write_text(json.dumps(manifest))

    return damage


def _rename_deployment(manifest: dict[str, Any]) -> None:
    manifest["config"]["deployments"][0]["name"] = "renamed"


def _resize_population(manifest: dict[str, Any]) -> None:
    manifest["config"]["population"]["size"] = 3000


def _write(name: str, data: bytes) -> Any:
    return lambda run_dir: (run_dir / name).write_bytes(data)


def _truncate(name: str) -> Any:
    def damage(run_dir: Path) -> None:
        path = run_dir / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return damage


def _same_size_garbage(name: str) -> Any:
    def damage(run_dir: Path) -> None:
        path = run_dir / name
        size = path.stat().st_size
        path.write_bytes((b"\x00garbage" * (size // 8 + 1))[:size])

    return damage


def _retyped_persons(run_dir: Path) -> None:
    path = run_dir / "persons.parquet"
    table = pq.read_table(path)
    index = table.schema.get_field_index("person_id")
    pq.write_table(table.set_column(index, "person_id", table["person_id"].cast(pa.string())), path)


def _rows_dropped(name: str) -> Any:
    def damage(run_dir: Path) -> None:
        path = run_dir / name
        pq.write_table(pq.read_table(path).slice(1), path, compression="zstd")

    return damage


def _report_file(run_dir: Path) -> None:
    (run_dir / "report").write_text("my notes, not a report\n")


def _report_folder(run_dir: Path) -> None:
    (run_dir / "report").mkdir()
    (run_dir / "report" / "notes.txt").write_text("mine\n")


DAMAGES: dict[str, tuple[Any, str, str]] = {
    # case: (damage, the file the message names, what it says)
    "manifest-missing": (lambda d: (d / "manifest.json").unlink(), "run:", "no manifest.json"),
    "manifest-not-json": (_write("manifest.json", b"{"), "manifest.json", "not valid JSON"),
    "manifest-a-list": (_write("manifest.json", b"[]"), "run:", "not marked complete"),
    "manifest-incomplete": (
        _edit_manifest(lambda m: m.update(complete=False)),
        "run:",
        "not marked complete",
    ),
    "no-schema-version": (
        _edit_manifest(lambda m: m.pop("schema_version")),
        "manifest.json",
        "schema_version is None",
    ),
    "future-schema-version": (
        _edit_manifest(lambda m: m.update(schema_version=SCHEMA_VERSION + 1)),
        "manifest.json",
        f"this riskclass reads {SCHEMA_VERSION}",
    ),
    "files-not-a-mapping": (
        _edit_manifest(lambda m: m.update(files=["persons.parquet"])),
        "manifest.json",
        "files: expected a mapping",
    ),
    "file-outside-directory": (
        _edit_manifest(lambda m: m["files"].update({"../x": {}})),
        "manifest.json",
        "files: ../x is outside the directory",
    ),
    "config-not-a-mapping": (
        _edit_manifest(lambda m: m.update(config="default")),
        "manifest.json",
        "config: expected a mapping, got str",
    ),
    "config-invalid": (
        _edit_manifest(lambda m: m["config"].update(days=-1), digest=True),
        "manifest.json",
        "days: Input should be greater than 0 (got -1)",
    ),
    "deployment-renamed": (
        _edit_manifest(_rename_deployment),
        "manifest.json",
        "config: changed after",
    ),
    "deployment-renamed-digest-too": (
        _edit_manifest(_rename_deployment, digest=True),
        "person_outcomes.parquet",
        "are not in the config of manifest.json",
    ),
    "population-size-tampered": (
        _edit_manifest(_resize_population),
        "manifest.json",
        "config: changed after",
    ),
    "population-size-tampered-digest-too": (
        _edit_manifest(_resize_population, digest=True),
        "manifest.json",
        "population.size is 3,000 but persons.parquet holds 2,000 persons",
    ),
    "persons-missing": (
        lambda d: (d / "persons.parquet").unlink(),
        "persons.parquet",
        "missing (listed in",
    ),
    "persons-truncated": (_truncate("persons.parquet"), "persons.parquet", "truncated or changed"),
    "persons-wrong-types": (_retyped_persons, "persons.parquet", "truncated or changed"),
    "person-outcomes-garbage": (
        _same_size_garbage("person_outcomes.parquet"),
        "person_outcomes.parquet",
        "not a readable Parquet file",
    ),
    "galleries-garbage": (
        _write("galleries.parquet", b"PAR1 not really"),
        "galleries.parquet",
        "truncated",
    ),
    "decisions-row-dropped": (
        _rows_dropped("decisions.parquet"),
        "decisions.parquet",
        "truncated or changed",
    ),
    "report-is-a-file": (_report_file, "report", "exists and is not a report directory"),
    "report-is-someone-elses-folder": (_report_folder, "report", "no report wrote it"),
}


def test_there_are_the_issues_22_damages() -> None:
    assert len(DAMAGES) == 22


@pytest.mark.parametrize("case", list(DAMAGES))
def test_damaged_run_directory_is_named_with_exit_2(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    damage, named, expected = DAMAGES[case]
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    damage(run_dir)
    before = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert main(["report", str(run_dir)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{run_dir}/{named}" in err or (named == "run:" and f"{run_dir}:" in err), err
    assert expected in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    after = {p.relative_to(run_dir): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before  # nothing computed, nothing replaced


def test_compare_checks_every_run(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(finished, damaged)
    _truncate("person_outcomes.parquet")(damaged)
    assert main(["compare", str(finished), str(damaged), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert f"{damaged}/person_outcomes.parquet: " in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()


def test_manifest_lists_every_file_with_rows_and_checksum(finished: Path) -> None:
    manifest = read_manifest(finished)
    files = manifest["files"]
    written = {p.name for p in finished.iterdir()} - {"manifest.json"}
    assert set(files) == written
    assert files["persons.parquet"]["rows"] == 2000
    assert files["events.parquet"]["rows"] == manifest["rows"]["events"]
    assert (
        files["per_group.csv"]["rows"]
        == len((finished / "per_group.csv").read_text().splitlines()) - 1
    )
    assert "rows" not in files["embedding_model.json"]
    assert all(len(record["sha256"]) == 64 for record in files.values())
