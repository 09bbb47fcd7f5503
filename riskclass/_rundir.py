"""The run-directory contract: file names, atomic writes, the manifest.

Every command that writes a directory (a run, a report, rendered video) goes
through here, and every command that reads one finds its files by these names.

A run writes into a hidden sibling directory and renames it into place only when
everything, `manifest.json` last, has been written. A run that fails or is killed
therefore never leaves a directory that looks complete; its leftovers are hidden
``.NAME.partial-HOST-PID-*`` directories that the next writer into the same place
removes once process PID is gone.

The manifest lists every file with its size, SHA-256 and row count, and the
config's digest; `read_manifest` checks them all, so a reader never computes on a
truncated, replaced or edited file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ._config import Scenario
from ._errors import DataError, OutputExistsError
from ._loading import validate_config

MANIFEST = "manifest.json"
# The run-directory contract's version: readers refuse manifests of another.
# 1: manifests list every file with size, SHA-256 and rows, and the config's digest.
SCHEMA_VERSION = 1
# A run's files (`riskclass run`; `riskclass generate` writes the first three).
PERSONS = "persons.parquet"
CAMERAS = "cameras.parquet"
EVENTS = "events.parquet"
CALIBRATION = "calibration.csv"
EMBEDDING_MODEL = "embedding_model.json"
GALLERIES = "galleries.parquet"
DECISIONS = "decisions.parquet"
HITS = "hits.parquet"
PERSON_OUTCOMES = "person_outcomes.parquet"
PER_GROUP = "per_group.csv"
# A run with ``dynamics`` (`riskclass dynamics`) writes these instead of events and
# decisions: its standing per person and period, its listings, and the outcome
# counts per period, person and deployment they follow from.
STANDING = "standing.parquet"
LISTINGS = "listings.parquet"
PERIOD_OUTCOMES = "period_outcomes.parquet"
# Subdirectories written by later commands into a finished directory.
REPORT_DIR = "report"
VIDEO_RESULTS_DIR = "results"
_PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_statistics": True}
_RECORDED_PACKAGES = (
    "riskclass",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
    "scipy",
    "face_recognition",
    "dlib-bin",
    "opencv-python-headless",
    "faiss-cpu",
    "onnxruntime",
    "scikit-learn",
)
_EXISTS = "output directory {path} already exists; pass --force to replace it"
_INCOMPLETE = "{path}: not a finished riskclass {what} ({why}); {hint}"
_DISK_FULL = "no space left on device; nothing was left in place (free some space and run again)"
_CHUNK_BYTES = 1 << 20
_MAX_MANIFEST_BYTES = 64 << 20
_EXCERPT_CHARS = 80


@contextlib.contextmanager
def atomic_output_dir(target: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a fresh directory that becomes ``target`` when the block succeeds.

    The staging directory's name carries its owner (host and process id), so that
    concurrent writers of one ``target`` leave each other alone and only the
    leftovers of processes that are gone are removed. With ``force``, the old
    ``target`` is exchanged for the new one in one atomic rename where the system
    allows it (Linux), so a kill at any moment leaves the old result or the new
    one; elsewhere the old one is moved aside first and put back by the next
    writer if the process died in between.

    Raises
    ------
    OutputExistsError
        If ``target`` exists and ``force`` is false (checked before any work, and
        again before the rename, in case another process wrote it meanwhile).
    DataError
        If the disk fills up while the block writes (one line naming ``target``).
    """
    target = Path(target).absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target.parent):
            # First, so that a result a killed writer moved aside is back before the check.
            _remove_stale(target)
        if target.exists() and not force:
            raise OutputExistsError(_EXISTS.format(path=target))
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.partial-{_owner()}-", dir=target.parent)
        )
    except OSError as exc:  # a parent that is a file, no permission, a read-only disk
        where = f": {exc.filename}" if exc.filename else ""
        raise DataError(f"{target}: cannot write there ({exc.strerror or exc}{where})") from None
    # mkdtemp makes the directory private; the finished output should follow the umask.
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    try:
        yield staging
        with _locked(target.parent), _signals_deferred():
            if target.exists() and not force:
                raise OutputExistsError(_EXISTS.format(path=target))
            retired = _swap_in(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if _disk_full(exc):
            raise DataError(f"{target}: {_DISK_FULL}") from None
        raise
    if retired is not None:
        _remove(retired)


def _owner() -> str:
    """This process, as staging names carry it: ``HOST-PID``."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _remove_stale(target: Path) -> None:
    """Remove the leftovers of writers of ``target`` that are gone; put back a moved-aside result.

    A leftover is stale when it names this host and a process that no longer
    exists; leftovers of live processes, or of other hosts sharing the
    filesystem, are kept.
    """
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.(?P<kind>partial|old)-(?P<host>.+)-(?P<pid>\d+)-[^-]+"
    )
    host = socket.gethostname()
    for path in sorted(target.parent.glob(f".{glob.escape(target.name)}.*-*")):
        match = pattern.fullmatch(path.name)
        if match is None or match["host"] != host or _alive(int(match["pid"])):
            continue
        moved_aside = path / target.name
        if match["kind"] == "old" and not target.exists() and moved_aside.exists():
            moved_aside.rename(target)
        _remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _swap_in(staging: Path, target: Path) -> Path | None:
    """Rename ``staging`` to ``target``; return where the old ``target`` now is, if any."""
    if not target.exists() and not target.is_symlink():
        staging.rename(target)
        return None
    if _exchange(staging, target):
        return staging
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{_owner()}-", dir=target.parent))
    target.rename(retired / target.name)
    try:
        staging.rename(target)
    except OSError:
        (retired / target.name).rename(target)
        raise
    return retired


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # glibc before 2.28
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # not on this filesystem
        return False
    raise OSError(error, os.strerror(error), str(second))


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (a few milliseconds: a cleanup or a swap)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP until the block (a swap) has finished."""
    if threading.current_thread() is not threading.main_thread():
        # Python runs signal handlers in the main thread only: this one is not interrupted.
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _disk_full(exc: BaseException) -> bool:
    # pyarrow reports a full disk as an OSError without errno, in its message.
    return isinstance(exc, OSError) and (
        exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)
    )


