"""The population realizes the configured shares within sampling error."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from riskclass import validate_config
from riskclass.synthetic import generate_population

# Two-sided tolerance of a binomial proportion: 4.5 standard errors, so a correct
# generator fails a given check about once in 150,000 runs.
Z = 4.5


def _within_sampling_error(hits: int, n: int, p: float) -> bool:
    return abs(hits / n - p) <= Z * math.sqrt(p * (1 - p) / n) + 1e-12


@pytest.fixture(scope="module")
def population() -> tuple[Any, Any]:
    from .conftest import scaled_default

    data = scaled_default(60_000)
    scenario = validate_config(data)
    return scenario, generate_population(scenario)


def test_unconditional_shares(population: tuple[Any, Any]) -> None:
    scenario, persons = population
    for name in ("ethnicity", "sex", "age"):
        shares = scenario.population.attributes[name].shares
        for value, share in shares.items():
            hits = int((persons[name] == value).sum())
            assert _within_sampling_error(hits, len(persons), share), (name, value, hits)


def test_conditional_shares(population: tuple[Any, Any]) -> None:
    scenario, persons = population
    table = scenario.population.attributes["residency"].shares_given
    for ethnicity, row in table.items():
        group = persons[persons["ethnicity"] == ethnicity]
        hits = int((group["residency"] == "migrant").sum())
        assert _within_sampling_error(hits, len(group), row["migrant"]), ethnicity


def test_resident_bias_sets_home_district_odds(population: tuple[Any, Any]) -> None:
    scenario, persons = population
    # Majority migrants: only the residency=migrant biases apply to them.
    group = persons[(persons["ethnicity"] == "majority") & (persons["residency"] == "migrant")]
    weights = {
        d.name: d.population_share * d.resident_bias.get("residency=migrant", 1.0)
        for d in scenario.districts
    }
    total = sum(weights.values())
    for district, weight in weights.items():
        hits = int((group["home_district"] == district).sum())
        assert _within_sampling_error(hits, len(group), weight / total), district


def test_nobody_unemployed_works_away_and_children_do_not_work(population: tuple[Any, Any]) -> None:
    _, persons = population
    idle = persons[~persons["employed"]]
    assert (idle["home_district"] == idle["work_district"]).all()
    assert not persons.loc[persons["age"] == "child", "employed"].any()
    adults = persons[persons["age"] == "adult"]
    assert _within_sampling_error(int(adults["employed"].sum()), len(adults), 0.75)


def test_person_ids_are_row_numbers(population: tuple[Any, Any]) -> None:
    _, persons = population
    np.testing.assert_array_equal(persons["person_id"].to_numpy(), np.arange(len(persons)))
