"""Per-group detection and matching rates measured on rendered video."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskclass import ALL

from ._bootstrap import wilson_interval
from ._cells import group_cells
from ._metrics import Metric, rates_by_group

VIDEO_COLUMNS = (
    "stage",
    "lighting",
    "attribute",
    "value",
    "n",
    "count",
    "rate",
    "ci_low",
    "ci_high",
)
# Detector columns of the per-face table, as `riskclass.pipeline.run_on_video` names them.
DETECTORS = ("hog", "cnn", "haar")


def video_per_group(
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    enrollment: pd.DataFrame,
    *,
    attributes: Sequence[str],
    tolerance: float,
) -> pd.DataFrame:
    """Detection rates (per detector) and matching rates per lighting and group.

    Stages: ``hog_detection`` (or ``cnn_detection``) and ``haar_detection``: share
    of ground-truth faces a detector found, per face and frame; ``fnmr``: tracks
    of an enrolled person whose encoding lies farther than ``tolerance`` from
    their own enrollment; ``false_match``: tracks whose nearest enrollment within
    ``tolerance`` is someone else; ``failure_to_enroll``: portraits (lighting
    ``portrait``) without exactly one detected face. Groups are ``all``, every attribute value, and
    ``skin_reflectance``. Intervals are Wilson; frames of one face are correlated,
    so detection intervals are optimistic.
    """
    groupings = [*attributes, "skin_reflectance"]
    known = tracks[(tracks["person_id"] >= 0) & tracks["encoded"]]
    genuine = known[known["own_distance"].notna()]
    detectors = [c for c in DETECTORS if c in detections.columns]
    stages = {
        **{f"{d}_detection": (detections, detections[d]) for d in detectors},
        "fnmr": (genuine, genuine["own_distance"] > tolerance),
        "false_match": (known, known["outcome"] == "false_match"),
        "failure_to_enroll": (enrollment.assign(lighting="portrait"), ~enrollment["enrolled"]),
    }
    rows = []
    for stage, (frame, hit) in stages.items():
        frame = frame.assign(hit=hit.to_numpy(), everyone=ALL)
        for lighting, by_light in [(ALL, frame), *frame.groupby("lighting", sort=False)]:
            for attribute in ["everyone", *groupings]:
                for value, group in by_light.groupby(attribute, sort=True):
                    n, count = len(group), int(group["hit"].sum())
                    low, high = wilson_interval(count, n)
                    label = ALL if attribute == "everyone" else attribute
                    rate = count / n if n else np.nan
                    rows.append((stage, lighting, label, str(value), n, count, rate, low, high))
    return pd.DataFrame(rows, columns=list(VIDEO_COLUMNS))


def video_group_metrics(
    detections: pd.DataFrame,
    *,
    attributes: Sequence[str],
    reference: Mapping[str, str],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missed detections per detector, lighting and group, in the report's tables.

    One "deployment" per detector; metric ``missed_detection``, over all light
    (``lighting`` empty) and per ``lighting``. Each face (one person in one scene)
    is a bootstrap cluster, since its frames share a face, a size and a light.
    Returns what `rates_by_group` does.
    """
    detections = detections.assign(face=detections.groupby(["video", "person_id"]).ngroup())
    faces = detections.drop_duplicates("face").sort_values("face")
    cells = group_cells(faces, [*attributes, "skin_reflectance"])
    lightings = list(dict.fromkeys(detections["lighting"]))
    tables, disparities = [], []
    for detector in [c for c in DETECTORS if c in detections.columns]:
        metrics = []
        for lighting in [ALL, *lightings]:
            mine = detections if lighting == ALL else detections[detections["lighting"] == lighting]
            frames = np.bincount(mine["face"], minlength=len(faces)).astype(np.float64)
            missed = np.bincount(
                mine["face"], weights=~mine[detector].astype(bool), minlength=len(faces)
            ).astype(np.float64)
            light = None if lighting == ALL else lighting
            metrics.append(Metric("missed_detection", missed, frames, lighting=light))
        table, disparity = rates_by_group(detector, metrics, cells, reference=reference, rng=rng)
        tables.append(table.drop(columns=["threshold", "gallery_fraction"]))
        disparities.append(disparity.drop(columns=["threshold"]))
    return pd.concat(tables, ignore_index=True), pd.concat(disparities, ignore_index=True)
