"""Risk positions over time: periods of sightings and decisions, standing between them.

Each period draws its camera events as a run does (the same generator, with each
person's rate times their exposure factor for the period), decides each sighting
of each deployment, and counts the outcomes per person. Between periods the
outcomes make records, records move the score, and the rules list persons on
galleries (`Standing`). With feedback, the next period searches the galleries
with those listings in them, so a wrongly listed person is found as a "mate" at
every pass, and exposure follows the score (scrutiny, fast lanes).

Decisions are drawn from the calibrated model rather than searched: a run of
26 weeks of 100,000 persons sees about 30 million captures, and the event-stream
pipeline's streaming stage takes about 24 s per week of the default 100,000-person
city on this project's two cores (README, Performance): over ten minutes for the
captures alone, with 30 million decisions to write.
A non-mated search (a person not on the gallery) alerts with the model's closed-
form FPIR against the gallery's members, ``1 - prod over members of (1 - FMR)``
(the formula `expected_fpir` uses, with FMR at the capture's conditions as the
drift table holds it); a mated search (a person on the gallery) and a gate's
verification compare a capture encoded with `EmbeddingModel.observe` with the
person's enrollment template, as the pipeline does. Alerts of a mated search on
someone else, and impostors at gates, are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskclass import (
    DEPLOYMENT,
    PERIOD,
    PERSON_ID,
    Dynamics,
    Stream,
    category_array,
    resolve_by_group,
    rng_for,
)
from riskclass.synthetic import Conditions, EventGenerator, weighted_deficit

from ._pipeline import (
    EnrolledRun,
    _one_blas_thread,
    acquire,
    deployment_cameras,
)
from ._standing import LISTING_SCHEMA, Standing

# Per deployment and person, what one period's sightings came to. ``skipped``:
# screenings a fast lane skipped; ``searches``: detected faces searched or
# verified; ``rightful_alerts``: alerts on a person on the gallery by the draw or
# by a rightful listing; ``wrongful_alerts``: alerts on a person on it by a
# wrongful listing; ``false_alerts``: alerts on a person not on it;
# ``false_rejects`` and ``not_detected``: a gate's genuine resident turned away.
OUTCOME_COUNTS = (
    "skipped",
    "searches",
    "rightful_alerts",
    "wrongful_alerts",
    "false_alerts",
    "false_rejects",
    "not_detected",
)
# The outcome (`OUTCOMES`) each count is, for records and consequences.
COUNT_OUTCOME = {
    "rightful_alerts": "true_alert",
    "wrongful_alerts": "true_alert",
    "false_alerts": "false_alert",
    "false_rejects": "false_reject",
    "not_detected": "not_detected",
}
WRONGFUL_COUNTS = ("wrongful_alerts", "false_alerts", "false_rejects", "not_detected")

PERIOD_OUTCOME_SCHEMA = pa.schema(
    [
        PERIOD,
        PERSON_ID,
        DEPLOYMENT,
        *((name, pa.int32()) for name in OUTCOME_COUNTS),
        ("records", pa.int32()),
        ("rightful_records", pa.int32()),
        ("damages", pa.float64()),
    ]
)

# Per person. ``records`` and ``damages`` are the person's outcomes summed over the
# deployments, and ``score`` the one a listing records: typed there once.
STANDING_SCHEMA = pa.schema(
    [
        PERIOD,
        PERSON_ID,
        ("escaped", pa.bool_()),
        ("scrutiny", pa.bool_()),
        ("fast_lane", pa.bool_()),
        PERIOD_OUTCOME_SCHEMA.field("records"),
        ("wrongful_records", pa.int32()),
        LISTING_SCHEMA.field("score"),
        ("listed", pa.int8()),
        ("wrongly_listed", pa.int8()),
        ("benefits", pa.float64()),
        PERIOD_OUTCOME_SCHEMA.field("damages"),
    ]
)


@dataclass(frozen=True)
class PeriodResult:
    """One period's tables: ``standing`` (`STANDING_SCHEMA`, one row per person),
    ``listings`` (`LISTING_SCHEMA`, those made after it) and ``outcomes``
    (`PERIOD_OUTCOME_SCHEMA`, per person and deployment with any sighting)."""

    standing: pa.Table
    listings: pa.Table
    outcomes: pa.Table


class DynamicsRun(EnrolledRun):
    """Runs a scenario with ``dynamics`` period by period (see `EnrolledRun`)."""

    def _start(self, persons: pd.DataFrame, cameras: pd.DataFrame) -> None:
        scenario, model = self._scenario, self._model
        settings = scenario.dynamics
        assert settings is not None
        self._settings: Dynamics = settings
        self._feedback = scenario.mechanisms.feedback
        self._generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
        deployments = scenario.deployments
        self.names = [d.name for d in deployments]
        self._masks = [deployment_cameras(d, cameras) for d in deployments]
        galleries = list(self.members)
        self._gallery_of = [
            galleries.index(d.gallery) if d.info.searches_gallery else -1 for d in deployments
        ]
        self._threshold = [scenario.threshold_of(d) for d in deployments]
        n_groups = len(model.groups)
        # Per deployment, (enrolled group, probe group): log of the share of members
        # of one group that a probe of the other does not match.
        self._log_clear_per_member: list[npt.NDArray[np.float64]] = [
            np.array(
                [
                    [
                        np.log1p(-float(model.impostor_fmr(h, g, threshold=t)))
                        for g in range(n_groups)
                    ]
                    for h in range(n_groups)
                ]
            )
            for t in self._threshold
        ]
        self._standing = Standing.start(settings, self.members, len(persons))
        self._escaped = self._draw_escape(persons)
        self._record_odds = np.array(
            [
                [
                    settings.records.get(name, {}).get(COUNT_OUTCOME.get(c, ""), 0.0)
                    for c in OUTCOME_COUNTS
                ]
                for name in self.names
            ]
        )
        costs = scenario.report.costs
        self._damage_cost = np.array(
            [
                [
                    costs.get(d.outcome_consequences[COUNT_OUTCOME[c]], 1.0)
                    if c in WRONGFUL_COUNTS and COUNT_OUTCOME[c] in d.outcome_consequences
                    else 0.0
                    for c in OUTCOME_COUNTS
                ]
                for d in deployments
            ]
        )
        fast = settings.fast_lane
        self._fast_deployments = np.array(
            [fast is not None and name in fast.deployments for name in self.names]
        )

    def _draw_escape(self, persons: pd.DataFrame) -> npt.NDArray[np.bool_]:
        escape = self._settings.escape
        if escape is None:
            return np.zeros(len(persons), dtype=bool)
        share = np.array(resolve_by_group(escape.share, persons, default=0.0))
        rng = rng_for(self._scenario.seed, Stream.DYNAMICS, 0)
        escaped: npt.NDArray[np.bool_] = rng.random(len(persons)) < share
        return escaped

    @property
    def galleries(self) -> list[str]:
        return self._standing.galleries

    @property
    def periods(self) -> int:
        return self._scenario.periods

    def run(self) -> Iterator[PeriodResult]:
        """Each period's tables, in order; standing moves on as each is taken."""
        for period in range(self.periods):
            yield self._period(period)

    def _exposure(self, period: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Who is under scrutiny and who has a fast lane in ``period``.

        Without feedback both follow the start score, for the whole run.
        """
        settings = self._settings
        score = (
            self._standing.score
            if self._feedback
            else np.full(len(self._groups), settings.score.start)
        )
        scrutiny = settings.scrutiny
        fast = settings.fast_lane
        watched = (
            score < scrutiny.score_below if scrutiny is not None else np.zeros(len(score), bool)
        )
        fast_lane = score >= fast.score_at_least if fast is not None else np.zeros(len(score), bool)
        return watched, fast_lane

    @_one_blas_thread
    def _period(self, period: int) -> PeriodResult:
        settings = self._settings
        first_day = period * settings.period_days
        standing = self._standing
        if self._feedback:
            listed = standing.listed(first_day)
            wrongly = standing.wrongly_listed(first_day)
        else:
            listed = standing.initial
            wrongly = np.zeros_like(listed)
        watched, fast_lane = self._exposure(period)
        factor = np.ones(len(self._groups))
        if settings.escape is not None:
            factor[self._escaped] *= settings.escape.exposure_factor
        if settings.scrutiny is not None:
            factor[watched] *= settings.scrutiny.exposure_factor
        n_groups = len(self._model.groups)
        log_clear: list[npt.NDArray[np.float64] | None] = [
            self._log_clear_per_member[d].T
            @ np.bincount(self._groups[listed[g]], minlength=n_groups)
            if g >= 0
            else None
            for d, g in enumerate(self._gallery_of)
        ]
        counts = np.zeros((len(OUTCOME_COUNTS), len(self.names), len(self._groups)), np.int64)
        for day in range(first_day, first_day + settings.period_days):
            for chunk, events in enumerate(self._generator.day_chunks(day, factor)):
                rng = rng_for(self._scenario.seed, Stream.DYNAMICS, 1, day, chunk)
                self._decide(events, rng, listed, wrongly, fast_lane, log_clear, counts)
        rng = rng_for(self._scenario.seed, Stream.DYNAMICS, 2, period)
        records_by = rng.binomial(counts, self._record_odds.T[:, :, None])
        rightful = records_by[OUTCOME_COUNTS.index("rightful_alerts")]
        records = records_by.sum(axis=0)
        damages_by = np.einsum("cdp,dc->dp", counts, self._damage_cost)
        skipped = counts[OUTCOME_COUNTS.index("skipped")].sum(axis=0)
        benefits = np.zeros(len(self._groups))
        if settings.fast_lane is not None:
            benefits += settings.fast_lane.value_per_use * skipped
        if settings.escape is not None:
            benefits += settings.escape.value_per_period * self._escaped
        person_records = records.sum(axis=0)
        person_rightful = rightful.sum(axis=0)
        listings = standing.close_period(period, person_records, person_rightful)
        next_day = first_day + settings.period_days
        n = len(self._groups)
        standing_table = pa.table(
            {
                "period": np.full(n, period, dtype=np.int32),
                "person_id": np.arange(n, dtype=np.int64),
                "escaped": self._escaped,
                "scrutiny": watched,
                "fast_lane": fast_lane,
                "records": person_records.astype(np.int32),
                "wrongful_records": (person_records - person_rightful).astype(np.int32),
                "score": standing.score,
                "listed": standing.listed(next_day).sum(axis=0).astype(np.int8),
                "wrongly_listed": standing.wrongly_listed(next_day).sum(axis=0).astype(np.int8),
                "benefits": benefits,
                "damages": damages_by.sum(axis=0),
            },
            schema=STANDING_SCHEMA,
        )
        return PeriodResult(
            standing_table,
            listings,
            self._outcome_table(period, counts, records, rightful, damages_by),
        )

    def _decide(
        self,
        events: pa.Table,
        rng: np.random.Generator,
        listed: npt.NDArray[np.bool_],
        wrongly: npt.NDArray[np.bool_],
        fast_lane: npt.NDArray[np.bool_],
        log_clear: list[npt.NDArray[np.float64] | None],
        counts: npt.NDArray[np.int64],
    ) -> None:
        """Decide every deployment's sightings in one chunk of events; add to ``counts``."""
        camera = events.column("camera_id").to_numpy()
        person = events.column("person_id").to_numpy()
        groups = self._groups[person]
        model = self._model
        algorithm = self._scenario.algorithm
        capture = acquire(
            model, self._scenario, Conditions.of(events), groups, self._years[person], rng
        )
        detected = capture.detected
        seen_by = [mask[camera] for mask in self._masks]
        for d in np.flatnonzero(self._fast_deployments).tolist():
            skip = seen_by[d] & fast_lane[person]
            _add(counts, "skipped", d, person[skip])
            seen_by[d] &= ~skip
        # Which captures are compared with their own enrollment: at gates, and by
        # searches of a gallery the person is on. Each is encoded once.
        genuine = np.zeros(len(person), dtype=bool)
        for d, g in enumerate(self._gallery_of):
            genuine |= seen_by[d] & (listed[g][person] if g >= 0 else True)
        genuine &= detected
        scores = np.full(len(person), np.nan, dtype=np.float32)
        rows = np.flatnonzero(genuine)
        probes = capture.encode(model, self._identities, person, groups, rows, rng)
        scores[rows] = np.einsum("ij,ij->i", probes, self._templates[person[rows]])
        # FMR at the capture's conditions, as the drift table holds it for its own group.
        shift = np.exp(
            np.broadcast_to(weighted_deficit(algorithm.fmr_effects, capture.deficits), person.shape)
        )
        for d, g in enumerate(self._gallery_of):
            mine = seen_by[d]
            passes = mine & detected
            _add(counts, "searches", d, person[passes])
            accepted = scores >= self._threshold[d]
            if g < 0:
                _add(counts, "not_detected", d, person[mine & ~detected])
                _add(counts, "false_rejects", d, person[passes & ~accepted])
                continue
            on = listed[g][person]
            alerts = passes & on & accepted
            _add(counts, "wrongful_alerts", d, person[alerts & wrongly[g][person]])
            _add(counts, "rightful_alerts", d, person[alerts & ~wrongly[g][person]])
            clear = log_clear[d]
            assert clear is not None
            # A draw of its own per deployment: galleries are searched independently.
            false_alert = rng.random(len(person)) < -np.expm1(clear[groups] * shift)
            _add(counts, "false_alerts", d, person[passes & ~on & false_alert])

    def _outcome_table(
        self,
        period: int,
        counts: npt.NDArray[np.int64],
        records: npt.NDArray[np.int64],
        rightful: npt.NDArray[np.int64],
        damages: npt.NDArray[np.float64],
    ) -> pa.Table:
        deployment, person = np.nonzero(counts.sum(axis=0))
        n = len(person)
        return pa.table(
            {
                "period": np.full(n, period, dtype=np.int32),
                "person_id": person.astype(np.int64),
                "deployment": category_array(deployment, self.names),
                **{
                    name: counts[i, deployment, person].astype(np.int32)
                    for i, name in enumerate(OUTCOME_COUNTS)
                },
                "records": records[deployment, person].astype(np.int32),
                "rightful_records": rightful[deployment, person].astype(np.int32),
                "damages": damages[deployment, person],
            },
            schema=PERIOD_OUTCOME_SCHEMA,
        )


def _add(
    counts: npt.NDArray[np.int64], name: str, deployment: int, person: npt.NDArray[np.int64]
) -> None:
    if len(person) == 0:
        return
    # A chunk covers a narrow band of person ids: count within that band.
    low, high = int(person.min()), int(person.max()) + 1
    counts[OUTCOME_COUNTS.index(name), deployment, low:high] += np.bincount(
        person - low, minlength=high - low
    )