def write_file_atomically(path: str | Path, data: str) -> None:
    """Write a text file via a temporary sibling and a rename, so it is whole or absent."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if _disk_full(exc):
            raise DataError(f"{path}: {_DISK_FULL}") from None
        raise


def _parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Settings that make the bytes reproducible, with dictionary pages only for
    categories and strings: on numbers pyarrow filled a dictionary per column and row
    group, then fell back to plain pages (on a chunk of the default run's events,
    measured: 37% fewer bytes and 42% less time without).

    Integer and timestamp columns are delta-encoded: ids that run in order (event
    ids, times sorted within a chunk) shrink to a few bits per value before zstd
    sees them. The default run's events, decisions and hits, written a chunk at a
    time, three times each way: 0.47 to 0.54 CPU seconds against 0.64 to 0.83 with
    plain pages, and 32.9 MB against 35.9 MB."""
    wordy = [
        field.name
        for field in schema
        if pa.types.is_dictionary(field.type)
        or pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
    ]
    deltas = {
        field.name: "DELTA_BINARY_PACKED"
        for field in schema
        if pa.types.is_integer(field.type) or pa.types.is_timestamp(field.type)
    }
    return {**_PARQUET_OPTIONS, "use_dictionary": wordy, "column_encoding": deltas}


def write_parquet(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    """Write a table to Parquet with settings that make the bytes reproducible."""
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    pq.write_table(table, path, **_parquet_options(table.schema))


class ChunkWriter:
    """Writes tables to one Parquet file, one row group each, in a thread of its own.

    Encoding and compressing a chunk (pyarrow releases the GIL) then overlaps with
    computing the next. Tables are written in the order given, so the file's bytes
    are those of writing them one after another; at most one waits to be written,
    so memory stays bounded. An error in a write is raised by the next call.
    """

    def __init__(self, writer: pq.ParquetWriter) -> None:
        self._writer = writer
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="parquet")
        self._pending: Future[None] | None = None

    def write_table(self, table: pa.Table) -> None:
        self._wait()
        self._pending = self._thread.submit(self._writer.write_table, table)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._thread.shutdown()
            self._writer.close()


@contextlib.contextmanager
def parquet_writer(path: Path, schema: pa.Schema) -> Iterator[ChunkWriter]:
    """A Parquet writer for tables written chunk by chunk (one row group each)."""
    writer = ChunkWriter(pq.ParquetWriter(path, schema, **_parquet_options(schema)))
    try:
        yield writer
    finally:
        writer.close()


def write_manifest(entries: Mapping[str, Any], directory: Path) -> None:
    """Write ``directory``'s manifest, last: ``entries`` and a record of every file written.

    The record (``files``) gives each file's size, SHA-256 and, for Parquet and
    CSV, its row count; readers check them with `read_manifest`. ``schema_version``
    says which contract the directory follows.
    """
    manifest = {
        "complete": True,
        "schema_version": SCHEMA_VERSION,
        **entries,
        "files": {
            path.relative_to(directory).as_posix(): _describe(path)
            for path in sorted(directory.rglob("*"))
            if path.is_file() and path.name != MANIFEST
        },
    }
    text = json.dumps(manifest, indent=2, default=str) + "\n"
    (directory / MANIFEST).write_text(text, encoding="utf-8")


def _describe(path: Path) -> dict[str, Any]:
    """Size, SHA-256 and (Parquet, CSV) rows of a file, read once in chunks."""
    digest = hashlib.sha256()
    newlines = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
            newlines += chunk.count(b"\n")
    record: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    if path.suffix == ".parquet":
        record["rows"] = _parquet_rows(path)
    elif path.suffix == ".csv":
        # Lines after the header: the tables riskclass writes hold no quoted newlines.
        record["rows"] = max(newlines - 1, 0)
    return record


def _parquet_rows(path: Path) -> int:
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({_excerpt(exc)})") from None


