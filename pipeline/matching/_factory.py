"""The matcher a scenario's ``matching:`` section asks for."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from riskclass import Matching

from ._base import Matcher
from ._exact import ExactMatcher
from ._face_recognition import FaceRecognitionLoop
from ._faiss import FaissKind, FaissMatcher


def make_matcher(gallery: npt.NDArray[np.float32], settings: Matching, *, seed: int) -> Matcher:
    """The matcher ``settings`` name (the scenario's ``matching:`` section) over ``gallery``."""
    if settings.method == "exact":
        return ExactMatcher(
            gallery,
            precision=settings.precision,
            threads=settings.threads,
            bounded=settings.bounded,
        )
    if settings.method == "face_recognition":
        return FaceRecognitionLoop(gallery)
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
