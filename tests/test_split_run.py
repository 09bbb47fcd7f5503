"""`riskclass run --scheduler/--workers`: one run split into chunk tasks on a real Dask
cluster writes the single-process run's files byte for byte, even when a worker dies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
import yaml
from distributed import LocalCluster

from riskclass import load_config
from riskclass.commands import EXIT_USAGE, calibrate_and_check, main, run
from riskclass.pipeline import Pipeline
from riskclass.synthetic import (
    EVENT_CHUNK_PERSONS,
    EventGenerator,
    district_residents,
    generate_population,
    place_cameras,
)

from .conftest import FAST_ALGORITHM, killing_a_worker_once, run_once, scaled_default

# Three days of one band of persons: three chunk tasks.
DAYS = 3
# Fields of the manifest that may differ: how long the run took, and whether it found
# its calibration in the cache (the first run of the module fills it).
UNCOMPARED = ("timings_s", "performance", "calibration_cache")


@pytest.fixture(scope="module")
def split_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small city with every kind of state a chunk hands on: per-person counts
    (watchlist, blacklist, gates), an investigation's best candidates over all
    chunks, and a batch search whose event ids follow the last chunk's."""
    data = scaled_default(4000, days=DAYS)
    data["algorithm"] = FAST_ALGORITHM
    data["deployments"] += [
        {
            "name": "trajectory_search",
            "kind": "investigation",
            "gallery": "police_watchlist",
            "camera_kinds": ["street", "transit_checkpoint"],
            "investigation": {
                "targets": 20,
                "candidates": 10,
                "reviewer": {"confirms_target": 0.7, "confirms_other": 0.02},
            },
        },
        {
            "name": "photo_search",
            "kind": "batch_search",
            "gallery": "court_defaulters",
            "batch": {"probes": "residency=migrant"},
        },
    ]
    path = tmp_path_factory.mktemp("config") / "split.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def alone(split_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The manifest of the single-process run."""
    return _manifest(run_once(tmp_path_factory, "alone", load_config(split_config)))


def _manifest(out: Path) -> dict[str, Any]:
    """A run's manifest (every file's size, SHA-256 and rows) but for `UNCOMPARED`."""
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    for key in UNCOMPARED:
        manifest.pop(key)
    return manifest


def test_a_split_run_writes_the_single_process_run_byte_for_byte(
    split_config: Path, alone: dict[str, Any], dask_cluster: LocalCluster, tmp_path: Path
) -> None:
    out = tmp_path / "split"
    summary = run(load_config(split_config), out, scheduler=dask_cluster.scheduler_address)
    split = _manifest(out)
    assert split["rows"]["events"] > 0 and split["rows"]["hits"] > 0
    # Every kind of row is there: the investigation's candidates and the batch photos.
    assert set(summary.per_group["deployment"]) >= {"trajectory_search", "photo_search"}
    assert split["files"] == alone["files"]
    assert split == alone
    # The parts were written and taken in: nothing of them is left.
    assert sorted(path.name for path in out.iterdir()) == sorted([*alone["files"], "manifest.json"])


def test_a_worker_killed_during_a_task_does_not_change_the_run(
    split_config: Path, alone: dict[str, Any], dask_cluster: LocalCluster, tmp_path: Path
) -> None:
    with killing_a_worker_once(dask_cluster.scheduler_address, "chunk-") as killed:
        run(load_config(split_config), tmp_path / "split", scheduler=dask_cluster.scheduler_address)
    # The watcher killed a worker while it ran a chunk: the task was retried.
    assert len(killed) == 1
    assert _manifest(tmp_path / "split") == alone


