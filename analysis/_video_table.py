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
# Detector columns of the per-face table, as `riskclass.pipeline.run_on_video` names them.
DETECTORS = ("hog", "cnn", "haar")


def video_per_group(
    detections: pd.DataFrame,
    tracks: pd.DataFrame,
    *,
    attributes: Sequence[str],
    tolerance: float,
) -> pd.DataFrame:
    """Detection rates (per detector) and matching rates per lighting and group.

    Stages: ``hog_detection`` (or ``cnn_detection``) and ``haar_detection``: share
    of ground-truth faces a detector found, per face and frame; ``fnmr``: tracks
    of an enrolled person whose encoding lies farther than ``tolerance`` from
    their own enrollment; ``false_match``: tracks whose nearest enrollment within
    ``tolerance`` is someone else. Groups are ``all``, every attribute value, and
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
