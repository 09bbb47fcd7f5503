"""face_recognition's own search loop behind the `Matcher` interface: the baseline."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._video import load_face_recognition
from ._base import Hits


class FaceRecognitionLoop:
    """face_recognition's own way: ``face_distance`` of one probe against every encoding.

    Encodings are float64 as face_recognition returns them; the best candidate is
    the smallest Euclidean distance, which for unit vectors is the largest cosine.
    """

    def __init__(self, gallery: npt.NDArray[np.float32]) -> None:
        # Loads dlib: only when this method is asked for.
        face_recognition = load_face_recognition()
        self._distance = face_recognition.face_distance
        self._encodings = np.asarray(gallery, dtype=np.float64)

    @property
    def size(self) -> int:
        return len(self._encodings)

    @property
    def nbytes(self) -> int:
        return int(self._encodings.nbytes)

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        positions = np.empty((len(probes), k), dtype=np.intp)
        scores = np.empty((len(probes), k), dtype=np.float32)
        for row, probe in enumerate(probes):
            distance = self._distance(self._encodings, probe.astype(np.float64))
            best = np.argsort(distance, kind="stable")[:k]
            positions[row] = best
            scores[row] = 1.0 - distance[best] ** 2 / 2.0
        return positions, scores

    def search_hits(self, probes: npt.NDArray[np.float32], floor: float, *, limit: int) -> Hits:
        positions, scores = self.search(probes, min(limit, self.size))
        probe, rank = np.nonzero(scores >= floor)
        return Hits(
            positions[:, 0], scores[:, 0], probe, positions[probe, rank], scores[probe, rank]
        )
