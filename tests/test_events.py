"""Camera events: exposure comes from camera density, and the data is consistent."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from riskclass import validate_config
from riskclass.synthetic import EventGenerator, generate_population, place_cameras


def _two_district_city(
    *, density_a: float, density_b: float, size: int, days: int
) -> dict[str, Any]:
    return {
        "name": "exposure",
        "seed": 11,
        "days": days,
        "population": {
            "size": size,
            "attributes": {"sex": {"shares": {"female": 0.5, "male": 0.5}}},
        },
        "districts": [
            {
                "name": "a",
                "population_share": 0.5,
                "cameras_per_1000": density_a,
                "camera_mix": {"street": 1.0},
            },
            {
                "name": "b",
                "population_share": 0.5,
                "cameras_per_1000": density_b,
                "camera_mix": {"street": 1.0},
            },
        ],
        "mobility": {
            "passes_per_camera_density": 1.0,
            "employed": {"default": 0.0},
            "time_share": {"home": 1.0, "work": 0.0, "elsewhere": 0.0},
        },
    }


def _generate(data: dict[str, Any]) -> tuple[Any, Any, Any, pa.Table]:
    scenario = validate_config(data)
    persons = generate_population(scenario)
    cameras = place_cameras(scenario, persons)
    generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
    return scenario, persons, cameras, pa.concat_tables(generator.chunks())


def test_five_times_the_camera_density_gives_five_times_the_sightings() -> None:
    _, persons, cameras, events = _generate(
        _two_district_city(density_a=1.0, density_b=5.0, size=20_000, days=5)
    )
    home = persons["home_district"].to_numpy()
    event_home = home[events.column("person_id").to_numpy()]
    residents = {d: int((home == d).sum()) for d in ("a", "b")}
    sightings = {d: int((event_home == d).sum()) for d in ("a", "b")}
    n_cameras = {d: int((cameras["district"] == d).sum()) for d in ("a", "b")}

    ratio = (sightings["b"] / residents["b"]) / (sightings["a"] / residents["a"])
    density_ratio = (n_cameras["b"] / residents["b"]) / (n_cameras["a"] / residents["a"])
    # Each district's total is a Poisson count, so the log-ratio has this standard error.
    se = ratio * math.sqrt(1 / sightings["a"] + 1 / sightings["b"])
    assert abs(ratio - density_ratio) < 4.5 * se
    assert density_ratio == pytest.approx(5.0, rel=0.1)


def test_sightings_per_day_match_the_configured_rate() -> None:
    size, days = 10_000, 4
    _, _, cameras, events = _generate(
        _two_district_city(density_a=2.0, density_b=2.0, size=size, days=days)
    )
    realized_density = 1000 * len(cameras) / size
    expected = size * days * realized_density  # passes_per_camera_density is 1
    assert abs(events.num_rows - expected) < 4.5 * math.sqrt(expected)


def test_residents_only_cameras_see_only_residents(small_default: dict[str, Any]) -> None:
    _, persons, cameras, events = _generate(small_default)
    gate_events = events.filter(pa.compute.equal(events.column("camera_kind"), "access_gate"))
    assert gate_events.num_rows > 0
    home = persons["home_district"].astype(str).to_numpy()
    camera_district = cameras["district"].astype(str).to_numpy()
    np.testing.assert_array_equal(
        home[gate_events.column("person_id").to_numpy()],
        camera_district[gate_events.column("camera_id").to_numpy()],
    )


def test_event_table_is_consistent(small_default: dict[str, Any]) -> None:
    scenario, _, cameras, events = _generate(small_default)
    np.testing.assert_array_equal(events.column("event_id").to_numpy(), np.arange(events.num_rows))
    camera_ids = events.column("camera_id").to_numpy()
    np.testing.assert_array_equal(
        events.column("district").to_numpy(), cameras["district"].astype(str).to_numpy()[camera_ids]
    )
    np.testing.assert_array_equal(
        events.column("camera_kind").to_numpy(), cameras["kind"].astype(str).to_numpy()[camera_ids]
    )
    times = events.column("time").to_numpy().astype("datetime64[s]").astype(np.int64)
    start = np.datetime64(scenario.start_date, "s").astype(np.int64)
    assert times.min() >= start and times.max() < start + scenario.days * 86_400
    for name in ("face_px", "pose_deg", "blur_px"):
        assert (events.column(name).to_numpy() >= 0).all(), name
    light = events.column("illumination").to_numpy()
    assert ((light >= 0) & (light <= 1)).all()


def test_night_is_darker_on_the_street(small_default: dict[str, Any]) -> None:
    _, _, _, events = _generate(small_default)
    street = events.filter(pa.compute.equal(events.column("camera_kind"), "street"))
    hours = street.column("time").to_numpy().astype("datetime64[h]").astype(np.int64) % 24
    light = street.column("illumination").to_numpy()
    assert light[(hours >= 9) & (hours < 16)].mean() > 2 * light[(hours < 5)].mean()
