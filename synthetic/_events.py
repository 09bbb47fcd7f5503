"""Mobility: who passes which camera when, under which capture conditions.

Events are produced one (day, chunk of persons) at a time, each from its own random
stream, so memory stays bounded and any chunk can be regenerated on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskclass import (
    CATEGORY,
    EVENT_ID,
    PERSON_ID,
    CameraKind,
    Scenario,
    Stream,
    category_array,
    resolve_by_group,
    rng_for,
)

from ._sampling import draw_categories

# Part of the random-stream layout: changing it changes every event, so it is a
# constant rather than a setting.
EVENT_CHUNK_PERSONS = 65_536
_ILLUMINATION_JITTER = 0.1


@dataclass(frozen=True)
class _CameraPool:
    """Cameras of each district, laid out so one can be drawn per event without loops."""

    camera_ids: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.intp]
    counts: npt.NDArray[np.intp]

    @classmethod
    def of(
        cls, district_codes: npt.NDArray[np.intp], n_districts: int, selected: npt.NDArray[np.bool_]
    ) -> _CameraPool:
        ids = np.flatnonzero(selected)
        ids = ids[np.argsort(district_codes[ids], kind="stable")]
        counts = np.bincount(district_codes[ids], minlength=n_districts)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return cls(ids.astype(np.int32), offsets, counts)

    def draw(
        self, rng: np.random.Generator, districts: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.int32]:
        within = (rng.random(len(districts)) * self.counts[districts]).astype(np.intp)
        return self.camera_ids[self.offsets[districts] + within]

    def per_1000(self, residents: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return np.divide(
            1000.0 * self.counts, residents, out=np.zeros(len(residents)), where=residents > 0
        )


@dataclass(frozen=True)
class Conditions:
    """Capture conditions of one capture each: face size, light, pose and blur."""

    face_px: npt.NDArray[np.float32]
    illumination: npt.NDArray[np.float32]
    pose_deg: npt.NDArray[np.float32]
    blur_px: npt.NDArray[np.float32]

    @classmethod
    def of(cls, events: pa.Table, rows: npt.NDArray[np.intp] | None = None) -> Conditions:
        """The conditions columns of a table of camera events (`EVENT_SCHEMA`), of
        ``rows`` only where given."""
        columns = (events.column(f.name).to_numpy() for f in fields(cls))
        return cls(*(column if rows is None else column[rows] for column in columns))

    def columns(self) -> dict[str, npt.NDArray[np.float32]]:
        """The conditions as columns of a table of camera events (`EVENT_SCHEMA`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# A camera event's capture conditions are its last columns, one per `Conditions`
# field: read back by `Conditions.of`.
EVENT_SCHEMA = pa.schema(
    [
        EVENT_ID,
        PERSON_ID,
        ("camera_id", pa.int32()),
        ("camera_kind", CATEGORY),
        ("district", CATEGORY),
        ("time", pa.timestamp("s", tz="UTC")),
        *((f.name, pa.float32()) for f in fields(Conditions)),
    ]
)


class ConditionDraws:
    """Draws capture conditions for captures by cameras of the given kinds.

    Face size is log-normal, light the kind's level at the hour with a log-normal
    jitter (clipped to [0, 1]), pose half-normal, blur exponential (see `CameraKind`).
    """

    def __init__(self, kinds: list[CameraKind]) -> None:
        self._log_face_median = np.log([c.face_px_median for c in kinds])
        self._face_spread = np.array([c.face_px_spread for c in kinds])
        self._pose_sd = np.array([c.pose_sd_deg for c in kinds])
        self._blur_mean = np.array([c.blur_mean_px for c in kinds])
        self._light = np.array([c.illumination_by_hour for c in kinds])

    def draw(
        self, rng: np.random.Generator, kind: npt.NDArray[np.intp], hour: npt.NDArray[np.intp]
    ) -> Conditions:
        """Conditions of captures by cameras of the ``kind`` indices at the ``hour`` of day."""
        n = len(kind)
        face_px = np.exp(
            self._log_face_median[kind] + self._face_spread[kind] * rng.standard_normal(n)
        )
        light = self._light[kind, hour] * np.exp(_ILLUMINATION_JITTER * rng.standard_normal(n))
        pose = np.abs(self._pose_sd[kind] * rng.standard_normal(n))
        blur = self._blur_mean[kind] * rng.standard_exponential(n)
        return Conditions(
            face_px.astype(np.float32),
            np.clip(light, 0.0, 1.0).astype(np.float32),
            pose.astype(np.float32),
            blur.astype(np.float32),
        )


@dataclass(frozen=True)
class Exposure:
    """Each person's expected sightings per day, and where they happen.

    ``home``, ``work`` and ``elsewhere`` are expected sightings per day in the home
    district, the work district and other districts (before ``activity``); the
    rate of a person is ``activity * (home + work + elsewhere)``.
    """

    home: npt.NDArray[np.float64]
    work: npt.NDArray[np.float64]
    elsewhere: npt.NDArray[np.float64]
    activity: npt.NDArray[np.float64]
    elsewhere_by_district: npt.NDArray[np.float64]

    @property
    def rate(self) -> npt.NDArray[np.float64]:
        return self.activity * (self.home + self.work + self.elsewhere)


def district_residents(scenario: Scenario, persons: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Residents per district (in ``scenario.districts`` order) of ``persons``."""
    home = persons["home_district"].cat.codes.to_numpy()
    return np.bincount(home, minlength=len(scenario.districts)).astype(np.int64)


class EventGenerator:
    """Generates the camera events of a scenario, chunk by chunk.

    Parameters
    ----------
    scenario, persons, cameras:
        The scenario and the tables `generate_population` and `place_cameras` made.
    residents:
        Given when ``persons`` are the rows of one band of `EVENT_CHUNK_PERSONS`
        persons (a task of a run split by band): the whole population's residents
        per district (`district_residents`), on which exposure depends. The
        generator then makes the chunks of that band alone, the same events as
        the whole population's generator makes for it.
    """

    def __init__(
        self,
        *,
        scenario: Scenario,
        persons: pd.DataFrame,
        cameras: pd.DataFrame,
        residents: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self._scenario = scenario
        self._persons = persons
        # Person ids of a band start at its first person: arrays here hold its rows.
        self._first = 0 if residents is None else int(persons["person_id"].to_numpy()[0])
        self._population = len(persons) if residents is None else scenario.population.size
        self._residents = district_residents(scenario, persons) if residents is None else residents
        n_districts = len(scenario.districts)
        kinds = list(scenario.camera_kinds)
        self._kind_names = kinds
        self._district_names = scenario.district_names
        camera_district = cameras["district"].cat.codes.to_numpy().astype(np.intp)
        self._camera_district = camera_district
        self._camera_kind = cameras["kind"].cat.codes.to_numpy().astype(np.intp)
        residents_only = np.array([scenario.camera_kinds[k].residents_only for k in kinds])
        self._all = _CameraPool.of(camera_district, n_districts, np.ones(len(cameras), dtype=bool))
        self._open_cameras = ~residents_only[self._camera_kind]
        self._open = _CameraPool.of(camera_district, n_districts, self._open_cameras)
        self._home = persons["home_district"].cat.codes.to_numpy().astype(np.intp)
        self._work = persons["work_district"].cat.codes.to_numpy().astype(np.intp)
        self.exposure = self._exposure()
        self._conditions = ConditionDraws([scenario.camera_kinds[k] for k in kinds])
        start = dt.datetime.combine(scenario.start_date, dt.time(), tzinfo=dt.UTC)
        self._start_seconds = int(start.timestamp())
        self.chunks_per_day = -(-self._population // EVENT_CHUNK_PERSONS)

    def _exposure(self) -> Exposure:
        scenario, persons = self._scenario, self._persons
        mobility = scenario.mobility
        residents = self._residents
        density_all = self._all.per_1000(residents)
        density_open = self._open.per_1000(residents)
        employed = persons["employed"].to_numpy()
        share = mobility.time_share
        passes = mobility.passes_per_camera_density
        home_time = share.home + share.work * ~employed
        elsewhere_by_district = (
            passes * share.elsewhere * residents / residents.sum() * density_open
        )
        return Exposure(
            home=passes * home_time * density_all[self._home],
            work=passes * share.work * employed * density_open[self._work],
            elsewhere=np.full(len(persons), elsewhere_by_district.sum()),
            activity=np.array(resolve_by_group(mobility.activity, persons, default=1.0)),
            elsewhere_by_district=elsewhere_by_district,
        )

    def reaches(self, selected: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Whether each person can be sighted at the ``selected`` cameras (a mask over
        the cameras table): whether their expected sightings there are above 0.

        As `_chunk` places a sighting: at home at any camera of the home district,
        at work at an open (not residents-only) camera of the work district,
        elsewhere at an open camera of a district drawn by
        ``elsewhere_by_district``.
        """
        n_districts = len(self._scenario.districts)
        exposure = self.exposure
        at_home = np.bincount(self._camera_district[selected], minlength=n_districts) > 0
        at_open = (
            np.bincount(self._camera_district[selected & self._open_cameras], minlength=n_districts)
            > 0
        )
        elsewhere = bool(np.any(exposure.elsewhere_by_district[at_open] > 0))
        reached = (
            ((exposure.home > 0) & at_home[self._home])
            | ((exposure.work > 0) & at_open[self._work])
            | ((exposure.elsewhere > 0) & elsewhere)
        )
        return reached & (exposure.activity > 0)

    @property
    def total_chunks(self) -> int:
        return self._scenario.days * self.chunks_per_day

    def chunks(self) -> Iterator[pa.Table]:
        """Yield event tables, day by day, each sorted by time, with running event ids."""
        next_id = 0
        for day in range(self._scenario.days):
            for chunk in range(self.chunks_per_day):
                table = self._chunk(day, chunk, next_id)
                next_id += table.num_rows
                yield table

    def chunk(self, index: int) -> pa.Table:
        """Chunk ``index`` of `chunks` (day-major), generated on its own: the same
        events, with event ids from 0 (a run split into tasks renumbers them)."""
        day, band = divmod(index, self.chunks_per_day)
        return self._chunk(day, band, 0)

    def day_chunks(
        self, day: int, factor: npt.NDArray[np.float64] | None = None
    ) -> Iterator[pa.Table]:
        """The event tables of one ``day``, chunk by chunk, event ids from 0 in each.

        ``factor`` multiplies each person's rate of sightings (exposure that changes
        between the periods of a run with dynamics); with the same factors a day's
        events are those `chunks` yields.
        """
        for chunk in range(self.chunks_per_day):
            yield self._chunk(day, chunk, 0, factor)

    def _chunk(
        self, day: int, chunk: int, first_id: int, factor: npt.NDArray[np.float64] | None = None
    ) -> pa.Table:
        rng = rng_for(self._scenario.seed, Stream.EVENTS, day, chunk)
        start = chunk * EVENT_CHUNK_PERSONS - self._first
        if not 0 <= start < len(self._persons):
            raise IndexError(f"chunk {chunk} of a day is not among this generator's persons")
        # Rows of this generator's arrays; the events name persons by id.
        rows = np.arange(start, min(start + EVENT_CHUNK_PERSONS, len(self._persons)))
        exposure = self.exposure
        rate = exposure.rate[rows] if factor is None else exposure.rate[rows] * factor[rows]
        counts = rng.poisson(rate)
        row = np.repeat(rows, counts)
        owner = row + self._first
        n = len(owner)

        home_w, work_w = exposure.home[row], exposure.work[row]
        pick = rng.random(n) * (home_w + work_w + exposure.elsewhere[row])
        at_home = pick < home_w
        at_work = ~at_home & (pick < home_w + work_w)
        district = draw_categories(rng, exposure.elsewhere_by_district, n)
        district = np.where(at_home, self._home[row], np.where(at_work, self._work[row], district))
        camera = np.where(at_home, self._all.draw(rng, district), self._open.draw(rng, district))

        hour = draw_categories(rng, self._scenario.mobility.hour_profile, n)
        seconds = hour * 3600 + rng.integers(0, 3600, n)
        # The stable order by time, as distinct keys (time, then position) sorted:
        # about five times as fast as a stable argsort (a merge sort) of the times.
        bits = max(n, 1).bit_length()
        order = np.sort((seconds << bits) | np.arange(n)) & ((1 << bits) - 1)
        owner, camera, district, hour, seconds = (
            a[order] for a in (owner, camera, district, hour, seconds)
        )

        kind = self._camera_kind[camera]
        conditions = self._conditions.draw(rng, kind, hour)
        time = self._start_seconds + day * 86_400 + seconds
        return pa.table(
            {
                "event_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
                "person_id": pa.array(owner.astype(np.int64)),
                "camera_id": pa.array(camera.astype(np.int32)),
                "camera_kind": category_array(kind, self._kind_names),
                "district": category_array(district, self._district_names),
                "time": pa.array(time.astype(np.int64), pa.timestamp("s", tz="UTC")),
                **conditions.columns(),
            },
            schema=EVENT_SCHEMA,
        )
