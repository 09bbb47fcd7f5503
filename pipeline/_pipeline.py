"""The matching pipeline: detection, encoding, search or verification, and decisions.

`Pipeline.process` takes one chunk of camera events and returns one decision per
(event, deployment) whose cameras saw it, while adding every decision to a
per-person `Tally` from which per-group rates are computed.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskclass import (
    BOOKING_PHOTO,
    CATEGORY,
    DEPLOYMENT,
    EVENT_ID,
    OUTCOMES,
    PERSON_ID,
    POPULATION_GALLERY,
    SCENARIO,
    ConfigError,
    Deployment,
    GroupKey,
    Scenario,
    Stream,
    category_array,
    one_blas_thread,
    rng_for,
)
from riskclass.synthetic import (
    EVENT_CHUNK_PERSONS,
    ConditionDraws,
    Conditions,
    EmbeddingModel,
    EventGenerator,
    condition_deficits,
)

from ._galleries import select_members
from ._investigation import TrajectorySearch
from ._thresholds import threshold_for_fpir
from .matching import Hits, Matcher, make_matcher

# Probe persons of a batch search per chunk: its photos, decisions and hits are
# made and written a chunk at a time, so memory follows the chunk.
_BATCH_CHUNK = 65_536
# OpenBLAS rounds a matrix product differently with different thread counts, so a
# run's scores (and near-tie candidates) would depend on the machine's cores. Every
# product here runs on one BLAS thread; the matcher and the encoder parallelize
# with their own threads, each also on one BLAS thread.
_P = ParamSpec("_P")
_R = TypeVar("_R")


# A search that returns `hits_per_search` comparisons may have more: it is searched
# again with four times the limit until none is cut, while a chunk's hits stay under
# this many (about 40 bytes each); searches still cut then are counted.
_MAX_CHUNK_HITS = 1 << 22


def _all_hits(
    matcher: Matcher, probes: npt.NDArray[np.float32], floor: float, limit: int
) -> tuple[Hits, int]:
    """Every comparison scoring at least ``floor``, and how many searches were still cut.

    Impostor rates and FNMR count these hits: a limit that cut some would count
    too few false matches where they are most frequent (a group with a high FMR
    against many members of its own group).
    """
    hits = matcher.search_hits(probes, floor, limit=limit)
    while True:
        per_probe = np.bincount(hits.probe, minlength=len(probes))
        cut = np.flatnonzero(per_probe >= limit)
        if len(cut) == 0 or limit >= matcher.size:
            return hits, 0
        if len(hits.probe) + 3 * limit * len(cut) > _MAX_CHUNK_HITS:
            return hits, len(cut)
        limit *= 4
        again = matcher.search_hits(probes[cut], floor, limit=limit)
        kept = per_probe[hits.probe] < limit // 4
        probe = np.concatenate([hits.probe[kept], cut[again.probe]])
        position = np.concatenate([hits.position[kept], again.position])
        score = np.concatenate([hits.score[kept], again.score])
        order = np.lexsort((position, -score, probe))
        hits = Hits(hits.best, hits.best_score, probe[order], position[order], score[order])


def _others_hits(
    matcher: Matcher,
    probes: npt.NDArray[np.float32],
    own: npt.NDArray[np.intp],
    floor: float,
    limit: int,
) -> tuple[Hits, int]:
    """`_all_hits` of probes that are gallery members themselves (``own``: each one's
    gallery position), searched against the other members: their own entries are
    left out of the hits and of each probe's best candidate."""
    hits, cut = _all_hits(matcher, probes, floor, limit + 1)
    others = hits.position != own[hits.probe]
    best, best_score = hits.best.copy(), hits.best_score.copy()
    # A probe's best is its own entry unless it fails to match it: then the best of
    # the others is its second, found by a search of those probes for two.
    again = np.flatnonzero(best == own)
    if len(again):
        top, score = matcher.search(probes[again], k=2)
        second = top[:, 0] == own[again]
        best[again] = np.where(second, top[:, 1], top[:, 0])
        best_score[again] = np.where(second, score[:, 1], score[:, 0])
    found = Hits(best, best_score, hits.probe[others], hits.position[others], hits.score[others])
    return found, cut


