"""The calibration cache: solved embedding models and their checks, reused across runs.

Calibrating a scenario's embedding model and checking it out of sample takes most
of a small run, and depends on nothing but the scenario's ``algorithm`` section and
seed. Each entry holds what a run writes (``embedding_model.json`` and
``calibration.csv``, as text) and the model's drift tables (solving them again
took 0.8 of the 0.8 s of reading an entry), under a hash of everything they
depend on:

- the resolved ``algorithm`` section (defaults filled in, an ``error_profile``
  file already merged in by the loader),
- the seed,
- the versions of riskclass and numpy (numpy's random streams), and
- `MODEL_VERSION`.

Entries live in the user's cache directory (``platformdirs``), or in
``$RISKCLASS_CACHE_DIR``. Each is one JSON file written atomically; an entry that
cannot be read or parsed is a miss and is overwritten, and a cache that cannot be
written is skipped: the cache never makes a command fail.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

from riskclass import Algorithm, __version__, write_file_atomically

# Bump when the embedding model or calibration changes (anything in what
# `calibrate` solves, the model's drift tables or what `measure_rates` checks, or
# in their JSON and CSV forms):
# entries written by older code then no longer match.
MODEL_VERSION = 3
CACHE_ENV = "RISKCLASS_CACHE_DIR"
_SUFFIX = ".json"


@dataclass(frozen=True)
class CachedCalibration:
    """An entry: the model as `EmbeddingModel.to_json` wrote it, the table as CSV, and
    the model's `EmbeddingModel.drift_tables`."""

    model_json: str
    table_csv: str
    drift: npt.NDArray[np.float64]


@dataclass(frozen=True)
class CacheInfo:
    """Where the calibration cache is, how many entries it holds, and their size."""

    location: Path
    entries: int
    bytes: int


def cache_dir() -> Path:
    """The calibration cache's directory: ``$RISKCLASS_CACHE_DIR`` or the user's cache."""
    override = os.environ.get(CACHE_ENV)
    root = Path(override) if override else Path(platformdirs.user_cache_dir("riskclass"))
    return root / "calibration"


def calibration_key(algorithm: Algorithm, seed: int, *, model_version: int = MODEL_VERSION) -> str:
    """The hash that names the entry of ``algorithm`` calibrated with ``seed``.

    Examples
    --------
    >>> from riskclass import Algorithm
    >>> calibration_key(Algorithm(), 1) == calibration_key(Algorithm(), 1)
    True
    >>> calibration_key(Algorithm(), 1) == calibration_key(Algorithm(threshold=0.61), 1)
    False
    """
    inputs = {
        "algorithm": algorithm.model_dump(mode="json"),
        "seed": seed,
        "riskclass": __version__,
        "numpy": metadata.version("numpy"),
        "model_version": model_version,
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load(key: str) -> CachedCalibration | None:
    """The entry ``key``, or None if there is none or it cannot be read."""
    try:
        data = json.loads((cache_dir() / f"{key}{_SUFFIX}").read_text(encoding="utf-8"))
        # JSON writes each float's shortest repr, which reads back the same float.
        drift = np.asarray(data["drift"], dtype=np.float64)
        entry = CachedCalibration(data["model"], data["calibration"], drift)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(entry.model_json, str) and isinstance(entry.table_csv, str)):
        return None
    return entry


def store(key: str, entry: CachedCalibration) -> None:
    """Write the entry ``key`` atomically; skip it if the cache cannot be written."""
    document = {
        "model": entry.model_json,
        "calibration": entry.table_csv,
        "drift": entry.drift.tolist(),
    }
    try:
        write_file_atomically(cache_dir() / f"{key}{_SUFFIX}", json.dumps(document) + "\n")
    except OSError:
        return


def cache_info() -> CacheInfo:
    entries = _entries()
    return CacheInfo(
        location=cache_dir(),
        entries=len(entries),
        bytes=sum(path.stat().st_size for path in entries),
    )


def clear_cache() -> int:
    """Remove every entry (and any half-written one); return how many entries there were."""
    directory = cache_dir()
    entries = _entries()
    for path in [*entries, *directory.glob(f".*{_SUFFIX}.*")]:
        path.unlink(missing_ok=True)
    return len(entries)


def _entries() -> list[Path]:
    return sorted(cache_dir().glob(f"*{_SUFFIX}"))
