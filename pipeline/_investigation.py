"""Trajectory search: the best-scoring captures of each target, kept across chunks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# At most this many (target, capture) scores are held at once, with their event and
# person ids and the selection's indices (about 28 bytes each: 0.9 GB), however
# many targets and captures a chunk brings.
_PAIRS_PER_BLOCK = 1 << 25


@dataclass(frozen=True)
class Candidates:
    """Each target's candidate captures, best first: one row per candidate."""

    target: npt.NDArray[np.int64]
    event_id: npt.NDArray[np.int64]
    person_id: npt.NDArray[np.int64]
    score: npt.NDArray[np.float32]


class TrajectorySearch:
    """Searches target photos against captures streamed chunk by chunk.

    Keeps, for every target, the ``k`` best captures seen so far, so memory stays
    at ``targets x k`` however many captures stream past.

    Parameters
    ----------
    targets:
        Person ids of the targets.
    photos:
        ``(targets, dims)`` unit embeddings of their photos.
    k:
        Candidates returned per target.
    threshold:
        Captures scoring below it are never candidates; ``None`` ranks only.

    Examples
    --------
    >>> search = TrajectorySearch(np.array([7]), np.eye(2, dtype=np.float32)[:1], k=1)
    >>> captures = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32)
    >>> search.update(np.array([10, 11]), np.array([3, 7]), captures)
    >>> search.candidates().event_id.tolist()
    [11]
    """

    def __init__(
        self,
        targets: npt.NDArray[np.int64],
        photos: npt.NDArray[np.float32],
        *,
        k: int,
        threshold: float | None = None,
    ) -> None:
        self._targets = targets
        self._photos = np.ascontiguousarray(photos, dtype=np.float32)
        self._threshold = -np.inf if threshold is None else threshold
        shape = (len(targets), k)
        self._score = np.full(shape, -np.inf, dtype=np.float32)
        self._event = np.full(shape, -1, dtype=np.int64)
        self._person = np.full(shape, -1, dtype=np.int64)

    def update(
        self,
        event_ids: npt.NDArray[np.int64],
        person_ids: npt.NDArray[np.int64],
        captures: npt.NDArray[np.float32],
    ) -> None:
        """Offer a batch of captures (``(n, dims)`` embeddings) to every target."""
        block = max(1, _PAIRS_PER_BLOCK // max(1, len(self._targets)))
        for start in range(0, len(captures), block):
            rows = slice(start, start + block)
            scores = self._photos @ captures[rows].T
            events = np.broadcast_to(event_ids[rows], scores.shape)
            persons = np.broadcast_to(person_ids[rows], scores.shape)
            self._keep_best(scores, events, persons)

    def emptied(self) -> TrajectorySearch:
        """The same search (targets, photos, k, threshold) with no capture seen yet."""
        return TrajectorySearch(
            self._targets, self._photos, k=self._score.shape[1], threshold=self._threshold
        )

    def merge(self, other: TrajectorySearch, event_offset: int = 0) -> None:
        """Take in what ``other``, the same search over other captures, has kept,
        its event ids shifted by ``event_offset``.

        The best ``k`` of all captures are the best ``k`` of each part's best ``k``:
        a run split into tasks searches each chunk apart and merges them here.
        """
        event = np.where(other._event >= 0, other._event + event_offset, other._event)
        self._keep_best(other._score, event, other._person)

    def _keep_best(
        self,
        score: npt.NDArray[np.float32],
        event: npt.NDArray[np.int64],
        person: npt.NDArray[np.int64],
    ) -> None:
        """Keep, per target, the ``k`` best of those held and these ``(targets, n)`` ones."""
        k = self._score.shape[1]
        score = np.concatenate([self._score, score], axis=1)
        event = np.concatenate([self._event, event], axis=1)
        person = np.concatenate([self._person, person], axis=1)
        keep = np.argpartition(-score, k - 1, axis=1)[:, :k]
        self._score = np.take_along_axis(score, keep, axis=1)
        self._event = np.take_along_axis(event, keep, axis=1)
        self._person = np.take_along_axis(person, keep, axis=1)

    def candidates(self) -> Candidates:
        """Every target's candidates at or above the threshold, best first."""
        # Ties are broken by event id so that the order never depends on chunking.
        order = np.lexsort((self._event, -self._score), axis=1)
        score = np.take_along_axis(self._score, order, axis=1)
        event = np.take_along_axis(self._event, order, axis=1)
        person = np.take_along_axis(self._person, order, axis=1)
        kept = (event >= 0) & (score >= self._threshold)
        target = np.broadcast_to(self._targets[:, None], score.shape)
        return Candidates(target[kept], event[kept], person[kept], score[kept])