def config_digest(config: Any) -> str:
    """SHA-256 of a resolved config as the manifest records it (key order aside)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages whose behaviour shapes the outputs."""
    versions = {"python": platform.python_version()}
    for name in _RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "unset")
    return versions


def read_manifest(directory: Path, *, what: str = "run", hint: str = "") -> dict[str, Any]:
    """The manifest of a finished directory, once its files are checked against it.

    Checks the schema version and that every file the manifest lists is there
    with its size, row count and SHA-256.

    Raises
    ------
    DataError
        If ``manifest.json`` is missing, not JSON, not marked complete, of another
        schema version, or a file it lists is missing or differs; the message names
        the file.
    """
    path = directory / MANIFEST
    if not path.is_file():
        raise DataError(
            _INCOMPLETE.format(path=directory, what=what, why=f"no {MANIFEST}", hint=hint)
        )
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise DataError(f"{path}: larger than {_MAX_MANIFEST_BYTES:,} bytes; not a manifest")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"{path}: not valid JSON ({_excerpt(exc)})") from None
    if not isinstance(manifest, dict) or not manifest.get("complete"):
        raise DataError(
            _INCOMPLETE.format(
                path=directory, what=what, why=f"{MANIFEST} is not marked complete", hint=hint
            )
        )
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DataError(
            f"{path}: schema_version is {_excerpt(version)}, this riskclass reads "
            f"{SCHEMA_VERSION}; write the directory again with this version"
        )
    _check_files(directory, manifest.get("files"))
    return manifest


def _check_files(directory: Path, files: Any) -> None:
    """Each listed file is there, a regular file, with the recorded size, rows and digest."""
    manifest = directory / MANIFEST
    if not isinstance(files, dict) or not all(
        isinstance(record, dict) for record in files.values()
    ):
        raise DataError(f"{manifest}: files: expected a mapping of file names to records")
    for name, expected in files.items():
        path = directory / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise DataError(f"{manifest}: files: {_excerpt(name)} is outside the directory")
        if not path.is_file():
            raise DataError(f"{path}: missing (listed in {MANIFEST}); the directory is damaged")
        size = path.stat().st_size
        if size != expected.get("bytes"):
            raise DataError(
                f"{path}: {size:,} bytes, {MANIFEST} lists {_excerpt(expected.get('bytes'))}; "
                "the file was truncated or changed"
            )
        actual = _describe(path)
        # A table's rows are always listed: readers take them from the manifest.
        if ("rows" in expected or "rows" in actual) and actual.get("rows") != expected.get("rows"):
            raise DataError(
                f"{path}: {actual.get('rows')} rows, {MANIFEST} lists "
                f"{_excerpt(expected.get('rows'))}"
            )
        if actual["sha256"] != expected.get("sha256"):
            raise DataError(f"{path}: changed since it was written (its SHA-256 differs)")


def manifest_scenario(directory: Path, manifest: Mapping[str, Any]) -> Scenario:
    """The scenario a manifest records, once its config is known to be unchanged and valid.

    Raises
    ------
    DataError
        If ``config`` is not a mapping or differs from its recorded digest.
    ConfigError
        If it no longer validates (naming the manifest and the field).
    """
    path = directory / MANIFEST
    config = manifest.get("config")
    if not isinstance(config, dict):
        raise DataError(f"{path}: config: expected a mapping, got {type(config).__name__}")
    if manifest.get("config_sha256") != config_digest(config):
        raise DataError(f"{path}: config: changed after it was written (config_sha256 differs)")
    return validate_config(config, source=path)


def check_run_against_config(
    directory: Path, manifest: Mapping[str, Any], scenario: Scenario, outcomes: pd.DataFrame
) -> None:
    """The run's files agree with its manifest's config: persons, and deployments by name.

    ``outcomes`` is the run's ``person_outcomes.parquet``.

    Raises
    ------
    DataError
        If the population size differs from the persons written, or a deployment
        in the outcomes is not in the config.
    """
    persons = manifest["files"].get(PERSONS, {}).get("rows")
    if persons is not None and persons != scenario.population.size:
        raise DataError(
            f"{directory / MANIFEST}: config: population.size is "
            f"{scenario.population.size:,} but {PERSONS} holds {persons:,} persons"
        )
    named = {deployment.name for deployment in scenario.deployments}
    # The distinct names only: iterating every row's string costs a second per 300,000.
    unknown = sorted(set(outcomes["deployment"].unique().astype(str)) - named)
    if unknown:
        raise DataError(
            f"{directory / PERSON_OUTCOMES}: deployments {_excerpt(unknown)} are not in the "
            f"config of {MANIFEST} ({_excerpt(sorted(named))})"
        )


def _excerpt(value: object) -> str:
    text = str(value)
    return text if len(text) <= _EXCERPT_CHARS else f"{text[:_EXCERPT_CHARS]}..."


def provenance(scenario: Scenario, config_path: str | Path | None) -> dict[str, Any]:
    """The manifest entries every output of a scenario carries: config, seed, versions."""
    config = scenario.model_dump(mode="json")
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "config_file": str(config_path) if config_path is not None else None,
        "config": config,
        "config_sha256": config_digest(config),
        "versions": package_versions(),
    }