def _one_blas_thread(method: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(method)
    def on_one_thread(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with one_blas_thread():
            return method(*args, **kwargs)

    return on_one_thread


# ``candidate_id`` is the rank-1 candidate of a 1:N search whatever its score (so a
# lower threshold can be applied later), the claimed identity at a gate, and the
# target in an investigation; null when no face was detected.
DECISION_SCHEMA = pa.schema(
    [
        EVENT_ID,
        PERSON_ID,
        DEPLOYMENT,
        ("detected", pa.bool_()),
        ("mated", pa.bool_()),
        ("candidate_id", pa.int64()),
        ("score", pa.float32()),
        ("alert", pa.bool_()),
        ("outcome", CATEGORY),
        ("consequence", CATEGORY),
    ]
)

# Every 1:N comparison at or above the scenario's hit floor, for impostor rates and
# gallery-size sweeps: ``candidate_id`` is the gallery member compared. Its columns
# are the decisions' (a search's best hit is its decision's candidate), typed there once.
HITS_SCHEMA = pa.schema(
    DECISION_SCHEMA.field(name)
    for name in ("event_id", "person_id", "deployment", "candidate_id", "score")
)

# Per person and deployment. For access gates a search is a verification, an
# alert an accept, and a search is mated when the person claims their own identity.
# For investigations a search is one candidate capture of the person, mated when
# the person is the target, and an alert the reviewer's confirmation.
COUNTERS = (
    "events",
    "detected",
    "mated_searches",
    "nonmated_searches",
    "alerts",
    "true_alerts",
    "false_alerts",
    "nonmated_alerts",
)


@dataclass
class Tally:
    """Decision counts per deployment and person: ``counts[name][deployment, person - first]``.

    A whole run's tally starts at person 0; a chunk's, in a run split into tasks,
    at the first person of its band (see `Pipeline.process_apart`).
    """

    deployments: list[str]
    counts: dict[str, npt.NDArray[np.int64]]
    first: int = 0

    @classmethod
    def empty(cls, deployments: list[str], persons: int, first: int = 0) -> Tally:
        return cls(
            deployments,
            {name: np.zeros((len(deployments), persons), np.int64) for name in COUNTERS},
            first,
        )

    def add(
        self, deployment: int, person: npt.NDArray[np.int64], **flags: npt.NDArray[np.bool_]
    ) -> None:
        if len(person) == 0:
            return
        # A chunk covers a narrow band of person ids: count within that band, so
        # the cost follows the chunk, not the population.
        low, high = int(person.min()), int(person.max()) + 1
        offset = person - low
        band = slice(low - self.first, high - self.first)
        self.counts["events"][deployment, band] += np.bincount(offset, minlength=high - low)
        for name, flag in flags.items():
            self.counts[name][deployment, band] += np.bincount(offset[flag], minlength=high - low)

    def absorb(self, other: Tally) -> None:
        """Add ``other``'s counts, of the same deployments and of persons within these."""
        band = slice(other.first - self.first, other.first - self.first + other.persons)
        for name, counts in other.counts.items():
            self.counts[name][:, band] += counts

    @property
    def persons(self) -> int:
        return int(self.counts["events"].shape[1])

    def frame(self) -> pd.DataFrame:
        """Long table: one row per deployment and person, one column per counter."""
        n_persons = self.counts["events"].shape[1]
        frame = pd.DataFrame(
            {
                "deployment": pd.Categorical.from_codes(
                    np.repeat(np.arange(len(self.deployments)), n_persons),
                    categories=pd.Index(self.deployments),
                ),
                "person_id": np.tile(np.arange(n_persons, dtype=np.int64), len(self.deployments)),
            }
        )
        for name in COUNTERS:
            frame[name] = self.counts[name].ravel()
        return frame


@dataclass(frozen=True)
class ChunkResult:
    """Decisions on one chunk (``DECISION_SCHEMA``) and its 1:N hits (``HITS_SCHEMA``)."""

    decisions: pa.Table
    hits: pa.Table


@dataclass(frozen=True)
class ChunkState:
    """What deciding one chunk adds to a pipeline's state, kept apart from it
    (`Pipeline.process_apart`) to be added later (`Pipeline.absorb`).

    ``events``: the chunk's events; ``tally``: its counts, over the persons of
    its band; ``investigations``: each trajectory search over its captures alone,
    by deployment index, event ids as in the chunk; ``searches_cut``: see `_all_hits`.
    """

    events: int
    tally: Tally
    investigations: dict[int, TrajectorySearch]
    searches_cut: int


@dataclass(frozen=True)
class _Decisions:
    """What one deployment decided about a set of events, one entry per event."""

    event_id: npt.NDArray[np.int64]
    person: npt.NDArray[np.int64]
    detected: npt.NDArray[np.bool_]
    mated: npt.NDArray[np.bool_]
    candidate: npt.NDArray[np.int64]
    score: npt.NDArray[np.float32]
    alert: npt.NDArray[np.bool_]
    correct: npt.NDArray[np.bool_]


def enroll_templates(
    model: EmbeddingModel,
    identities: npt.NDArray[np.float32],
    groups: npt.NDArray[np.intp],
    seed: int,
    first: int = 0,
) -> npt.NDArray[np.float32]:
    """The enrollment (ID photo) templates of persons ``first .. first + n - 1``, of
    these ``identities``, taken under reference conditions.

    Each band of `EVENT_CHUNK_PERSONS` persons from its own stream, as their
    identities (`EmbeddingModel.person_identities`): the same whether enrolled alone
    or with the others.
    """
    templates = np.empty_like(identities)
    for start in range(0, len(templates), EVENT_CHUNK_PERSONS):
        rows = slice(start, start + EVENT_CHUNK_PERSONS)
        rng = rng_for(seed, Stream.GALLERIES, 1, (first + start) // EVENT_CHUNK_PERSONS)
        templates[rows] = model.observe(identities[rows], groups[rows], 1.0, rng, enrollment=True)
    return templates


@dataclass(frozen=True)
class Acquisition:
    """What the conditions of a set of captures did to them: how far each falls short
    of the reference conditions (`condition_deficits`), whether a usable face was
    acquired, and its ``scale`` and ``drift`` for `EmbeddingModel.observe`."""

    deficits: dict[str, npt.NDArray[np.float64]]
    detected: npt.NDArray[np.bool_]
    scale: npt.NDArray[np.float64]
    drift: npt.NDArray[np.float64]

    def encode(
        self,
        model: EmbeddingModel,
        identities: npt.NDArray[np.float32],
        person: npt.NDArray[np.int64],
        groups: npt.NDArray[np.intp],
        which: npt.NDArray[np.bool_] | npt.NDArray[np.intp],
        rng: np.random.Generator,
    ) -> npt.NDArray[np.float32]:
        """Embeddings of the captures ``which`` (a mask or positions) of ``person``
        (of error-rate ``groups``): one row each."""
        return model.observe(
            identities,
            groups[which],
            self.scale[which],
            rng,
            self.drift[which],
            rows=person[which],
        )


def acquire(
    model: EmbeddingModel,
    scenario: Scenario,
    conditions: Conditions,
    groups: npt.NDArray[np.intp],
    years: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> Acquisition:
    """Face acquisition of captures under ``conditions`` by persons of error-rate
    ``groups`` enrolled ``years`` ago: one uniform draw from ``rng`` per capture."""
    deficits = condition_deficits(
        scenario.algorithm.reference_conditions,
        face_px=conditions.face_px,
        illumination=conditions.illumination,
        pose_deg=conditions.pose_deg,
        blur_px=conditions.blur_px,
        years=years,
    )
    detected = rng.random(len(groups)) >= model.fta_probability(groups, deficits)
    scale, drift = model.capture_conditions(groups, deficits)
    return Acquisition(deficits, detected, scale, drift)


def deployment_cameras(deployment: Deployment, cameras: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Which cameras ``deployment`` runs on (its camera kinds and districts)."""
    # A batch search sees no camera: its probes are photos, searched in `Pipeline.finish`.
    mask = np.full(len(cameras), not deployment.info.batch)
    if deployment.camera_kinds is not None:
        mask &= cameras["kind"].isin(deployment.camera_kinds).to_numpy()
    if deployment.districts is not None:
        mask &= cameras["district"].isin(deployment.districts).to_numpy()
    return mask


def searchable_persons(
    scenario: Scenario, persons: pd.DataFrame, cameras: pd.DataFrame
) -> npt.NDArray[np.bool_]:
    """``(deployments, persons)``: whether each deployment's cameras can sight each
    person at all (`EventGenerator.reaches`). Rates per resident count only these:
    a resident who never passes a deployment's cameras bears none of its errors
    and would dilute the rate of their group."""
    generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
    masks = [deployment_cameras(d, cameras) for d in scenario.deployments]
    return np.array([generator.reaches(mask) for mask in masks], dtype=bool).reshape(
        len(masks), len(persons)
    )


def resolve_thresholds(
    scenario: Scenario,
    model: EmbeddingModel,
    groups: npt.NDArray[np.intp],
    members: dict[str, npt.NDArray[np.int64]],
) -> dict[str, float]:
    """Per deployment with an ``fpir`` target, the threshold that realizes it
    against its gallery's ``members`` (``groups``: each person's error-rate group),
    over searches by persons not on the gallery, or by its members against the
    others for a kind that searches them so (`KindInfo.self_excluded`)."""
    resolved = {}
    n_groups = len(model.groups)
    for index, deployment in enumerate(scenario.deployments):
        if deployment.fpir is None:
            continue
        listed = np.zeros(len(groups), dtype=bool)
        listed[members[deployment.gallery]] = True
        own = deployment.info.self_excluded
        searching = groups[listed if own else ~listed]
        resolved[deployment.name] = threshold_for_fpir(
            model,
            np.bincount(groups[listed], minlength=n_groups),
            np.bincount(searching, minlength=n_groups) / max(len(searching), 1),
            deployment.fpir,
            field=f"deployments.{index}.fpir",
            self_excluded=own,
        )
    return resolved


def select_galleries(scenario: Scenario, persons: pd.DataFrame) -> dict[str, npt.NDArray[np.int64]]:
    """The members of each gallery, each drawn from its own stream."""
    return {
        gallery.name: select_members(
            gallery,
            persons,
            rng_for(scenario.seed, Stream.GALLERIES, 0, index),
            field=f"galleries.{index}",
        )
        for index, gallery in enumerate(scenario.galleries)
    }


@dataclass(frozen=True)
class SharedEnrollment:
    """What every band of persons in a run shares, made once from the whole
    population (`EnrolledRun.enrollment`): each gallery's ``members`` and their
    ``templates``, the ``thresholds`` that ``fpir`` targets resolved to, and each
    investigation's ``targets`` (by deployment index: person ids and their photos).
    A gallery's size, not the population's."""

    members: dict[str, npt.NDArray[np.int64]]
    templates: dict[str, npt.NDArray[np.float32]]
    thresholds: dict[str, float]
    targets: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]


class EnrolledRun(ABC):
    """A run over the world: what it sets up before the first event, and what the
    subclass adds (`_start`).

    Sets up every person's error-rate group, years since enrollment, identity and
    enrolled template, the galleries' members, the thresholds solved for FPIR
    targets (``thresholds``), the scenario with them fixed (``_scenario``) and
    what bands of persons share (``enrollment``).

    Parameters
    ----------
    scenario, model, persons, cameras:
        The scenario (mechanisms applied), its calibrated embedding model and the
        world's tables.
    enrollment:
        Given when ``persons`` are the rows of one band of `EVENT_CHUNK_PERSONS`
        persons (a task of a run split by band): what the whole population's
        run enrolled (its `enrollment`). The run then decides that band's
        chunks alone, as the whole population's run decides them, holding
        the identities and templates of the band's persons and of the galleries only.
    """

    # One BLAS thread: encoding's matrix products then round the same on any
    # machine, and so do scores at the threshold.
    @_one_blas_thread
    def __init__(
        self,
        *,
        scenario: Scenario,
        model: EmbeddingModel,
        persons: pd.DataFrame,
        cameras: pd.DataFrame,
        enrollment: SharedEnrollment | None = None,
    ) -> None:
        self._model = model
        # Arrays per person hold this run's persons, ids ``_first`` onwards.
        self._first = 0 if enrollment is None else int(persons["person_id"].to_numpy()[0])
        self._groups = model.group_index(persons)
        self._years = persons["enrolled_years_ago"].to_numpy(np.float64)
        self._identities = model.person_identities(self._groups, self._first)
        self._templates = enroll_templates(
            model, self._identities, self._groups, scenario.seed, self._first
        )
        if enrollment is None:
            enrollment = self._enroll(scenario, persons)
        self.enrollment = enrollment
        self.members = enrollment.members
        self.thresholds = enrollment.thresholds
        self._scenario = scenario.with_thresholds(self.thresholds)
        self._start(persons, cameras)

    def _enroll(self, scenario: Scenario, persons: pd.DataFrame) -> SharedEnrollment:
        """The galleries, thresholds and investigation targets of the whole population."""
        members = select_galleries(scenario, persons)
        # Deployments with an FPIR target get their threshold now that galleries exist.
        thresholds = resolve_thresholds(scenario, self._model, self._groups, members)
        targets = {}
        for index, deployment in enumerate(scenario.deployments):
            if deployment.info.search != "captures":
                continue
            pool = (
                np.arange(len(self._templates))
                if deployment.gallery == POPULATION_GALLERY
                else members[deployment.gallery]
            )
            rng = rng_for(scenario.seed, Stream.REVIEW, index, 0)
            wanted = min(deployment.investigation_settings.targets, len(pool))
            chosen = np.sort(rng.choice(pool, size=wanted, replace=False))
            targets[index] = chosen, self._templates[chosen]
        templates = {name: self._templates[ids] for name, ids in members.items()}
        return SharedEnrollment(members, templates, thresholds, targets)

    @abstractmethod
    def _start(self, persons: pd.DataFrame, cameras: pd.DataFrame) -> None:
        """Set up what this kind of run needs besides the enrollment."""


class Pipeline(EnrolledRun):
    """Runs every deployment of a scenario over camera events (see `EnrolledRun`)."""

    def _start(self, persons: pd.DataFrame, cameras: pd.DataFrame) -> None:
        scenario, model = self._scenario, self._model
        self._deployments = scenario.deployments
        self._names = [d.name for d in scenario.deployments]
        self._camera_masks = [deployment_cameras(d, cameras) for d in scenario.deployments]
        self._matchers: dict[str, Matcher] = {
            name: make_matcher(templates, scenario.matching, seed=scenario.seed)
            for name, templates in self.enrollment.templates.items()
        }
        held = np.arange(self._first, self._first + len(persons))
        self._listed = {name: np.isin(held, members) for name, members in self.members.items()}
        self.tally = Tally.empty(self._names, len(persons), self._first)
        # Searches whose hits above the floor were more than could be kept (see `_all_hits`).
        self.searches_cut = 0
        self._hit_floor = scenario.hit_floor
        # Impostors at gates claim the identity of someone of their own group in their
        # own band of persons, so that a band's decisions need no other band's
        # templates. Persons are drawn independently of their ids, so a band is a
        # random sample of the population, and the claimed identity as random as one
        # drawn from the whole group. Per person, where their (band, group) starts in
        # `_by_group`, its size and their rank in it.
        key = (held // EVENT_CHUNK_PERSONS - self._first // EVENT_CHUNK_PERSONS) * len(
            model.groups
        ) + self._groups
        self._by_group = np.argsort(key, kind="stable")
        self._group_start = np.searchsorted(key[self._by_group], key)
        self._group_size = np.bincount(key)[key]
        self._group_rank = np.empty(len(persons), dtype=np.int64)
        self._group_rank[self._by_group] = np.arange(len(persons))
        self._group_rank -= self._group_start
        self._investigations = {
            index: TrajectorySearch(
                targets,
                photos,
                k=scenario.deployments[index].investigation_settings.candidates,
                threshold=scenario.deployments[index].threshold,
            )
            for index, (targets, photos) in self.enrollment.targets.items()
        }
        # Deployments that differ only in threshold see the same probes against the
        # same gallery: each chunk is searched once per (gallery, cameras), with the
        # number of its searches cut (counted once per chunk in `_counted`).
        self._chunk_searches: dict[tuple[object, ...], tuple[Hits, int]] = {}
        self._counted: set[tuple[object, ...]] = set()
        # Batch searches, by the first deployment of each set that searches the same
        # probe persons with the same photos (alternatives at other thresholds).
        self._batches: dict[int, list[int]] = {}
        for index, deployment in enumerate(scenario.deployments):
            # Validation makes every 1:N deployment name a drawn gallery; how many it
            # holds is known once drawn (a share of the population).
            if deployment.info.self_excluded and len(self.members[deployment.gallery]) < 2:
                raise ConfigError(
                    SCENARIO,
                    [
                        (
                            f"deployments.{index}.gallery",
                            f"{deployment.kind} searches each member "
                            "against the others: needs two members or more",
                        )
                    ],
                )
            if deployment.info.batch:
                first = next(
                    (i for i in self._batches if _same_batch(scenario.deployments[i], deployment)),
                    index,
                )
                self._batches.setdefault(first, []).append(index)
        self._persons = persons
        # Batch probe photos are not camera events: their ids follow the last event's.
        self._next_event_id = 0
        self._finished = False

    def alike(self, scenario: Scenario, persons: pd.DataFrame, cameras: pd.DataFrame) -> Pipeline:
        """A pipeline of ``scenario``, whose deployments differ from this one's in their
        thresholds at most (`alike_key`), over the same world and model: it shares
        the persons' identities and templates and the enrollment, and with
        `process_alike` each chunk's captures and 1:N searches. Its decisions are
        those of a pipeline of ``scenario`` alone: only they read the thresholds.

        Raises
        ------
        ValueError
            If ``scenario`` differs in more than thresholds.
        """
        if alike_key(scenario) != alike_key(self._scenario):
            raise ValueError("a pipeline alike differs in its deployments' thresholds only")
        other = copy.copy(self)
        other._scenario = scenario.with_thresholds(self.thresholds)
        other._start(persons, cameras)
        return other

    @_one_blas_thread
    def process(
        self, events: pa.Table, chunk: int, *, shared: _SharedChunk | None = None
    ) -> ChunkResult:
        """Decisions of every deployment on one chunk of events, and their 1:N hits.

        ``shared``: the chunk's captures and searches, made by the first of the
        pipelines alike that decides it (see `process_alike`).
        """
        if self._finished:
            raise RuntimeError("Pipeline.process after finish: the identities are released")
        rng = rng_for(self._scenario.seed, Stream.CAPTURES, chunk)
        camera = events.column("camera_id").to_numpy()
        all_ids = events.column("event_id").to_numpy()
        if len(all_ids):
            self._next_event_id = max(self._next_event_id, int(all_ids.max()) + 1)
        seen_by = [mask[camera] for mask in self._camera_masks]
        covered = np.logical_or.reduce(seen_by) if seen_by else np.zeros(len(camera), dtype=bool)
        rows = np.flatnonzero(covered)
        person = events.column("person_id").to_numpy()[rows]
        if shared is not None and shared.capture is not None:
            detected, faces = shared.capture
        else:
            detected, faces = self._capture(person, Conditions.of(events, rows), rng)
            if shared is not None:
                shared.capture = detected, faces
        # `faces` has a row for each detected capture only, in order. Each deployment
        # takes the faces its cameras saw (`compress` copies them at about twice the
        # speed of indexing with their positions).
        event_ids = all_ids[rows]
        self._chunk_searches = {} if shared is None else shared.searches
        self._counted = set()
        tables: list[pa.Table] = []
        hits: list[pa.Table] = []
        for index, deployment in enumerate(self._deployments):
            mine = seen_by[index][rows]
            if deployment.info.batch:
                continue
            captured = mine & detected
            probes = faces.compress(mine[detected], axis=0)
            if index in self._investigations:
                self._investigations[index].update(event_ids[captured], person[captured], probes)
                continue
            mine_detected = detected[mine]
            if deployment.info.search == "claim":
                impostor_rng = rng_for(self._scenario.seed, Stream.IMPOSTORS, chunk, index)
                decisions = self._verify(
                    deployment,
                    event_ids[mine],
                    person[mine],
                    mine_detected,
                    probes,
                    impostor_rng,
                )
            else:
                decisions, found = self._identify(
                    index, deployment, event_ids[mine], person[mine], mine_detected, probes
                )
                hits.append(found)
            tables.append(self._record(index, deployment, decisions))
        return ChunkResult(
            pa.concat_tables([DECISION_SCHEMA.empty_table(), *tables]),
            pa.concat_tables([HITS_SCHEMA.empty_table(), *hits]),
        )

    def process_apart(self, events: pa.Table, chunk: int) -> tuple[ChunkResult, ChunkState]:
        """`process` of chunk ``chunk`` on its own, as a task of a run split across
        processes does: what it adds to the tally, the investigations and the count
        of cut searches is returned rather than added, for `absorb` to add in a
        pipeline that has seen the chunks before it. Decisions on a chunk depend on
        no other chunk: the random streams are the chunk's own."""
        person = events.column("person_id").to_numpy()
        first = int(person.min()) if len(person) else 0
        width = int(person.max()) + 1 - first if len(person) else 0
        kept = self.tally, self._investigations, self.searches_cut
        self.tally = Tally.empty(self._names, width, first)
        self._investigations = {i: search.emptied() for i, search in kept[1].items()}
        self.searches_cut = 0
        try:
            result = self.process(events, chunk)
            state = ChunkState(events.num_rows, self.tally, self._investigations, self.searches_cut)
        finally:
            self.tally, self._investigations, self.searches_cut = kept
        return result, state

    def absorb(self, state: ChunkState, first_event_id: int) -> None:
        """Add what `process_apart` returned for the next chunk, whose events the
        run numbers from ``first_event_id`` (the chunk numbered them from 0): the
        pipeline is then as if `process` had decided the chunk."""
        self.tally.absorb(state.tally)
        for index, search in state.investigations.items():
            self._investigations[index].merge(search, first_event_id)
        self.searches_cut += state.searches_cut
        if state.events:
            self._next_event_id = max(self._next_event_id, first_event_id + state.events)

    def _capture(
        self, person: npt.NDArray[np.int64], conditions: Conditions, rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
        """Whether a face is acquired in each capture, and the embeddings of the acquired
        faces (one row each, in order: only detected faces are encoded)."""
        row = person - self._first
        groups = self._groups[row]
        capture = acquire(self._model, self._scenario, conditions, groups, self._years[row], rng)
        faces = capture.encode(self._model, self._identities, row, groups, capture.detected, rng)
        return capture.detected, faces

    def finish(self) -> Iterator[ChunkResult]:
        """What can be decided only once every chunk of events is seen, a chunk at a time.

        First the investigations: one row per candidate capture returned to the
        reviewer; ``candidate_id`` is the target, ``alert`` the reviewer's
        confirmation. Then the batch searches: one row per probe photo, with event
        ids that follow the last camera event's (shared by alternatives, which
        search the same photos).
        """
        yield ChunkResult(self._investigated(), HITS_SCHEMA.empty_table())
        for first, indices in self._batches.items():
            settings = self._deployments[first].batch_settings
            persons = np.flatnonzero(self._probes(first)).astype(np.int64)
            kind = settings.camera_kind
            draws = ConditionDraws([self._scenario.camera_kinds[kind] if kind else BOOKING_PHOTO])
            for chunk, start in enumerate(range(0, len(persons), _BATCH_CHUNK)):
                rng = rng_for(self._scenario.seed, Stream.BATCH, first, chunk)
                person = persons[start : start + _BATCH_CHUNK]
                event_ids = self._next_event_id + start + np.arange(len(person), dtype=np.int64)
                yield self._batch_chunk(indices, person, event_ids, draws, rng)
            self._next_event_id += len(persons)
        # A finished pipeline takes no more events: it lets go of every person's identity
        # and enrollment template (1 KB a person, 1 GB at a million) before the run adds
        # up its tallies.
        self._finished = True
        self._identities = self._templates = np.empty((0, 0), dtype=np.float32)

    def _probes(self, index: int) -> npt.NDArray[np.bool_]:
        """The probe persons of batch deployment ``index``: its ``probes`` group, else
        everyone not on its gallery; for a kind that searches members against the
        others (`KindInfo.self_excluded`), the members, of its ``probes`` group if given."""
        deployment = self._deployments[index]
        listed = self._listed[deployment.gallery]
        own = deployment.info.self_excluded
        probes = deployment.batch_settings.probes
        if probes is None:
            return listed if own else ~listed
        group = GroupKey.parse(probes).mask(self._persons)
        return group & listed if own else group

    def searchable(self, cameras: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """``(deployments, persons)``: whom each deployment can search at all, the
        denominator of rates per resident: a batch search's probe persons, and for
        any other deployment the persons its cameras can sight (`searchable_persons`)."""
        reach = searchable_persons(self._scenario, self._persons, cameras)
        for index, deployment in enumerate(self._deployments):
            if deployment.info.batch:
                reach[index] = self._probes(index)
        return reach

    @_one_blas_thread
    def _batch_chunk(
        self,
        indices: list[int],
        person: npt.NDArray[np.int64],
        event_ids: npt.NDArray[np.int64],
        draws: ConditionDraws,
        rng: np.random.Generator,
    ) -> ChunkResult:
        """One photo of each ``person``, searched by each batch deployment of ``indices``."""
        profile = np.asarray(self._scenario.mobility.hour_profile)
        hour = rng.choice(len(profile), size=len(person), p=profile / profile.sum())
        conditions = draws.draw(rng, np.zeros(len(person), dtype=np.intp), hour)
        detected, probes = self._capture(person, conditions, rng)
        self._chunk_searches, self._counted = {}, set()
        tables, hits = [DECISION_SCHEMA.empty_table()], [HITS_SCHEMA.empty_table()]
        for index in indices:
            deployment = self._deployments[index]
            decisions, found = self._identify(
                index, deployment, event_ids, person, detected, probes
            )
            tables.append(self._record(index, deployment, decisions))
            hits.append(found)
        return ChunkResult(pa.concat_tables(tables), pa.concat_tables(hits))

    @_one_blas_thread
    def _investigated(self) -> pa.Table:
        """Decisions of the investigations, once every capture has been seen."""
        tables = [DECISION_SCHEMA.empty_table()]
        for index, search in self._investigations.items():
            deployment = self._deployments[index]
            found = search.candidates()
            mated = found.person_id == found.target
            reviewer = deployment.investigation_settings.reviewer
            if reviewer is None:
                alert = np.ones(len(mated), dtype=bool)
            else:
                rng = rng_for(self._scenario.seed, Stream.REVIEW, index, 1)
                confirms = np.where(mated, reviewer.confirms_target, reviewer.confirms_other)
                alert = rng.random(len(mated)) < confirms
            decisions = _Decisions(
                found.event_id,
                found.person_id,
                np.ones(len(mated), dtype=bool),
                mated,
                found.target,
                found.score,
                alert,
                mated,
            )
            tables.append(self._record(index, deployment, decisions))
        return pa.concat_tables(tables)

    def _identify(
        self,
        index: int,
        deployment: Deployment,
        event_ids: npt.NDArray[np.int64],
        person: npt.NDArray[np.int64],
        detected: npt.NDArray[np.bool_],
        probes: npt.NDArray[np.float32],
    ) -> tuple[_Decisions, pa.Table]:
        """1:N search of the detected faces against the deployment's gallery.

        ``probes`` has a row for each detected event only, in order. A kind that
        searches members against the others (`KindInfo.self_excluded`) leaves each
        probe's own entry out: none of its searches is mated.
        """
        members = self.members[deployment.gallery]
        own = deployment.info.self_excluded
        key = (deployment.gallery, own, str(deployment.camera_kinds), str(deployment.districts))
        if key not in self._chunk_searches:
            matcher = self._matchers[deployment.gallery]
            limit = self._scenario.report.hits_per_search
            if own:
                positions = np.searchsorted(members, person[detected])
                hits, cut = _others_hits(matcher, probes, positions, self._hit_floor, limit)
            else:
                hits, cut = _all_hits(matcher, probes, self._hit_floor, limit)
            self._chunk_searches[key] = hits, cut
        result, cut = self._chunk_searches[key]
        if key not in self._counted:
            self._counted.add(key)
            self.searches_cut += cut
        found = np.full(len(person), -1, dtype=np.int64)
        score = np.full(len(person), np.nan, dtype=np.float32)
        found[detected], score[detected] = members[result.best], result.best_score
        alert = detected & (score >= self._scenario.threshold_of(deployment))
        decisions = _Decisions(
            event_ids,
            person,
            detected,
            detected & self._listed[deployment.gallery][person - self._first] & (not own),
            found,
            score,
            alert,
            found == person,
        )
        searched = np.flatnonzero(detected)[result.probe]
        hits = pa.table(
            {
                "event_id": event_ids[searched],
                "person_id": person[searched],
                "deployment": category_array(np.full(len(searched), index), self._names),
                "candidate_id": members[result.position],
                "score": result.score,
            },
            schema=HITS_SCHEMA,
        )
        return decisions, hits

    def _verify(
        self,
        deployment: Deployment,
        event_ids: npt.NDArray[np.int64],
        person: npt.NDArray[np.int64],
        detected: npt.NDArray[np.bool_],
        probes: npt.NDArray[np.float32],
        rng: np.random.Generator,
    ) -> _Decisions:
        """1:1 verification of each face against the identity its credential claims.

        ``probes`` has a row for each detected event only, in order.
        """
        claimed = person.copy()
        impostor = rng.random(len(person)) < deployment.impostor_share
        if impostor.any():
            presenter = person[impostor] - self._first
            # A uniform draw among the group's other members: skip over the presenter.
            others = self._group_size[presenter] - 1
            rank = (rng.random(len(presenter)) * others).astype(np.int64)
            rank += rank >= self._group_rank[presenter]
            rank = np.minimum(rank, self._group_size[presenter] - 1)
            claimed[impostor] = self._first + self._by_group[self._group_start[presenter] + rank]
        score = np.full(len(person), np.nan, dtype=np.float32)
        claimed_rows = claimed[detected] - self._first
        score[detected] = np.einsum("ij,ij->i", probes, self._templates[claimed_rows])
        accept = detected & (score >= self._scenario.threshold_of(deployment))
        mated = claimed == person
        return _Decisions(
            event_ids,
            person,
            detected,
            mated,
            np.where(detected, claimed, -1),
            score,
            accept,
            accept & mated,
        )

    def _record(self, index: int, deployment: Deployment, decisions: _Decisions) -> pa.Table:
        """Count decisions per person and lay them out as ``DECISION_SCHEMA`` rows."""
        d = decisions
        outcome = _outcomes(deployment, d.detected, d.alert, d.mated, d.correct)
        self.tally.add(
            index,
            d.person,
            detected=d.detected,
            mated_searches=d.detected & d.mated,
            nonmated_searches=d.detected & ~d.mated,
            alerts=d.alert,
            true_alerts=d.alert & d.correct,
            false_alerts=d.alert & ~d.correct,
            nonmated_alerts=d.alert & ~d.mated,
        )
        consequences = deployment.outcome_consequences
        labels = sorted(set(consequences.values()))
        consequence_codes = np.array(
            [labels.index(consequences[o]) if o in consequences else -1 for o in OUTCOMES]
        )
        n = len(d.person)
        return pa.table(
            {
                "event_id": d.event_id,
                "person_id": d.person,
                "deployment": category_array(np.full(n, index), self._names),
                "detected": d.detected,
                "mated": d.mated,
                "candidate_id": pa.array(d.candidate, mask=d.candidate < 0),
                "score": pa.array(d.score, mask=np.isnan(d.score)),
                "alert": d.alert,
                "outcome": category_array(outcome, list(OUTCOMES)),
                "consequence": category_array(consequence_codes[outcome], labels),
            },
            schema=DECISION_SCHEMA,
        )


@dataclass
class _SharedChunk:
    """What pipelines alike share of the chunk they decide: its captures (whether
    each face was acquired, and the acquired faces) and its 1:N searches."""

    capture: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]] | None = None
    searches: dict[tuple[object, ...], tuple[Hits, int]] = field(default_factory=dict)


def process_alike(pipelines: Sequence[Pipeline], events: pa.Table, chunk: int) -> list[ChunkResult]:
    """`Pipeline.process` of one chunk by each of ``pipelines`` (the first and those
    made by its `Pipeline.alike`), capturing and searching the chunk once."""
    shared = _SharedChunk()
    return [pipeline.process(events, chunk, shared=shared) for pipeline in pipelines]


def alike_key(scenario: Scenario) -> str:
    """What a run's captures, searches and every file but its decisions depend on: a
    hash of ``scenario`` (mechanisms applied) but for its deployments' thresholds, with
    the lowest score its hits keep (`Scenario.hit_floor`, over the thresholds given;
    those that ``fpir`` targets resolve to are the same in runs alike). Runs with
    the same key share those (`Pipeline.alike`)."""
    data = scenario.model_dump(mode="json")
    for deployment in data["deployments"]:
        deployment.pop("threshold")
    given = [scenario.threshold_of(d) for d in scenario.deployments if d.fpir is None]
    data["hit_floor"] = min([*scenario.sweep, *given])
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _same_batch(first: Deployment, other: Deployment) -> bool:
    """Whether two batch searches search the same persons with the same photos."""
    return (
        first.kind == other.kind
        and first.gallery == other.gallery
        and first.batch_settings == other.batch_settings
    )


def _outcomes(
    deployment: Deployment,
    detected: npt.NDArray[np.bool_],
    alert: npt.NDArray[np.bool_],
    mated: npt.NDArray[np.bool_],
    correct: npt.NDArray[np.bool_],
) -> npt.NDArray[np.intp]:
    code = {name: i for i, name in enumerate(OUTCOMES)}
    if deployment.info.search == "claim":
        decided = np.select(
            [alert & mated, mated, alert],
            [code["true_accept"], code["false_reject"], code["false_accept"]],
            default=code["true_reject"],
        )
    else:
        decided = np.select(
            [alert & correct, alert, mated],
            [code["true_alert"], code["false_alert"], code["miss"]],
            default=code["no_alert"],
        )
    return np.where(detected, decided, code["not_detected"])
