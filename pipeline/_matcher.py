"""1:N search: the matcher interface and the exact matcher.

A matcher holds a gallery of unit embeddings and returns, for each probe, the
``k`` best candidates by cosine similarity. Everything that searches goes
through `Matcher`, so faster or approximate backends can replace `ExactMatcher`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

# Score block size (probes x gallery entries): bounds memory at 64 MiB of float32.
_BLOCK_SCORES = 16_000_000


@dataclass(frozen=True)
class Hits:
    """The best candidate of every probe, and every comparison at or above a floor.

    ``best``/``best_score``: one per probe. ``probe``/``position``/``score``: one
    per hit, grouped by probe, at most ``limit`` per probe (its best ones).
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

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Gallery positions ``(n, k)`` and scores ``(n, k)``, best first."""
        ...

    def search_hits(self, probes: npt.NDArray[np.float32], floor: float, *, limit: int) -> Hits:
        """Each probe's best candidate and its comparisons scoring at least ``floor``."""
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

    def _blocks(
        self, probes: npt.NDArray[np.float32]
    ) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
        rows = max(1, _BLOCK_SCORES // max(1, self.size))
        for start in range(0, len(probes), rows):
            yield start, probes[start : start + rows] @ self._gallery.T

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        k = min(k, self.size)
        positions = np.empty((len(probes), k), dtype=np.intp)
        scores = np.empty((len(probes), k), dtype=np.float32)
        for start, block in self._blocks(probes):
            best = _top_k(block, k)
            positions[start : start + len(block)] = best
            scores[start : start + len(block)] = np.take_along_axis(block, best, axis=1)
        return positions, scores

    def search_hits(self, probes: npt.NDArray[np.float32], floor: float, *, limit: int) -> Hits:
        best = np.empty(len(probes), dtype=np.intp)
        best_score = np.empty(len(probes), dtype=np.float32)
        parts: list[tuple[npt.NDArray[np.intp], ...]] = []
        for start, block in self._blocks(probes):
            rows = np.arange(len(block))
            best[start : start + len(block)] = block.argmax(axis=1)
            best_score[start : start + len(block)] = block[rows, best[start : start + len(block)]]
            # Hits are rare: find them with one comparison, and sort only the few
            # probes that have more than `limit`.
            crowded = np.flatnonzero(np.count_nonzero(block >= floor, axis=1) > limit)
            if len(crowded):
                top = _top_k(block[crowded], limit)
                kept = np.full_like(block[crowded], -np.inf)
                np.put_along_axis(kept, top, np.take_along_axis(block[crowded], top, axis=1), 1)
                block[crowded] = kept
            probe, position = np.nonzero(block >= floor)
            parts.append((probe + start, position, block[probe, position]))
        if not parts:
            empty = np.empty(0, dtype=np.intp)
            return Hits(best, best_score, empty, empty, np.empty(0, dtype=np.float32))
        probe, position, score = (np.concatenate(column) for column in zip(*parts, strict=True))
        return Hits(best, best_score, probe, position, score)


def _top_k(block: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Column positions of each row's ``k`` largest values, largest first."""
    if k == 1:
        return block.argmax(axis=1)[:, None]
    top = np.argpartition(-block, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)