def test_run_names_an_unreachable_scheduler_before_any_work(
    split_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["run", str(split_config), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == EXIT_USAGE
    error = capsys.readouterr().err
    assert "tcp://127.0.0.1:9" in error and len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_chunks_decided_apart_and_absorbed_in_order_are_the_pipeline_run(
    split_config: Path,
) -> None:
    # What a split run rests on, without a cluster: each chunk decided by a pipeline
    # that has seen no other chunk, then absorbed in order, is the sequential run.
    scenario = load_config(split_config).with_mechanisms_applied()
    persons = generate_population(scenario)
    cameras = place_cameras(scenario, persons)
    model, _ = calibrate_and_check(scenario)
    generator = EventGenerator(scenario=scenario, persons=persons, cameras=cameras)
    whole, apart = (
        Pipeline(scenario=scenario, model=model, persons=persons, cameras=cameras) for _ in range(2)
    )
    first_event_id = 0
    for index, events in enumerate(generator.chunks()):
        expected = whole.process(events, index)
        alone = generator.chunk(index)
        assert pc.min(alone.column("event_id")).as_py() == 0
        result, state = apart.process_apart(alone, index)
        apart.absorb(state, first_event_id)
        for name in ("decisions", "hits"):
            mine, theirs = getattr(result, name), getattr(expected, name)
            shifted = pc.add(mine.column("event_id"), first_event_id)
            assert shifted.equals(theirs.column("event_id"))
            assert mine.drop_columns("event_id").equals(theirs.drop_columns("event_id"))
        first_event_id += state.events
    assert first_event_id > 0 and generator.total_chunks == DAYS
    for mine, theirs in zip(apart.finish(), whole.finish(), strict=True):
        assert mine.decisions.equals(theirs.decisions) and mine.hits.equals(theirs.hits)
    pd.testing.assert_frame_equal(apart.tally.frame(), whole.tally.frame())
    assert apart.searches_cut == whole.searches_cut
    assert np.any(whole.tally.frame()["events"] > 0)


def test_a_band_decided_from_its_own_persons_is_that_band_of_the_whole(
    split_config: Path,
) -> None:
    # What lets a worker hold one band of persons: the second band's generator and
    # pipeline, made from its persons alone and what the whole run shares, draw the
    # same identities and templates and decide the same chunk as the whole's.
    overrides = [
        f"population.size={EVENT_CHUNK_PERSONS + 3000}",
        "days=1",
        "deployments.2.impostor_share=0.3",
    ]
    scenario = load_config(split_config, overrides).with_mechanisms_applied()
    persons = generate_population(scenario)
    cameras = place_cameras(scenario, persons)
    model, _ = calibrate_and_check(scenario)
    whole = Pipeline(scenario=scenario, model=model, persons=persons, cameras=cameras)
    band = persons.iloc[EVENT_CHUNK_PERSONS:].reset_index(drop=True)
    groups = model.group_index(persons)
    np.testing.assert_array_equal(
        model.person_identities(groups[EVENT_CHUNK_PERSONS:], EVENT_CHUNK_PERSONS),
        model.person_identities(groups)[EVENT_CHUNK_PERSONS:],
    )
    residents = district_residents(scenario, persons)
    alone = EventGenerator(scenario=scenario, persons=band, cameras=cameras, residents=residents)
    events = alone.chunk(1)
    expected = EventGenerator(scenario=scenario, persons=persons, cameras=cameras).chunk(1)
    assert events.equals(expected) and events.num_rows > 0
    mine, state = Pipeline(
        scenario=scenario, model=model, persons=band, cameras=cameras, enrollment=whole.enrollment
    ).process_apart(events, 1)
    theirs, expected_state = whole.process_apart(events, 1)
    assert mine.decisions.equals(theirs.decisions) and mine.hits.equals(theirs.hits)
    for name, counts in state.tally.counts.items():
        np.testing.assert_array_equal(counts, expected_state.tally.counts[name])
    # Gates compared impostors' faces against templates of others in the band.
    gates = pc.equal(mine.decisions.column("deployment").cast("string"), "rental_gates")
    claims = mine.decisions.filter(gates)
    impostors = pc.not_equal(claims.column("candidate_id"), claims.column("person_id"))
    assert pc.sum(pc.cast(impostors, "int64")).as_py() > 0
