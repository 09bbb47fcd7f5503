"""Per-person counts that a report needs beyond the run's tally, read in row groups.

Decisions and hits can hold tens of millions of rows; they are read one Parquet
row group at a time (each written chunk is one or more row groups), so memory
stays at one chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from riskclass import KINDS, KindInfo

# Score histograms for DET curves: 0.0025 wide over the whole cosine range.
SCORE_EDGES = np.linspace(-1.0, 1.0, 801)
_NEVER = 0  # histogram bin of mated searches whose mate was not returned at rank 1


@dataclass(frozen=True)
class DeploymentSpec:
    """What a report needs to know about one deployment of the run."""

    name: str
    kind: str
    threshold: float
    members: npt.NDArray[np.int64]  # gallery members; empty for gates and investigations

    @property
    def info(self) -> KindInfo:
        """What this deployment's kind does."""
        return KINDS[self.kind]

    @property
    def searches_gallery(self) -> bool:
        return self.info.searches_gallery


@dataclass
class DeploymentCounts:
    """Per-person counts of one deployment (arrays of length persons, or rows x persons),
    of `count_type`."""

    sweep_nonmated_alerts: npt.NDArray[np.signedinteger[Any]]
    sweep_true_alerts: npt.NDArray[np.signedinteger[Any]]
    impostor_hits: npt.NDArray[np.signedinteger[Any]]
    mate_hits: npt.NDArray[np.signedinteger[Any]]
    gallery_nonmated_alerts: npt.NDArray[np.signedinteger[Any]]
    # (profiles, 2, bins): rank-1 scores of non-mated (0) and mated (1) searches.
    histogram: npt.NDArray[np.int64]
    # Every impostor hit at the deployment's threshold: who searched, whom it matched.
    impostor_probe: list[npt.NDArray[np.int64]] = field(default_factory=list)
    impostor_candidate: list[npt.NDArray[np.int64]] = field(default_factory=list)


def count_run(
    decisions: Iterable[pa.Table],
    hits: Iterable[pa.Table],
    *,
    specs: Sequence[DeploymentSpec],
    profile: npt.NDArray[np.intp],
    n_profiles: int,
    thresholds: Sequence[float],
    fractions: Sequence[float],
    rng: np.random.Generator,
    rows: int,
) -> dict[str, DeploymentCounts]:
    """Count, per deployment and person, what the sweeps, FMR/FNMR and DET curves need.

    Gallery subsamples for the gallery-size sweep are nested: members are put in
    one random order (from ``rng``) and a fraction ``f`` keeps the first
    ``f x size`` of them.

    ``rows``: how many rows ``decisions`` and ``hits`` hold together (at most). A
    row adds at most 1 to any one per-person count (a decision to each threshold's
    count of its person, a hit to its searcher's, a search to each fraction's), so
    no count exceeds it, and the counts are kept in `count_type` of it: at a million
    persons, int32 halves what int64 held.

    Raises
    ------
    ValueError
        If the tables hold more than ``rows`` rows, which a count could overflow.
    """
    persons = len(profile)
    dtype = count_type(rows)
    counts = {
        spec.name: DeploymentCounts(
            sweep_nonmated_alerts=np.zeros((len(thresholds), persons), dtype),
            sweep_true_alerts=np.zeros((len(thresholds), persons), dtype),
            impostor_hits=np.zeros(persons, dtype),
            mate_hits=np.zeros(persons, dtype),
            gallery_nonmated_alerts=np.zeros((len(fractions), persons), dtype),
            histogram=np.zeros((n_profiles, 2, len(SCORE_EDGES)), np.int64),
        )
        for spec in specs
    }
    by_name = {spec.name: spec for spec in specs}
    seen = 0

    def within(table: pa.Table) -> pa.Table:
        nonlocal seen
        seen += table.num_rows
        if seen > rows:
            raise ValueError(
                f"more than rows={rows:,} rows to count: {dtype} counts could overflow"
            )
        return table

    for table in map(within, decisions):
        for name, rows_of in _by_deployment(table):
            if name in counts and by_name[name].info.sweeps_thresholds:
                _count_decisions(rows_of, counts[name], profile, thresholds)
    for found in counts.values():
        _cumulate_levels(found.sweep_nonmated_alerts, thresholds)
        _cumulate_levels(found.sweep_true_alerts, thresholds)
    rank = {}
    listed = {}
    for spec in specs:
        if spec.searches_gallery:
            order = np.full(persons, -1, dtype=np.int64)
            order[spec.members] = rng.permutation(len(spec.members))
            rank[spec.name] = order
            # A member searched against the other members (`KindInfo.self_excluded`)
            # makes non-mated searches.
            listed[spec.name] = (order >= 0) & (not spec.info.self_excluded)
    for table in map(within, hits):
        for name, rows_of in _by_deployment(table):
            spec = by_name[name]
            _count_hits(rows_of, counts[name], spec, rank[name], listed[name], fractions)
    return counts


def count_type(most: int) -> np.dtype[np.signedinteger[Any]]:
    """The narrowest signed integer type that holds every count up to ``most``.

    Examples
    --------
    >>> [str(count_type(n)) for n in (127, 128, 2**31 - 1, 2**31)]
    ['int8', 'int16', 'int32', 'int64']
    """
    types = (np.int8, np.int16, np.int32, np.int64)
    return np.dtype(next((t for t in types if np.iinfo(t).max >= most), np.int64))


