"""The matching pipeline: detection, encoding, search or verification, and decisions.

`Pipeline.process` takes one chunk of camera events and returns one decision per
(event, deployment) whose cameras saw it, while adding every decision to a
per-person `Tally` from which per-group rates are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskclass._arrow import CATEGORY, category_array
from riskclass._config import OUTCOMES, Deployment, Scenario
from riskclass._seeds import Stream, rng_for
from riskclass.synthetic import EmbeddingModel, condition_deficits

from ._galleries import select_members
from ._matcher import ExactMatcher, Matcher

_TEMPLATE_BLOCK = 65_536

DECISION_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("person_id", pa.int64()),
        ("deployment", CATEGORY),
        ("detected", pa.bool_()),
        ("mated", pa.bool_()),
        ("candidate_id", pa.int64()),
        ("score", pa.float32()),
        ("alert", pa.bool_()),
        ("outcome", CATEGORY),
        ("consequence", CATEGORY),
    ]
)

# Per person and deployment. For access gates a search is a verification, an
# alert an accept, and every search is mated (the person claims their own identity).
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
    """Decision counts per deployment and person: ``counts[name][deployment, person]``."""

    deployments: list[str]
    counts: dict[str, npt.NDArray[np.int64]]

    @classmethod
    def empty(cls, deployments: list[str], persons: int) -> Tally:
        return cls(
            deployments,
            {name: np.zeros((len(deployments), persons), np.int64) for name in COUNTERS},
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
        self.counts["events"][deployment, low:high] += np.bincount(offset, minlength=high - low)
        for name, flag in flags.items():
            self.counts[name][deployment, low:high] += np.bincount(
                offset[flag], minlength=high - low
            )

    def frame(self) -> pd.DataFrame:
        """Long table: one row per deployment and person, one column per counter."""
        n_persons = self.counts["events"].shape[1]
        frame = pd.DataFrame(
            {
                "deployment": pd.Categorical.from_codes(
                    np.repeat(np.arange(len(self.deployments)), n_persons),
                    categories=self.deployments,
                ),
                "person_id": np.tile(np.arange(n_persons, dtype=np.int64), len(self.deployments)),
            }
        )
        for name in COUNTERS:
            frame[name] = self.counts[name].ravel()
        return frame


@dataclass(frozen=True)
class _Search:
    """What one deployment decided about the events it saw."""

    candidate: npt.NDArray[np.int64]
    score: npt.NDArray[np.float32]
    alert: npt.NDArray[np.bool_]
    mated: npt.NDArray[np.bool_]
    correct: npt.NDArray[np.bool_]


class Pipeline:
    """Runs every deployment of a scenario over camera events.

    Parameters
    ----------
    scenario, model, persons, cameras:
        The scenario, its calibrated embedding model and the world's tables.
    """

    def __init__(
        self,
        *,
        scenario: Scenario,
        model: EmbeddingModel,
        persons: pd.DataFrame,
        cameras: pd.DataFrame,
    ) -> None:
        self._scenario = scenario
        self._model = model
        self._groups = model.group_index(persons)
        self._years = persons["enrolled_years_ago"].to_numpy(np.float64)
        self._identities = model.person_identities(self._groups)
        self._templates = self._enroll()
        self._deployments = scenario.deployments
        self._names = [d.name for d in scenario.deployments]
        self._camera_masks = [self._cameras_of(d, cameras) for d in scenario.deployments]
        self.members: dict[str, npt.NDArray[np.int64]] = {}
        self._matchers: dict[str, Matcher] = {}
        self._listed: dict[str, npt.NDArray[np.bool_]] = {}
        for index, gallery in enumerate(scenario.galleries):
            rng = rng_for(scenario.seed, Stream.GALLERIES, 0, index)
            members = select_members(gallery, persons, rng, field=f"galleries.{index}")
            self.members[gallery.name] = members
            self._matchers[gallery.name] = ExactMatcher(self._templates[members])
            listed = np.zeros(len(persons), dtype=bool)
            listed[members] = True
            self._listed[gallery.name] = listed
        self.tally = Tally.empty(self._names, len(persons))
        # Deployments that differ only in threshold see the same probes against the
        # same gallery: each chunk is searched once per (gallery, cameras).
        self._chunk_searches: dict[
            tuple[object, ...], tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]
        ] = {}

    def _enroll(self) -> npt.NDArray[np.float32]:
        """Everyone's enrollment (ID photo) template, taken under reference conditions."""
        templates = np.empty_like(self._identities)
        for block, start in enumerate(range(0, len(templates), _TEMPLATE_BLOCK)):
            rows = slice(start, start + _TEMPLATE_BLOCK)
            rng = rng_for(self._scenario.seed, Stream.GALLERIES, 1, block)
            templates[rows] = self._model.observe(
                self._identities[rows], self._groups[rows], 1.0, rng
            )
        return templates

    def _cameras_of(self, deployment: Deployment, cameras: pd.DataFrame) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(cameras), dtype=bool)
        if deployment.camera_kinds is not None:
            mask &= cameras["kind"].isin(deployment.camera_kinds).to_numpy()
        if deployment.districts is not None:
            mask &= cameras["district"].isin(deployment.districts).to_numpy()
        return mask

    def process(self, events: pa.Table, chunk: int) -> pa.Table:
        """Decisions of every deployment on one chunk of events (``DECISION_SCHEMA``)."""
        rng = rng_for(self._scenario.seed, Stream.CAPTURES, chunk)
        camera = events.column("camera_id").to_numpy()
        seen_by = [mask[camera] for mask in self._camera_masks]
        covered = np.logical_or.reduce(seen_by) if seen_by else np.zeros(len(camera), dtype=bool)
        rows = np.flatnonzero(covered)
        person = events.column("person_id").to_numpy()[rows]
        groups = self._groups[person]
        deficits = condition_deficits(
            self._scenario.algorithm.reference_conditions,
            face_px=events.column("face_px").to_numpy()[rows],
            illumination=events.column("illumination").to_numpy()[rows],
            pose_deg=events.column("pose_deg").to_numpy()[rows],
            blur_px=events.column("blur_px").to_numpy()[rows],
            years=self._years[person],
        )
        detected = rng.random(len(rows)) >= self._model.fta_probability(groups, deficits)
        probes = np.zeros((len(rows), self._identities.shape[1]), dtype=np.float32)
        scale = self._model.noise_scale(deficits)
        probes[detected] = self._model.observe(
            self._identities[person[detected]], groups[detected], scale[detected], rng
        )
        event_ids = events.column("event_id").to_numpy()[rows]
        self._chunk_searches.clear()
        tables = []
        for index, deployment in enumerate(self._deployments):
            mine = seen_by[index][rows]
            tables.append(
                self._decide(
                    index, deployment, event_ids[mine], person[mine], detected[mine], probes[mine]
                )
            )
        return pa.concat_tables(tables) if tables else DECISION_SCHEMA.empty_table()

    def _decide(
        self,
        index: int,
        deployment: Deployment,
        event_ids: npt.NDArray[np.int64],
        person: npt.NDArray[np.int64],
        detected: npt.NDArray[np.bool_],
        probes: npt.NDArray[np.float32],
    ) -> pa.Table:
        threshold = (
            deployment.threshold if deployment.threshold is not None else self._model.threshold
        )
        search = self._search(deployment, person[detected], probes[detected], threshold)
        n = len(person)
        candidate = np.full(n, -1, dtype=np.int64)
        score = np.full(n, np.nan, dtype=np.float32)
        alert = np.zeros(n, dtype=bool)
        mated = np.zeros(n, dtype=bool)
        correct = np.zeros(n, dtype=bool)
        candidate[detected], score[detected], alert[detected] = (
            search.candidate,
            search.score,
            search.alert,
        )
        mated[detected], correct[detected] = search.mated, search.correct
        if deployment.kind == "access_gate":
            mated[:] = True
        outcome = _outcomes(deployment, detected, alert, mated, correct)
        self.tally.add(
            index,
            person,
            detected=detected,
            mated_searches=detected & mated,
            nonmated_searches=detected & ~mated,
            alerts=alert,
            true_alerts=alert & correct,
            false_alerts=alert & ~correct,
            nonmated_alerts=alert & ~mated,
        )
        consequences = deployment.outcome_consequences
        labels = sorted(set(consequences.values()))
        consequence_codes = np.array(
            [labels.index(consequences[o]) if o in consequences else -1 for o in OUTCOMES]
        )
        return pa.table(
            {
                "event_id": event_ids,
                "person_id": person,
                "deployment": category_array(np.full(n, index), self._names),
                "detected": detected,
                "mated": mated,
                "candidate_id": pa.array(candidate, mask=candidate < 0),
                "score": pa.array(score, mask=np.isnan(score)),
                "alert": alert,
                "outcome": category_array(outcome, list(OUTCOMES)),
                "consequence": category_array(consequence_codes[outcome], labels),
            },
            schema=DECISION_SCHEMA,
        )

    def _search(
        self,
        deployment: Deployment,
        person: npt.NDArray[np.int64],
        probes: npt.NDArray[np.float32],
        threshold: float,
    ) -> _Search:
        if deployment.kind == "access_gate":
            score = np.einsum("ij,ij->i", probes, self._templates[person])
            accept = score >= threshold
            return _Search(
                np.where(accept, person, -1), score, accept, np.ones(len(person), bool), accept
            )
        members = self.members[deployment.gallery]
        key = (deployment.gallery, str(deployment.camera_kinds), str(deployment.districts))
        if key not in self._chunk_searches:
            self._chunk_searches[key] = self._matchers[deployment.gallery].search(probes, k=1)
        positions, scores = self._chunk_searches[key]
        candidate, score = members[positions[:, 0]], scores[:, 0]
        alert = score >= threshold
        return _Search(
            np.where(alert, candidate, -1),
            score,
            alert,
            self._listed[deployment.gallery][person],
            candidate == person,
        )


def _outcomes(
    deployment: Deployment,
    detected: npt.NDArray[np.bool_],
    alert: npt.NDArray[np.bool_],
    mated: npt.NDArray[np.bool_],
    correct: npt.NDArray[np.bool_],
) -> npt.NDArray[np.intp]:
    code = {name: i for i, name in enumerate(OUTCOMES)}
    if deployment.kind == "access_gate":
        decided = np.where(alert, code["true_accept"], code["false_reject"])
    else:
        decided = np.select(
            [alert & correct, alert, mated],
            [code["true_alert"], code["false_alert"], code["miss"]],
            default=code["no_alert"],
        )
    return np.where(detected, decided, code["not_detected"])
