"""The exact matcher: tiled matrix products, pruned by int8 bounds on large galleries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from riskclass import in_threads, worker_threads

from ._base import Hits
from ._bounds import SLICE, Int8Bounds

Precision = Literal["float32", "float16"]
_Result = TypeVar("_Result")

# Scores are computed for (probe block x gallery tile) at a time: 2,048 x 8,192
# float32 scores are 64 MiB, and a block of 2,048 probes amortizes reading each
# gallery tile over enough arithmetic to keep the matrix product compute-bound.
_PROBE_BLOCK = 2_048
_TILE = 8_192
# Hits beyond this many per probe (times `limit`) trigger an early cut to `limit`.
_HIT_SLACK = 4
# Below this many identities the int8 pass costs more than the scores it saves.
_BOUNDED_FROM = 8_192
# Bounds are (probes x slices) float64 arrays: a block holds at most this many
# entries (32 MiB per array), so very large galleries take fewer probes at a time.
_BOUND_ENTRIES = 1 << 22
_MIN_BOUNDED_BLOCK = 128


class ExactMatcher:
    """Exact cosine search by tiled matrix products.

    Probes are taken in blocks and the gallery in tiles; per tile the best
    candidate is found by ``argmax`` and further candidates only among scores that
    beat the probe's current k-th best, so top-k costs little more than top-1.
    Probe blocks are split across ``threads`` threads, each running a
    single-threaded matrix product, so that the reductions run in parallel too.

    On galleries of 8,192 identities or more, an int8 matrix product first
    bounds each probe's best score in every slice of 1,024 identities
    (`Int8Bounds`); float32 scores are then computed only for the slices that
    can hold a result (the k best, or a hit at or above the floor). The bounds
    are guaranteed, so the candidates are those that scoring every identity in
    float32 finds (scores can differ in the last bit, since they come from
    smaller products); the codes cost 128 more bytes per identity.

    Parameters
    ----------
    gallery:
        ``(size, dims)`` unit vectors. May be a memory-mapped array (`numpy.load`
        with ``mmap_mode="r"``): it is read one tile at a time, so a gallery larger
        than memory is searched in shards from disk.
    precision:
        ``"float16"`` stores the gallery at half the memory (256 bytes per
        identity at 128 dimensions, plus the int8 codes); each tile is widened
        to float32 for the product.
    threads:
        Worker threads (default: the CPUs available).
    bounded:
        Skip slices by int8 bounds (on large galleries); ``False`` scores every
        identity in float32.

    Examples
    --------
    >>> gallery = np.eye(3, dtype=np.float32)
    >>> probe = np.array([[0.0, 0.6, 0.8]], np.float32)
    >>> positions, scores = ExactMatcher(gallery).search(probe, k=2)
    >>> positions.tolist(), np.round(scores.astype(float), 2).tolist()
    ([[2, 1]], [[0.8, 0.6]])
    """

    def __init__(
        self,
        gallery: npt.NDArray[np.floating],
        *,
        precision: Precision = "float32",
        threads: int | None = None,
        bounded: bool = True,
    ) -> None:
        self._gallery: npt.NDArray[np.floating[Any]]
        if isinstance(gallery, np.memmap) and gallery.dtype == np.dtype(precision):
            self._gallery = gallery
        else:
            self._gallery = np.ascontiguousarray(gallery, dtype=precision)
        self._threads = max(1, threads or worker_threads())
        self._bounds = Int8Bounds(self._gallery) if bounded and self.size >= _BOUNDED_FROM else None

    @property
    def size(self) -> int:
        return len(self._gallery)

    @property
    def nbytes(self) -> int:
        bounds = self._bounds.nbytes if self._bounds else 0
        return int(self._gallery.nbytes) + bounds

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        k = min(k, self.size)
        parts = self._map(probes, lambda block: self._top_k(block, k))
        positions = np.concatenate([p for p, _ in parts]) if parts else np.empty((0, k), np.intp)
        scores = np.concatenate([s for _, s in parts]) if parts else np.empty((0, k), np.float32)
        return positions, scores

    def search_hits(self, probes: npt.NDArray[np.float32], floor: float, *, limit: int) -> Hits:
        parts = self._map(probes, lambda block: self._hits(block, floor, limit))
        offsets = np.cumsum([0] + [len(part.best) for part in parts])
        empty_i, empty_f = np.empty(0, np.intp), np.empty(0, np.float32)
        return Hits(
            np.concatenate([p.best for p in parts] or [empty_i]),
            np.concatenate([p.best_score for p in parts] or [empty_f]),
            np.concatenate(
                [p.probe + o for p, o in zip(parts, offsets, strict=False)] or [empty_i]
            ),
            np.concatenate([p.position for p in parts] or [empty_i]),
            np.concatenate([p.score for p in parts] or [empty_f]),
        )

    def _map(
        self,
        probes: npt.NDArray[np.float32],
        work: Callable[[npt.NDArray[np.float32]], _Result],
    ) -> list[_Result]:
        """Apply ``work`` to consecutive blocks of probes, in parallel, in order."""
        probes = np.ascontiguousarray(probes, dtype=np.float32)
        largest = _PROBE_BLOCK
        if self._bounds is not None:
            largest = min(largest, max(_MIN_BOUNDED_BLOCK, _BOUND_ENTRIES // self._bounds.slices))
        # Blocks of one size whatever the threads: OpenBLAS rounds a row's scores
        # by where it falls in its block (1.8e-7 apart on 2% of probes when blocks
        # were sized by thread count), so a run's bytes must not follow the CPUs.
        blocks = [probes[start : start + largest] for start in range(0, len(probes), largest)]
        return in_threads(work, blocks, self._threads)

    def _reach(
        self, block: npt.NDArray[np.float32], k: int, floor: float | None = None
    ) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.float64]]:
        """Which slices each probe must score, and a lower bound on its k-th best score.

        ``None`` (score everything) without bounds, or when a probe needs more
        candidates than there are slices to bound them.
        """
        unbounded = np.full(len(block), -np.inf)
        if self._bounds is None or k > self._bounds.slices:
            return None, unbounded
        upper, lower = self._bounds.slice_bounds(block)
        # k slices each hold a vector scoring at least their lower bound.
        kth = -np.partition(-lower, k - 1, axis=1)[:, k - 1]
        needed = kth if floor is None else np.minimum(kth, floor)
        return (upper >= needed[:, None]).T.copy(), kth

    def _tiles(
        self, block: npt.NDArray[np.float32], reach: npt.NDArray[np.bool_] | None
    ) -> Iterator[tuple[int, npt.NDArray[np.intp], npt.NDArray[np.float32]]]:
        """``(start, rows, scores)``: float32 scores of the probes ``rows`` against
        the gallery from ``start``, for every tile, or for each slice some probe
        must reach."""
        everyone = np.arange(len(block))
        if reach is None:
            scores = np.empty((len(block), min(_TILE, self.size)), dtype=np.float32)
            for start in range(0, self.size, _TILE):
                tile = self._tile(start, _TILE)
                view = scores[:, : len(tile)]
                np.matmul(block, tile.T, out=view)
                yield start, everyone, view
            return
        for index in np.flatnonzero(reach.any(axis=1)):
            rows = everyone[reach[index]]
            start = int(index) * SLICE
            yield start, rows, block[rows] @ self._tile(start, SLICE).T

    def _tile(self, start: int, width: int) -> npt.NDArray[np.float32]:
        tile = self._gallery[start : start + width]
        return tile if tile.dtype == np.float32 else tile.astype(np.float32)

    def _top_k(
        self, block: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        reach, kth = self._reach(block, k)
        top_p = np.full((len(block), k), -1, dtype=np.intp)
        top_s = np.full((len(block), k), -np.inf, dtype=np.float32)
        for start, rows, scores in self._tiles(block, reach):
            if k == 1:
                _keep_best(top_p[:, 0], top_s[:, 0], rows, start, scores)
                continue
            # Only scores reaching a probe's current k-th best can enter its top k.
            bar = np.maximum(top_s[rows, -1], kth[rows])
            if np.isneginf(bar).all():
                # Nothing to beat yet: the tile's own k-th best, found by partition,
                # rather than merging the whole tile.
                width = min(k, scores.shape[1])
                bar = np.partition(scores, -width, axis=1)[:, -width]
            row, column = np.nonzero(scores >= bar[:, None])
            top_p, top_s = _merge(top_p, top_s, rows[row], column + start, scores[row, column], k)
        return top_p, top_s

    def _hits(self, block: npt.NDArray[np.float32], floor: float, limit: int) -> Hits:
        reach, _ = self._reach(block, 1, floor)
        best = np.zeros(len(block), dtype=np.intp)
        best_score = np.full(len(block), -np.inf, dtype=np.float32)
        found: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]]
        found, count = [], 0
        for start, rows, scores in self._tiles(block, reach):
            reached = _keep_best(best, best_score, rows, start, scores) >= floor
            # Most probes score nothing at the floor: compare only the rows whose
            # best does (a pass over the whole tile cost as much as its product).
            if not reached.any():
                continue
            row, position = np.nonzero(scores[reached] >= floor)
            row = np.flatnonzero(reached)[row]
            found.append((rows[row], position + start, scores[row, position]))
            count += len(row)
            if count > _HIT_SLACK * limit * len(block):
                found, count = [_cap(*_concat(found), limit)], len(block) * limit
        probe, position, score = _cap(*_concat(found), limit) if found else _concat([])
        return Hits(best, best_score, probe, position, score)


def _keep_best(
    best: npt.NDArray[np.intp],
    best_score: npt.NDArray[np.float32],
    rows: npt.NDArray[np.intp],
    start: int,
    scores: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """Update ``best``/``best_score`` in place where a tile's best beats them
    (ties keep the earlier, lower position); returns each row's best in the tile."""
    column = scores.argmax(axis=1)
    value = scores[np.arange(len(rows)), column]
    better = value > best_score[rows]
    best_score[rows[better]] = value[better]
    best[rows[better]] = column[better] + start
    return value


