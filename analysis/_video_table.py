"""Per-group detection and matching rates measured on rendered video."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._intervals import wilson_interval

VIDEO_COLUMNS = (
    "stage", "lighting", "attribute", "value", "n", "count", "rate", "ci_low", "ci_high",
)  # fmt: skip
ALL = "all"


def video_per_group(
    detections: pd.DataFrame, tracks: pd.DataFrame, *, attributes: Sequence[str]
) -> pd.DataFrame:
    """Detection rates (per detector) and matching rates per lighting and group.

    Stages: ``hog_detection`` and ``haar_detection`` (share of ground-truth faces a
    detector found, per face and frame), ``fnmr`` (tracks of a known person whose
    encoding is farther than the tolerance from their own enrollment: counted as
    ``own_distance > tolerance`` via ``matched`` outcomes) and ``false_match``
    (tracks whose nearest enrollment within tolerance is someone else). Groups are
    ``all``, every attribute value, and ``skin_reflectance``. Intervals are Wilson;
    frames of one face are correlated, so treat them as optimistic for detection.
    """
    groupings = [*attributes, "skin_reflectance"]
    known = tracks[(tracks["person_id"] >= 0) & tracks["encoded"]]
    stages = {
        "hog_detection": (detections, detections["hog"]),
        "haar_detection": (detections, detections["haar"]),
        "fnmr": (known, known["outcome"] == "miss"),
        "false_match": (known, known["outcome"] == "false_match"),
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