def _by_deployment(table: pa.Table) -> Iterable[tuple[str, dict[str, np.ndarray]]]:
    deployment = table.column("deployment").combine_chunks()
    codes = deployment.indices.to_numpy(zero_copy_only=False)
    names = deployment.dictionary.to_pylist()
    columns = {
        name: table.column(name).to_numpy() for name in table.column_names if name != "deployment"
    }
    for code, name in enumerate(names):
        mine = codes == code
        if mine.any():
            yield name, {column: values[mine] for column, values in columns.items()}


def _count_decisions(
    rows: dict[str, np.ndarray],
    counts: DeploymentCounts,
    profile: npt.NDArray[np.intp],
    thresholds: Sequence[float],
) -> None:
    detected = rows["detected"].astype(bool)
    person = rows["person_id"][detected]
    mated = rows["mated"][detected].astype(bool)
    score = rows["score"][detected]
    correct = rows["candidate_id"][detected] == person
    # Row k of the sweep counts holds, until `_cumulate_levels`, the scores whose
    # highest threshold reached is the k-th lowest: one sparse addition per row,
    # not a bincount over every person per threshold and row group.
    # In float32, as the pipeline decided: a score equal to float32(threshold)
    # alerts there, and must here too.
    level = np.zeros(len(score), np.intp)
    for threshold in thresholds:
        level += score >= np.float32(threshold)
    persons = len(profile)
    cell = (level - 1) * persons + person
    reached = level > 0
    # copy=False: adding into a copy would lose the counts silently.
    np.add.at(np.reshape(counts.sweep_nonmated_alerts, -1, copy=False), cell[reached & ~mated], 1)
    np.add.at(
        np.reshape(counts.sweep_true_alerts, -1, copy=False), cell[reached & mated & correct], 1
    )
    bins = _score_bins(score)
    # A mated search counts as returned only at scores where its mate is rank 1.
    bins = np.where(mated & ~correct, _NEVER, bins)
    # The histogram is small (profiles x 2 x bins): a dense bincount of its flat
    # cells is a fraction of `np.add.at` on three indices.
    cell = np.ravel_multi_index(
        (profile[person], mated.astype(np.intp), bins), counts.histogram.shape
    )
    counts.histogram += np.bincount(cell, minlength=counts.histogram.size).reshape(
        counts.histogram.shape
    )


def _score_bins(score: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.intp]:
    """Each score's histogram bin, as ``np.searchsorted(SCORE_EDGES, score, "right")``
    clipped to the bins 1 to 800, in a tenth of its time: the edges are evenly spaced,
    so arithmetic finds the bin to within one, and one comparison with the edge on
    either side settles it."""
    last = len(SCORE_EDGES) - 1
    width = (SCORE_EDGES[-1] - SCORE_EDGES[0]) / last
    guess = np.floor((score - SCORE_EDGES[0]) / width)
    found = np.clip(guess, 0, last - 1).astype(np.intp) + 1
    found += score >= SCORE_EDGES[found]
    found -= score < SCORE_EDGES[found - 1]
    return np.clip(found, 1, last)


def _cumulate_levels(
    levels: npt.NDArray[np.signedinteger[Any]], thresholds: Sequence[float]
) -> None:
    """Turn counts by highest sorted threshold reached into counts per threshold reached,
    in the order of ``thresholds``: the k-th lowest is reached by every score whose
    highest is it or above. In place, in the counts' own type (no sum exceeds ``rows``)."""
    order = np.argsort(np.asarray(thresholds, np.float32), kind="stable")
    levels[order] = np.cumsum(levels[::-1], axis=0, dtype=levels.dtype)[::-1]


def _count_hits(
    rows: dict[str, np.ndarray],
    counts: DeploymentCounts,
    spec: DeploymentSpec,
    rank: npt.NDArray[np.int64],
    listed: npt.NDArray[np.bool_],
    fractions: Sequence[float],
) -> None:
    person, candidate = rows["person_id"], rows["candidate_id"]
    matched = rows["score"] >= np.float32(spec.threshold)
    impostor = matched & (candidate != person)
    # Sparse additions: a row group holds far fewer hits than there are persons.
    np.add.at(counts.impostor_hits, person[impostor], 1)
    np.add.at(counts.mate_hits, person[matched & (candidate == person)], 1)
    counts.impostor_probe.append(person[impostor])
    counts.impostor_candidate.append(candidate[impostor])
    # Gallery-size sweep: a non-mated search (of someone not ``listed``, as mated
    # searchers are) alerts on a subsample when any of its matches is among the
    # subsample's members.
    nonmated = impostor & ~listed[person]
    events = rows["event_id"][nonmated]
    if len(events) == 0:
        return
    # The hits of one search are written together: each run of one event id is a search.
    starts = np.flatnonzero(np.r_[True, events[1:] != events[:-1]])
    best_rank = np.minimum.reduceat(rank[candidate[nonmated]], starts)
    searcher = person[nonmated][starts]
    for i, fraction in enumerate(fractions):
        kept = best_rank < fraction * len(spec.members)
        np.add.at(counts.gallery_nonmated_alerts[i], searcher[kept], 1)
