"""Exact group counts, and galleries that the population cannot fill, refused by `validate`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from riskclass import ConfigError, validate_config
from riskclass.commands import EXIT_USAGE, main
from riskclass.synthetic import generate_population


def _role_then_ethnicity(
    form: str, role: dict[str, float], ethnicity: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """Attributes ``role``, then ``ethnicity`` given the role, both given as ``form``
    (``counts`` or ``shares``)."""
    return {"role": {form: role}, "ethnicity": {"given": "role", f"{form}_given": ethnicity}}


COUNTS = _role_then_ethnicity(
    "counts",
    {"member": 53, "arrestee": 2500},
    {"member": {"white": 42, "poc": 11}, "arrestee": {"white": 1500, "poc": 1000}},
)
# The group sizes COUNTS asks for, by (role, ethnicity).
WANTED = {
    (role, ethnicity): n
    for role, row in COUNTS["ethnicity"]["counts_given"].items()
    for ethnicity, n in row.items()
}


def _config(attributes: dict[str, Any], *, size: int = 2553, gallery: int = 2500) -> dict[str, Any]:
    return {
        "name": "exact",
        "seed": 5,
        "days": 1,
        "population": {"size": size, "attributes": copy.deepcopy(attributes)},
        "districts": [
            {
                "name": "city",
                "population_share": 1.0,
                "cameras_per_1000": 0.0,
                "camera_mix": {"street": 1.0},
            }
        ],
        "galleries": [
            {"name": "arrests", "size": gallery, "over_representation": {"role=member": 0}}
        ],
    }


def _sizes(data: dict[str, Any], seed: int) -> dict[tuple[str, str], int]:
    persons = generate_population(validate_config({**data, "seed": seed}))
    sizes = persons.groupby(["role", "ethnicity"], observed=True).size()
    return {key: int(n) for key, n in sizes.items()}


def test_counts_and_counts_given_are_exact_for_every_seed() -> None:
    data = _config(COUNTS)
    assert _sizes(data, 1) == WANTED
    assert _sizes(data, 2) == WANTED


def test_exact_counts_are_drawn_in_an_order_fixed_by_the_seed() -> None:
    scenario = validate_config(_config(COUNTS))
    first, again = generate_population(scenario), generate_population(scenario)
    assert first["role"].equals(again["role"]) and first["ethnicity"].equals(again["ethnicity"])
    other = generate_population(validate_config({**_config(COUNTS), "seed": 6}))
    assert not first["role"].equals(other["role"])


def test_exact_shares_are_rounded_by_largest_remainder() -> None:
    attributes = _role_then_ethnicity(
        "shares",
        {"member": 0.0207, "arrestee": 0.9793},
        {"member": {"white": 0.8, "poc": 0.2}, "arrestee": {"white": 0.6, "poc": 0.4}},
    )
    data = _config(attributes, gallery=2400)
    data["population"]["exact"] = True
    # 2,553 x 0.0207 = 52.85: 53 members; 53 x 0.2 = 10.6: 11 people of colour;
    # 2,500 arrestees x 0.6 = 1,500 white: the sizes that COUNTS gives exactly.
    assert _sizes(data, 1) == WANTED


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"role": {"counts": {"member": 53, "arrestee": 2499}}}, "population",
         "attributes.role.counts: counts must sum to population.size (2,553), they sum to 2,552"),
        ({"ethnicity": {"given": "role", "counts_given": {
            "member": {"white": 42, "poc": 11}, "arrestee": {"white": 1500, "poc": 999}}}},
         "population", "attributes.ethnicity.counts_given.arrestee: counts must sum to the "
         "count of each value of 'role' (2,500), they sum to 2,499"),
        ({"role": {"shares": {"member": 0.02, "arrestee": 0.98}}}, "population",
         "'role' is drawn by shares"),
        ({"role": {"counts": {"member": 53, "arrestee": 2500}, "shares": {"member": 1.0}}},
         "population.attributes.role", "give one of 'shares', 'counts'"),
    ],
    ids=["counts-sum", "counts-given-sum", "counts-given-of-shares", "two-forms"],
)  # fmt: skip
def test_counts_that_do_not_add_up_are_named(
    change: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(_config({**COUNTS, **change}))
    [(got_field, got_message)] = caught.value.problems
    assert got_field == field and message in got_message


def test_validate_refuses_a_gallery_larger_than_its_eligible_persons(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Exactly the 2,500 arrestees are eligible: all of them can be listed, not one more.
    assert main(["validate", str(write_config(_config(COUNTS)))]) == 0
    path = write_config(_config(COUNTS, gallery=2501))
    assert main(["validate", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert (
        f"{path}: galleries.0.size: 2,501 members, but only 2,500 persons have a positive "
        "weight in its over_representation"
    ) in err
    assert "Traceback" not in err


def test_validate_refuses_a_gallery_that_drawn_persons_would_often_not_fill(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    attributes = {"role": {"shares": {"member": 0.0207, "arrestee": 0.9793}}}
    # About 2,500 arrestees (sd 7.2) are drawn: 2,470 fit 3 sd below that, 2,490 do not.
    assert main(["validate", str(write_config(_config(attributes, gallery=2470)))]) == 0
    path = write_config(_config(attributes, gallery=2490))
    assert main(["validate", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{path}: galleries.0.size: 2,490 members, but about 2,500 persons (sd 7.2" in err
