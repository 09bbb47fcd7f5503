"""Standing: each person's records, score and listings, and how they change between periods.

Pure numpy over the population: a handful of arrays of one entry per person (and
per gallery, or per period of the longest listing window), so a run's memory
follows its population, not its length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from riskclass import CATEGORY, PERIOD, PERSON_ID, Dynamics, category_array

LISTING_SCHEMA = pa.schema(
    [
        PERSON_ID,
        ("gallery", CATEGORY),
        ("rule", pa.int32()),
        ("cause", CATEGORY),
        PERIOD,
        ("start_day", pa.int32()),
        ("end_day", pa.int32()),
        ("score", pa.float64()),
        ("records_in_window", pa.int32()),
        ("wrongful", pa.bool_()),
    ]
)
# ``cause``: which kind of rule fired.
CAUSES = ("score_below", "records_at_least")


@dataclass
class Standing:
    """The standing of every person between two periods.

    ``score``: the current score; ``window``: records per period of the last
    periods (a ring, as many as the longest ``within_days`` of a rule spans);
    ``ever_rightful``: whether any record so far was rightful (an alert against a
    rightful listing); ``listed_until``: per gallery, the first day on which a
    listing by the rules no longer applies (0: never listed); ``wrongful``: per
    gallery, whether that listing was wrongful; ``initial``: the galleries'
    members as the scenario drew them, listed for the whole run.
    """

    dynamics: Dynamics
    galleries: list[str]
    score: npt.NDArray[np.float64]
    window: npt.NDArray[np.int32]
    ever_rightful: npt.NDArray[np.bool_]
    listed_until: npt.NDArray[np.int32]
    wrongful: npt.NDArray[np.bool_]
    initial: npt.NDArray[np.bool_]

    @classmethod
    def start(
        cls, dynamics: Dynamics, members: dict[str, npt.NDArray[np.int64]], persons: int
    ) -> Standing:
        """Everyone at the start score, with no records and only the drawn listings."""
        galleries = list(members)
        initial = np.zeros((len(galleries), persons), dtype=bool)
        for index, ids in enumerate(members.values()):
            initial[index, ids] = True
        spans = [math.ceil(rule.within_days / dynamics.period_days) for rule in dynamics.listings]
        return cls(
            dynamics=dynamics,
            galleries=galleries,
            score=np.full(persons, dynamics.score.start),
            window=np.zeros((max(spans, default=1), persons), dtype=np.int32),
            ever_rightful=np.zeros(persons, dtype=bool),
            listed_until=np.zeros((len(galleries), persons), dtype=np.int32),
            wrongful=np.zeros((len(galleries), persons), dtype=bool),
            initial=initial,
        )

    def listed(self, day: int) -> npt.NDArray[np.bool_]:
        """``(galleries, persons)``: who is on each gallery on ``day``."""
        return self.initial | (self.listed_until > day)

    def wrongly_listed(self, day: int) -> npt.NDArray[np.bool_]:
        """``(galleries, persons)``: who is on each gallery on ``day`` by a wrongful listing."""
        return ~self.initial & (self.listed_until > day) & self.wrongful

    def close_period(
        self,
        period: int,
        records: npt.NDArray[np.int64],
        rightful_records: npt.NDArray[np.int64],
    ) -> pa.Table:
        """Apply a period's records: the score, then the listing rules. Returns new listings.

        The score falls by ``loss_per_record`` per record, or rises by
        ``gain_per_clean_period`` without one, within the scale. Each rule then
        lists, from the next period, persons not already on its gallery whose score
        is below its cut or whose records over its window reach its count; the
        first rule that fires for a gallery wins. A listing is wrongful when none
        of the person's records so far was rightful.
        """
        settings = self.dynamics.score
        self.score = np.clip(
            self.score
            - settings.loss_per_record * records
            + settings.gain_per_clean_period * (records == 0),
            settings.low,
            settings.high,
        )
        self.window[period % len(self.window)] = records
        self.ever_rightful |= rightful_records > 0
        next_day = (period + 1) * self.dynamics.period_days
        tables = [LISTING_SCHEMA.empty_table()]
        for index, rule in enumerate(self.dynamics.listings):
            gallery = self.galleries.index(rule.gallery)
            span = math.ceil(rule.within_days / self.dynamics.period_days)
            recent = self._recent_records(period, span)
            if rule.score_below is not None:
                fires, cause = self.score < rule.score_below, 0
            else:
                assert rule.records_at_least is not None  # the validator requires one
                fires, cause = recent >= rule.records_at_least, 1
            listed = self.initial[gallery] | (self.listed_until[gallery] > next_day)
            person = np.flatnonzero(fires & ~listed)
            end = next_day + rule.duration_days
            self.listed_until[gallery, person] = end
            self.wrongful[gallery, person] = ~self.ever_rightful[person]
            n = len(person)
            tables.append(
                pa.table(
                    {
                        "person_id": person.astype(np.int64),
                        "gallery": category_array(np.full(n, gallery), self.galleries),
                        "rule": np.full(n, index, dtype=np.int32),
                        "cause": category_array(np.full(n, cause), list(CAUSES)),
                        "period": np.full(n, period, dtype=np.int32),
                        "start_day": np.full(n, next_day, dtype=np.int32),
                        "end_day": np.full(n, end, dtype=np.int32),
                        "score": self.score[person],
                        "records_in_window": recent[person].astype(np.int32),
                        "wrongful": self.wrongful[gallery, person],
                    },
                    schema=LISTING_SCHEMA,
                )
            )
        return pa.concat_tables(tables)

    def _recent_records(self, period: int, span: int) -> npt.NDArray[np.int64]:
        """Records over the ``span`` periods up to and including ``period``."""
        rows = [(period - back) % len(self.window) for back in range(min(span, period + 1))]
        return self.window[rows].sum(axis=0, dtype=np.int64)
