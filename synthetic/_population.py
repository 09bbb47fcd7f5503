"""The population: persons with group attributes, home and work districts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import SCENARIO, ConfigError, Scenario, Stream, resolve_by_group, rng_for

from ._sampling import draw_categories, draw_rows

_NOWHERE_TO_LIVE = (
    "{count} persons (e.g. person {example}) have resident_bias 0 in every district, "
    "so they have nowhere to live"
)


def generate_population(scenario: Scenario) -> pd.DataFrame:
    """Draw the persons of ``scenario``.

    Returns a frame with ``person_id``, one categorical column per attribute (in
    config order), ``home_district``, ``work_district`` (categoricals over the
    district names), ``employed`` and ``enrolled_years_ago`` (age of the person's
    ID photo, uniform up to ``algorithm.enrollment_years_max``).
    """
    rng = rng_for(scenario.seed, Stream.POPULATION)
    size = scenario.population.size
    persons = pd.DataFrame({"person_id": np.arange(size, dtype=np.int64)})
    exact = scenario.population.exact_counts()
    for name, attribute in scenario.population.attributes.items():
        values = attribute.values
        codes = np.empty(size, dtype=np.intp)
        given = (
            persons[attribute.given].to_numpy()
            if attribute.given is not None
            else np.full(size, "", dtype=object)
        )
        for given_value, row in attribute.rows.items():
            rows = given == given_value
            if name in exact:
                # Exactly these counts, in random order among the rows.
                counts = exact[name][given_value]
                codes[rows] = rng.permutation(np.repeat(np.arange(len(values)), counts))
            else:
                codes[rows] = draw_categories(rng, [row[v] for v in values], int(rows.sum()))
        persons[name] = pd.Categorical.from_codes(codes, categories=pd.Index(values))

    home = _draw_homes(scenario, persons, rng)
    employed_share = np.array(
        resolve_by_group(scenario.mobility.employed, persons, default=0.0), dtype=np.float64
    )
    employed = rng.random(size) < employed_share
    works_at_home = rng.random(size) < scenario.mobility.work_in_home_district
    jobs = [
        d.jobs_share if d.jobs_share is not None else d.population_share for d in scenario.districts
    ]
    elsewhere = draw_categories(rng, jobs, size)
    work = np.where(employed & ~works_at_home, elsewhere, home)

    names = scenario.district_names
    persons["home_district"] = pd.Categorical.from_codes(home, categories=pd.Index(names))
    persons["work_district"] = pd.Categorical.from_codes(work, categories=pd.Index(names))
    persons["employed"] = employed
    persons["enrolled_years_ago"] = (
        rng.random(size) * scenario.algorithm.enrollment_years_max
    ).astype(np.float32)
    return persons


def _draw_homes(
    scenario: Scenario, persons: pd.DataFrame, rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    weights = np.column_stack(
        [
            district.population_share
            * np.array(resolve_by_group(district.resident_bias, persons, default=1.0))
            for district in scenario.districts
        ]
    )
    homeless = weights.sum(axis=1) <= 0
    if homeless.any():
        raise ConfigError(
            SCENARIO,
            [
                (
                    "districts.*.resident_bias",
                    _NOWHERE_TO_LIVE.format(
                        count=int(homeless.sum()), example=int(np.flatnonzero(homeless)[0])
                    ),
                )
            ],
        )
    return draw_rows(rng, weights)
