"""Impostor FMR by probe group and member group: counts, and the two-way bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskclass.analysis import (
    DeploymentCounts,
    DeploymentSpec,
    cluster_bootstrap,
    group_cells,
    impostor_heatmap,
    impostor_rates,
)

PERSONS = 3_000
REPLICATES = 400


def _deployment(
    rng: np.random.Generator, hit_person: np.ndarray, hit_member: np.ndarray
) -> tuple[DeploymentSpec, DeploymentCounts, pd.DataFrame, pd.DataFrame]:
    persons = pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], PERSONS),
            "residency": rng.choice(["local", "migrant"], PERSONS, p=[0.8, 0.2]),
        }
    )
    members = np.sort(rng.choice(PERSONS, 300, replace=False))
    detected = rng.integers(0, 6, PERSONS)
    enrolled = np.isin(np.arange(PERSONS), members)
    mated = np.where(enrolled, rng.binomial(detected, 0.5), 0)
    tally = pd.DataFrame(
        {
            "deployment": "street",
            "person_id": np.arange(PERSONS),
            "detected": detected,
            "mated_searches": mated,
        }
    )
    empty = np.zeros(PERSONS, np.int64)
    counts = DeploymentCounts(
        sweep_nonmated_alerts=empty[None],
        sweep_true_alerts=empty[None],
        impostor_hits=np.bincount(hit_person, minlength=PERSONS),
        mate_hits=empty,
        gallery_nonmated_alerts=empty[None],
        histogram=np.zeros((1, 2, 1), np.int64),
        impostor_probe=[hit_person],
        impostor_candidate=[members[hit_member]],
    )
    spec = DeploymentSpec("street", "watchlist_screening", 0.6, members)
    return spec, counts, tally, persons


def test_hits_and_comparisons_count_every_pair_of_groups() -> None:
    rng = np.random.default_rng(21)
    hit_person = rng.integers(0, PERSONS, 2_000)
    hit_member = rng.integers(0, 300, 2_000)
    spec, counts, tally, persons = _deployment(rng, hit_person, hit_member)
    # Only persons who were searched can draw false matches.
    searched = tally["detected"].to_numpy()[hit_person] > 0
    hit_person = counts.impostor_probe[0] = hit_person[searched]
    counts.impostor_candidate[0] = counts.impostor_candidate[0][searched]
    cells = group_cells(persons, ["sex", "residency"])
    found = impostor_rates(spec, counts, tally, cells, rng=rng, replicates=50)
    heatmap = impostor_heatmap({"street": found}, cells)
    candidate = counts.impostor_candidate[0]
    for attribute in ("sex", "residency"):
        value = persons[attribute].to_numpy()
        for a in np.unique(value):
            searches = tally["detected"].to_numpy()[value == a].sum()
            for b in np.unique(value):
                own = tally["mated_searches"].to_numpy()[(value == a) & (value == b)].sum()
                row = heatmap[
                    (heatmap["attribute"] == attribute)
                    & (heatmap["probe_value"] == a)
                    & (heatmap["candidate_value"] == b)
                ]
                assert len(row) == 1
                hits = ((value[hit_person] == a) & (value[candidate] == b)).sum()
                members = (value[spec.members] == b).sum()
                assert row["hits"].iloc[0] == hits
                assert row["comparisons"].iloc[0] == searches * members - own
                assert row["ci_low"].iloc[0] <= row["fmr"].iloc[0] <= row["ci_high"].iloc[0]
    # Against the whole gallery (the report's per-group FMR), the first member group.
    whole = found.rates.numerator[:, 0]
    assert whole[0] == len(hit_person)
    assert found.rates.denominator[0, 0] == (
        tally["detected"].sum() * len(spec.members) - tally["mated_searches"].sum()
    )


def test_a_member_who_draws_every_false_match_widens_the_interval() -> None:
    """When one gallery member draws every impostor hit, a replicate that drops
    that member (Poisson weight 0, probability 1/e) has no hits: the interval
    must reach 0, where reweighing probe persons alone stays tight."""
    rng = np.random.default_rng(22)
    hit_person = rng.choice(np.arange(PERSONS), 400, replace=False)
    spec, counts, tally, persons = _deployment(rng, hit_person, np.full(400, 7))
    tally.loc[hit_person, "detected"] = np.maximum(tally.loc[hit_person, "detected"], 1)
    cells = group_cells(persons, ["sex"])
    found = impostor_rates(spec, counts, tally, cells, rng=rng, replicates=REPLICATES)
    replicated = found.whole_gallery[:, 0]
    dropped = np.mean(replicated == 0)
    sampling_error = np.sqrt(np.exp(-1) * (1 - np.exp(-1)) / REPLICATES)
    assert dropped == pytest.approx(np.exp(-1), abs=4.5 * sampling_error)
    low, _ = found.rates.interval(proportion=np.ones(found.rates.numerator.shape[1], bool))
    assert low[0, 0] == 0.0

    comparisons = tally["detected"] * len(spec.members) - tally["mated_searches"]
    persons_only = cluster_bootstrap(
        counts.impostor_hits[:, None].astype(float),
        comparisons.to_numpy(float)[:, None],
        cells.profile,
        cells.cells,
        rng=rng,
        replicates=REPLICATES,
    )
    low_persons, _ = persons_only.interval(proportion=np.array([True]))
    assert persons_only.rate[0, 0] == pytest.approx(found.rates.rate[0, 0])
    assert low_persons[0, 0] > 0.7 * persons_only.rate[0, 0]