def _concat(
    parts: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    if not parts:
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.float32)
    probe, position, score = (np.concatenate(column) for column in zip(*parts, strict=True))
    return probe, position, score


def _cap(
    probe: npt.NDArray[np.intp],
    position: npt.NDArray[np.intp],
    score: npt.NDArray[np.float32],
    limit: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Each probe's ``limit`` best hits, sorted by probe, then score (ties: position)."""
    order = np.lexsort((position, -score, probe))
    probe, position, score = probe[order], position[order], score[order]
    first = np.searchsorted(probe, probe, side="left")
    kept = np.arange(len(probe)) - first < limit
    return probe[kept], position[kept], score[kept]


def _merge(
    top_p: npt.NDArray[np.intp],
    top_s: npt.NDArray[np.float32],
    probe: npt.NDArray[np.intp],
    position: npt.NDArray[np.intp],
    score: npt.NDArray[np.float32],
    k: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Merge new candidates into each probe's top ``k`` (kept sorted, best first)."""
    if len(probe) == 0:
        return top_p, top_s
    n = len(top_p)
    rows = np.repeat(np.arange(n), k)
    all_probe = np.concatenate([rows, probe])
    all_position = np.concatenate([top_p.ravel(), position])
    all_score = np.concatenate([top_s.ravel(), score])
    # Each probe already holds k entries (some -inf), so after the cut every probe
    # has exactly k, in row order.
    _, kept_position, kept_score = _cap(all_probe, all_position, all_score, k)
    return kept_position.reshape(n, k), kept_score.reshape(n, k)
