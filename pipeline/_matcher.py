"""1:N search: the matcher interface and the exact matcher.

A matcher holds a gallery of unit embeddings and returns, for each probe, the
``k`` best candidates by cosine similarity. Everything that searches goes
through `Matcher`, so faster or approximate backends can replace `ExactMatcher`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

# Score block size (probes x gallery entries): bounds memory at 64 MiB of float32.
_BLOCK_SCORES = 16_000_000


class Matcher(Protocol):
    """Top-k search over a fixed gallery."""

    @property
    def size(self) -> int: ...

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Gallery positions ``(n, k)`` and scores ``(n, k)``, best first."""
        ...


class ExactMatcher:
    """Exact cosine search by blocked matrix products and a partial sort.

    Parameters
    ----------
    gallery:
        ``(size, dims)`` unit vectors.

    Examples
    --------
    >>> gallery = np.eye(3, dtype=np.float32)
    >>> probe = np.array([[0.0, 0.6, 0.8]], np.float32)
    >>> positions, scores = ExactMatcher(gallery).search(probe)
    >>> positions.tolist(), scores.round(2).tolist()
    ([[2]], [[0.8]])
    """

    def __init__(self, gallery: npt.NDArray[np.float32]) -> None:
        self._gallery = np.ascontiguousarray(gallery, dtype=np.float32)

    @property
    def size(self) -> int:
        return len(self._gallery)

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        k = min(k, self.size)
        positions = np.empty((len(probes), k), dtype=np.intp)
        scores = np.empty((len(probes), k), dtype=np.float32)
        rows = max(1, _BLOCK_SCORES // max(1, self.size))
        for start in range(0, len(probes), rows):
            block = probes[start : start + rows] @ self._gallery.T
            if k == 1:
                best = block.argmax(axis=1)[:, None]
            else:
                top = np.argpartition(-block, k - 1, axis=1)[:, :k]
                order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
                best = np.take_along_axis(top, order, axis=1)
            positions[start : start + rows] = best
            scores[start : start + rows] = np.take_along_axis(block, best, axis=1)
        return positions, scores
