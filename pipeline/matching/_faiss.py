"""faiss indexes behind the `Matcher` interface: flat (exact), IVF and HNSW (approximate)."""

from __future__ import annotations

import math
from typing import Literal

import faiss
import numpy as np
import numpy.typing as npt

from ._base import Hits

FaissKind = Literal["flat", "ivf", "hnsw"]
# IVF trains its coarse quantizer on at most this many gallery vectors per list.
_TRAIN_PER_LIST = 64


class FaissMatcher:
    """Inner-product search with a faiss index.

    Parameters
    ----------
    gallery:
        ``(size, dims)`` unit vectors.
    kind:
        ``"flat"`` (``IndexFlatIP``, exact), ``"ivf"`` (``IndexIVFFlat``: ``nlist``
        k-means lists, ``nprobe`` searched) or ``"hnsw"`` (``IndexHNSWFlat``: graph
        degree ``hnsw_m``, search breadth ``ef_search``).
    nlist:
        IVF lists; default ``sqrt(size)``.
    seed:
        Seeds IVF's k-means, so an index is built the same way every time.

    Notes
    -----
    ``search_hits`` asks the index for ``limit`` candidates and keeps those at or
    above the floor; with an approximate index both the best candidate and the hits
    can miss what exact search would find.
    """

    def __init__(
        self,
        gallery: npt.NDArray[np.float32],
        *,
        kind: FaissKind = "flat",
        nlist: int | None = None,
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_search: int = 64,
        seed: int = 0,
    ) -> None:
        vectors = np.ascontiguousarray(gallery, dtype=np.float32)
        dims = vectors.shape[1]
        self._size = len(vectors)
        index: faiss.Index
        if kind == "flat":
            index = faiss.IndexFlatIP(dims)
        elif kind == "ivf":
            lists = max(1, min(nlist or round(math.sqrt(self._size)), self._size))
            index = faiss.IndexIVFFlat(
                faiss.IndexFlatIP(dims), dims, lists, faiss.METRIC_INNER_PRODUCT
            )
            index.cp.seed = seed
            sample = np.random.default_rng(seed).permutation(self._size)[: _TRAIN_PER_LIST * lists]
            index.train(vectors[np.sort(sample)])
            index.nprobe = min(nprobe, lists)
        else:
            index = faiss.IndexHNSWFlat(dims, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = ef_search
        if self._size:
            index.add(vectors)
        self._index = index

    @property
    def size(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return int(faiss.serialize_index(self._index).nbytes)

    def search(
        self, probes: npt.NDArray[np.float32], k: int = 1
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        k = min(k, self._size)
        scores, positions = self._index.search(np.ascontiguousarray(probes, np.float32), k)
        return positions.astype(np.intp), scores

    def search_hits(self, probes: npt.NDArray[np.float32], floor: float, *, limit: int) -> Hits:
        positions, scores = self.search(probes, limit)
        # Approximate indexes pad with -1 when they find fewer than `limit` candidates.
        probe, rank = np.nonzero((scores >= floor) & (positions >= 0))
        best = np.maximum(positions[:, 0], 0)
        best_score = np.where(positions[:, 0] >= 0, scores[:, 0], -np.inf).astype(np.float32)
        return Hits(best, best_score, probe, positions[probe, rank], scores[probe, rank])
