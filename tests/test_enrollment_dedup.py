"""Enrollment de-duplication: each member's new photo searched against every other member."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from riskclass import KINDS, ConfigError, load_config, validate_config
from riskclass.commands import COMPARE_CSV, Grid, SweepRun, build_report, combine, main, run
from riskclass.pipeline import expected_fpir
from riskclass.synthetic import calibrate

from .conftest import run_once

KIND = "enrollment_dedup"
# Members per group are a few thousand and FMR is high enough that each group has
# hundreds of flags: the closed form is checked to a few percent.
SCENARIO: dict[str, Any] = {
    "name": "dedup_test",
    "seed": 7,
    "days": 1,
    "population": {
        "size": 4_000,
        "attributes": {"ethnicity": {"shares": {"majority": 0.7, "minority": 0.3}}},
    },
    "districts": [
        {"name": "all", "population_share": 1.0, "cameras_per_1000": 0.0}
        | {"camera_mix": {"street": 1.0}}
    ],
    "algorithm": {
        "threshold": 0.6,
        # Licence photos are at the reference conditions or better: only their age
        # would move their scores, and it is 0 here, so FMR is the configured one.
        "enrollment_years_max": 0.0,
        "error_rates": {
            "default": {"fmr": 1e-4, "fnmr": 0.02, "fta": 0.01},
            "ethnicity=minority": {"fmr": 4e-4, "fnmr": 0.02, "fta": 0.01},
        },
    },
    "galleries": [{"name": "licence_holders", "share": 0.9}],
    "deployments": [
        {
            "name": "dedup",
            "kind": KIND,
            "gallery": "licence_holders",
            "consequences": {"false_alert": "licence_suspended"},
        }
    ],
}
# Beyond 4.5 standard deviations: once in 150,000 per group for a normal count.
Z = 4.5


@pytest.fixture(scope="module")
def deduplicated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_once(tmp_path_factory, "dedup", validate_config(SCENARIO))


def test_every_member_is_searched_once_against_the_others_and_every_flag_is_false(
    deduplicated: Path,
) -> None:
    decisions = pd.read_parquet(deduplicated / "decisions.parquet")
    galleries = pd.read_parquet(deduplicated / "galleries.parquet")
    members = np.sort(galleries["person_id"].to_numpy())
    np.testing.assert_array_equal(np.sort(decisions["person_id"].to_numpy()), members)
    assert not decisions["mated"].any()
    searched = decisions[decisions["detected"]]
    assert (searched["candidate_id"] != searched["person_id"]).all()
    assert set(decisions["outcome"]) <= {"false_alert", "no_alert", "not_detected"}
    flagged = decisions[decisions["alert"]]
    assert len(flagged) > 100
    assert (flagged["outcome"] == "false_alert").all()
    assert (flagged["consequence"] == "licence_suspended").all()
    hits = pd.read_parquet(deduplicated / "hits.parquet")
    assert len(hits) and (hits["candidate_id"] != hits["person_id"]).all()


def test_false_flags_per_group_follow_the_closed_form_over_the_other_members(
    deduplicated: Path,
) -> None:
    """A probe of group ``g`` is flagged unless each of the other members scores below
    the threshold: ``1 - prod over h of (1 - FMR(h, g))^(members[h] - [h = g])``.

    Its count over ``n`` searches of the group has the binomial variance
    ``n p (1 - p)``, plus the covariance of two members who match each other (each
    is flagged by the other's template: their scores share their identities); a
    probe's scores against different members are independent, so no other pair
    covaries, and these add at most ``n x`` (expected matches per search,
    ``-log(1 - p)``).
    """
    scenario = validate_config(SCENARIO)
    model = calibrate(scenario.algorithm, seed=scenario.seed)
    persons = pd.read_parquet(deduplicated / "persons.parquet")
    groups = model.group_index(persons)
    members = pd.read_parquet(deduplicated / "galleries.parquet")["person_id"].to_numpy()
    per_group = np.bincount(groups[members], minlength=len(model.groups))
    decisions = pd.read_parquet(deduplicated / "decisions.parquet")
    searched = decisions[decisions["detected"]]
    group = groups[searched["person_id"].to_numpy()]
    flagged = searched["alert"].to_numpy()
    for g in range(len(model.groups)):
        log_clear = sum(
            (per_group[h] - (h == g)) * math.log1p(-float(model.impostor_fmr(h, g)))
            for h in range(len(model.groups))
        )
        expected = -math.expm1(log_clear)
        n = int((group == g).sum())
        count = int(flagged[group == g].sum())
        spread = math.sqrt(n * (expected * (1 - expected) - math.log1p(-expected)))
        assert abs(count - n * expected) < Z * spread, (model.groups[g], count, n * expected)
        # The threshold an ``fpir`` target would resolve to uses the same closed form.
        probes = np.bincount([g], minlength=len(model.groups)).astype(np.float64)
        assert expected_fpir(
            model, per_group, probes, scenario.algorithm.threshold, self_excluded=True
        ) == pytest.approx(expected, rel=1e-9)


def test_a_database_of_one_is_refused_naming_the_deployment_gallery(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    alone = {**SCENARIO, "galleries": [{"name": "licence_holders", "size": 1}]}
    path.write_text(yaml.safe_dump(alone, sort_keys=False))
    with pytest.raises(ConfigError) as error:
        run(load_config(path), tmp_path / "run")
    assert [field for field, _ in error.value.problems] == ["deployments.0.gallery"]


def test_the_report_speaks_of_duplicate_flags_and_leaves_fnir_out(deduplicated: Path) -> None:
    build_report(deduplicated)
    html = (deduplicated / "report" / "index.html").read_text(encoding="utf-8")
    info = KINDS[KIND]
    for words in (info.words, info.note, info.key_words, info.trials):
        assert words.replace("'", "&#39;") in html, words
    # Each member is searched once, whatever the days: no cameras, a rate per photo.
    decisions = pd.read_parquet(deduplicated / "decisions.parquet")
    flags = int(decisions["alert"].sum())
    assert "none: it searches photos, not camera sightings" in html
    assert f"{flags:,} false alerts from {len(decisions):,} {info.trials} (1 in " in html
    metrics = pd.read_csv(deduplicated / "report" / "metrics.csv")
    fnir = metrics[metrics["metric"] == "fnir"]
    assert len(fnir) and (fnir["n"] == 0).all() and fnir["rate"].isna().all()
    # Its trials are photos, not residents over days: no rate per resident per day in
    # the analysis's tables, nor a column of it in the report (the default scenario's
    # report has one per deployment).
    per_resident = "false_alerts_per_1000_per_day"
    assert per_resident not in set(metrics["metric"])
    assert per_resident not in set(
        pd.read_csv(deduplicated / "report" / "disparities.csv")["metric"]
    )
    assert pd.read_csv(deduplicated / "per_group.csv")[per_resident].isna().all()
    assert "<th>false alerts per 1,000 residents per day</th>" not in html


def test_the_terminal_says_a_dedup_run_has_no_camera_events_to_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its searches are photos, not camera sightings: "0 events/s" would read as a stall.
    config = tmp_path / "dedup.yaml"
    config.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "photos searched once each; no camera events" in printed
    assert "events/s" not in printed


def test_compare_gives_a_dedup_deployment_no_per_resident_rate(
    deduplicated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "what_if"
    assert main(["compare", str(deduplicated), str(deduplicated), "--out", str(out)]) == 0
    table = pd.read_csv(out / COMPARE_CSV)
    assert set(table["metric"]) == {"fpir", "fnir"}


def test_a_sweeps_table_gives_a_dedup_deployment_no_per_resident_rate(deduplicated: Path) -> None:
    swept = SweepRun(
        setting=0, seed=SCENARIO["seed"], scenario=validate_config(SCENARIO), out=deduplicated
    )
    table = combine([swept], Grid.parse(["deployments.dedup.threshold=0.6"]))
    assert set(table["metric"]) == {"fpir", "fnir"}
