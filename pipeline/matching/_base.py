"""The matcher interface: what every 1:N search backend offers.

A matcher holds a gallery of unit embeddings and returns, for each probe, the
``k`` best candidates by cosine similarity, or its best candidate and every
comparison above a floor. Everything that searches goes through `Matcher`, so
the backends (exact, faiss, face_recognition's loop) can replace one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Hits:
    """The best candidate of every probe, and every comparison at or above a floor.

    ``best``/``best_score``: one per probe. ``probe``/``position``/``score``: one
    per hit, sorted by probe then score (best first), at most ``limit`` per probe.
    """

    best: npt.NDArray[np.intp]
    best_score: npt.NDArray[np.float32]
    probe: npt.NDArray[np.intp]
    position: npt.NDArray[np.intp]
    score: npt.NDArray[np.float32]


class Matcher(Protocol):
    """Search over a fixed gallery."""

    @property
    def size(self) -> int: ...

    @property
    def nbytes(self) -> int:
        """Memory the gallery and its index take."""
        ...

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Gallery positions ``(n, k)`` and scores ``(n, k)``, best first."""
        ...

    def search_hits(self, probes: npt.NDArray[np.float32], floor: float, *, limit: int) -> Hits:
        """Each probe's best candidate and its comparisons scoring at least ``floor``."""
        ...
