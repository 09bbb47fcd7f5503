"""The matcher a scenario's ``matching:`` section asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from riskclass import Matching

from ._base import Matcher
from ._exact import ExactMatcher

if TYPE_CHECKING:
    from ._faiss import FaissKind


def make_matcher(gallery: npt.NDArray[np.float32], settings: Matching, *, seed: int) -> Matcher:
    """The matcher ``settings`` name (the scenario's ``matching:`` section) over ``gallery``."""
    if settings.method == "exact":
        return ExactMatcher(
            gallery,
            precision=settings.precision,
            threads=settings.threads,
            bounded=settings.bounded,
        )
    # faiss, and face_recognition with dlib and OpenCV, load only for the methods
    # that use them: a run with the exact matcher never imports them.
    if settings.method == "face_recognition":
        from ._face_recognition import FaceRecognitionLoop

        return FaceRecognitionLoop(gallery)
    from ._faiss import FaissMatcher

    kinds: dict[str, FaissKind] = {"faiss-flat": "flat", "faiss-ivf": "ivf", "faiss-hnsw": "hnsw"}
    kind = kinds[settings.method]
    return FaissMatcher(
        gallery,
        kind=kind,
        nlist=settings.nlist,
        nprobe=settings.nprobe,
        hnsw_m=settings.hnsw_m,
        ef_search=settings.ef_search,
        seed=seed,
    )
