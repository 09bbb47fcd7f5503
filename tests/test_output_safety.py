"""Outputs under contention, signals, kills and a full disk: the previous result or the new
one, never neither, one line instead of a traceback, and no leftovers after the next run."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from riskclass import OutputExistsError, atomic_output_dir, read_manifest
from riskclass.commands import EXIT_USAGE, main

from .conftest import CONFIGS

_TIMEOUT_S = 300
_CLI = "import sys; from riskclass.commands import main; sys.exit(main(sys.argv[1:]))"

# A writer of TARGET that dies (os._exit, as SIGKILL would) at the named moment of its
# swap: before the atomic exchange, after it, or between the two renames of the
# fallback used where the system has no exchange.
_DYING_WRITER = """
import ctypes, os, pathlib, shutil, sys
from riskclass import atomic_output_dir

target, moment = pathlib.Path(sys.argv[1]), sys.argv[2]

def die(*args, **kwargs):
    os._exit(9)

if moment == "before-exchange":
    ctypes.CDLL = die
elif moment == "after-exchange":
    shutil.rmtree = die
else:
    sys.platform = "darwin"
    rename = pathlib.Path.rename
    def rename_once(self, other):
        pathlib.Path.rename = die
        return rename(self, other)
    pathlib.Path.rename = rename_once
with atomic_output_dir(target, force=True) as staging:
    (staging / "result.txt").write_text("new")
"""


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}."))


def _old_result(target: Path) -> None:
    target.mkdir(parents=True)
    (target / "result.txt").write_text("old")


def _run_args(write_config: Callable[..., Path], data: dict[str, Any], out: Path) -> list[str]:
    return ["run", str(write_config(data)), "--out", str(out), "--force"]


def _run_caught_mid_way(
    write_config: Callable[..., Path], data: dict[str, Any], out: Path
) -> subprocess.Popen[str]:
    """A run into ``out`` that has written its world and is calibrating or streaming events."""
    # Large enough to be still running then; killed long before its end.
    data["population"]["size"] = 40_000
    data["days"] = 7
    process = _cli(*_run_args(write_config, data, out))
    deadline = time.monotonic() + _TIMEOUT_S
    while not any(out.parent.glob(f".{out.name}.partial-*/cameras.parquet")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("moment", ["before-exchange", "after-exchange", "between-renames"])
def test_a_kill_during_the_swap_leaves_old_or_new_and_the_next_writer_cleans_up(
    tmp_path: Path, moment: str
) -> None:
    target = tmp_path / "out"
    _old_result(target)
    dying = subprocess.run(
        [sys.executable, "-c", _DYING_WRITER, str(target), moment],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    assert dying.returncode == 9, dying.stderr
    assert _leftovers(target)  # the dead writer's staging or moved-aside folder
    if moment == "after-exchange":
        assert (target / "result.txt").read_text() == "new"
    elif moment == "before-exchange":
        assert (target / "result.txt").read_text() == "old"
    # between-renames: the old result is aside until the next writer puts it back.
    with pytest.raises(OutputExistsError), atomic_output_dir(target):
        pass
    assert (target / "result.txt").read_text() in {"old", "new"}
    assert _leftovers(target) == []


def test_leftovers_of_live_writers_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError), atomic_output_dir(target) as first:
        (first / "result.txt").write_text("first")
        with atomic_output_dir(target) as second:  # a live writer's staging is not stale
            (second / "result.txt").write_text("second")
        assert (first / "result.txt").read_text() == "first"
    # The second finished first; the first refuses to replace it without --force.
    assert (target / "result.txt").read_text() == "second"
    assert _leftovers(target) == []


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_mid_run_keep_the_previous_result_and_clean_up(
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    number: signal.Signals,
) -> None:
    out = tmp_path / "out"
    _old_result(out)
    process = _run_caught_mid_way(write_config, small_default, out)
    process.send_signal(number)
    _, err = process.communicate(timeout=_TIMEOUT_S)
    assert process.returncode == 128 + number
    assert err.strip().splitlines()[-1] == (
        f"interrupted ({number.name}); no partial output was left in place"
    )
    assert "Traceback" not in err
    assert (out / "result.txt").read_text() == "old" and _leftovers(out) == []


def test_an_output_under_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "out"
    assert main(["run", str(CONFIGS / "default.yaml"), "--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == f"error: {out}: cannot write there (File exists: {tmp_path / 'file'})"


def _disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_naming_the_output_for_run_and_report(
    tmp_path: Path,
    write_config: Callable[..., Path],
    small_default: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small_default["population"]["size"] = 2000
    small_default["days"] = 1
    out = tmp_path / "out"
    args = _run_args(write_config, small_default, out)
    assert main(args) == 0
    before = read_manifest(out)
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(pq.ParquetWriter, "write_table", _disk_full)
        assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == (
        f"error: {out}: no space left on device; nothing was left in place "
        "(free some space and run again)"
    )
    assert read_manifest(out) == before and _leftovers(out) == []

    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_text", _disk_full)
        assert main(["report", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith(f"error: {out / 'report'}: no space left on device")
    assert "Traceback" not in err and not (out / "report").exists()
    assert _leftovers(out / "report") == []


# After the full disk test: its run fills the calibration cache that both runs here read.
def test_two_concurrent_runs_into_one_out_leave_one_complete_run(
    tmp_path: Path, write_config: Callable[..., Path], small_default: dict[str, Any]
) -> None:
    out = tmp_path / "out"
    small_default["population"]["size"] = 2000
    small_default["days"] = 1
    args = _run_args(write_config, small_default, out)
    processes = [_cli(*args), _cli(*args)]
    results = [(p.wait(timeout=_TIMEOUT_S), p.communicate()[1]) for p in processes]
    for code, err in results:
        assert code == 0 or (code == EXIT_USAGE and "already exists" in err), err
        assert "Traceback" not in err
    assert any(code == 0 for code, _ in results)
    manifest = read_manifest(out)  # every file listed, checksums intact
    assert (
        pq.ParquetFile(out / "persons.parquet").metadata.num_rows
        == manifest["config"]["population"]["size"]
    )
    assert _leftovers(out) == []
