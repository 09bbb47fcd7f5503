"""Fit an error profile from real photos: per-group genuine and impostor distances.

Each photo is encoded with face_recognition; every pair of encoded photos is a
genuine pair (same identity) or an impostor pair. Per group, normal distributions
are fitted to the genuine and impostor distances, and their tails at the
tolerance give FNMR and FMR: with a handful of photos the counted rates are 0 or
1, while the fitted tails still rank groups by how close their impostors come.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from riskclass import DataError

from ._video import encode_image

LABEL_COLUMNS = ("file", "identity")
# Fitted rates are kept inside what the event-stream calibration can realize.
_RATE_FLOOR, _RATE_CEILING = 1e-7, 0.49
# With fewer pairs than this a group borrows the spread of all pairs.
_MIN_PAIRS_FOR_SPREAD = 3


@dataclass(frozen=True)
class EnrolledPhotos:
    """Labels of every photo, with its encoding (None when no single face was found)."""

    labels: pd.DataFrame
    encodings: list[np.ndarray | None]
    faces_found: list[int]


def read_labels(path: Path, images: Path) -> pd.DataFrame:
    """The labels file: ``file``, ``identity`` and one column per group attribute."""
    try:
        labels = pd.read_csv(path, dtype=str)
    # ValueError: pandas' parser and empty-data errors, and bytes that are not UTF-8.
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the labels ({str(exc)[:200]})") from None
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise DataError(
            f"{path}: missing columns {missing}; expected file, identity, attributes..."
        )
    for row, file in enumerate(labels["file"], start=2):
        if not (images / str(file)).is_file():
            raise DataError(f"{path}, line {row}: image {images / str(file)} not found")
    return labels


def encode_photos(
    labels: pd.DataFrame, images: Path, *, progress: Callable[[str, int, int], None] | None = None
) -> EnrolledPhotos:
    encodings: list[np.ndarray | None] = []
    found = []
    for number, file in enumerate(labels["file"], start=1):
        encoding, faces = encode_image(images / str(file))
        encodings.append(encoding)
        found.append(faces)
        if progress is not None:
            progress("encode", number, len(labels))
    return EnrolledPhotos(labels, encodings, found)


def fit_profile(photos: EnrolledPhotos, *, tolerance: float) -> dict[str, Any]:
    """The error profile: ``error_rates`` per group (usable in a config) and the ``fit``."""
    labels = photos.labels
    attributes = [c for c in labels.columns if c not in LABEL_COLUMNS]
    groups: list[tuple[str, np.ndarray]] = [("default", np.ones(len(labels), dtype=bool))]
    for attribute in attributes:
        for value in sorted(labels[attribute].dropna().unique()):
            groups.append((f"{attribute}={value}", (labels[attribute] == value).to_numpy()))
    pairs = _pairs(photos)
    spread = {
        kind: _spread(pairs[pairs["genuine"] == (kind == "genuine")]["distance"])
        for kind in ("genuine", "impostor")
    }
    rates: dict[str, dict[str, float]] = {}
    fit: dict[str, dict[str, float | int]] = {}
    no_face = np.array([f != 1 for f in photos.faces_found])
    for name, member in groups:
        both = member[pairs["a"]] & member[pairs["b"]]
        genuine = pairs.loc[both & pairs["genuine"], "distance"]
        impostor = pairs.loc[both & ~pairs["genuine"], "distance"]
        entry = _group_fit(genuine, impostor, spread, tolerance)
        entry["images"], entry["no_single_face"] = int(member.sum()), int(no_face[member].sum())
        fit[name] = entry
        if np.isfinite(entry["fitted_fmr"]) and np.isfinite(entry["fitted_fnmr"]):
            rates[name] = {
                "fmr": _clip(entry["fitted_fmr"]),
                "fnmr": _clip(entry["fitted_fnmr"]),
                "fta": float(no_face[member].mean()) if member.any() else 0.0,
            }
    if "default" not in rates:
        raise DataError(
            "too few photos: need two photos of one identity and photos of two identities"
        )
    return {"tolerance": tolerance, "error_rates": rates, "fit": fit}


def _pairs(photos: EnrolledPhotos) -> pd.DataFrame:
    identity = photos.labels["identity"].to_numpy()
    rows = []
    encoded = [i for i, e in enumerate(photos.encodings) if e is not None]
    for a, b in itertools.combinations(encoded, 2):
        distance = float(np.linalg.norm(photos.encodings[a] - photos.encodings[b]))  # type: ignore[operator]
        rows.append((a, b, identity[a] == identity[b], distance))
    return pd.DataFrame(rows, columns=["a", "b", "genuine", "distance"]).astype(
        {"a": int, "b": int, "genuine": bool, "distance": float}
    )


def _spread(distances: pd.Series) -> float:
    return float(distances.std(ddof=1)) if len(distances) >= 2 else float("nan")


def _group_fit(
    genuine: pd.Series, impostor: pd.Series, spread: dict[str, float], tolerance: float
) -> dict[str, Any]:
    entry: dict[str, Any] = {"genuine_pairs": len(genuine), "impostor_pairs": len(impostor)}
    for kind, distances in (("genuine", genuine), ("impostor", impostor)):
        sd = _spread(distances) if len(distances) >= _MIN_PAIRS_FOR_SPREAD else spread[kind]
        entry[f"{kind}_mean"] = float(distances.mean()) if len(distances) else float("nan")
        entry[f"{kind}_sd"] = sd
    entry["observed_fnmr"] = float((genuine > tolerance).mean()) if len(genuine) else float("nan")
    entry["observed_fmr"] = float((impostor <= tolerance).mean()) if len(impostor) else float("nan")
    entry["fitted_fnmr"] = float(norm.sf(tolerance, entry["genuine_mean"], entry["genuine_sd"]))
    entry["fitted_fmr"] = float(norm.cdf(tolerance, entry["impostor_mean"], entry["impostor_sd"]))
    return entry


def _clip(rate: float) -> float:
    return float(min(max(rate, _RATE_FLOOR), _RATE_CEILING))
