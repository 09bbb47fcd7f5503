"""Rates with no or few events keep an honest upper bound, proportions and counts alike."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from riskclass.analysis import Metric, group_cells, poisson_interval, rates_by_group


@pytest.mark.parametrize("count", [0, 1, 4, 37])
def test_poisson_interval_is_garwoods(count: int) -> None:
    low, high = poisson_interval(count)
    assert high == pytest.approx(chi2.ppf(0.975, 2 * count + 2) / 2, rel=1e-12)
    assert low == (0.0 if count == 0 else pytest.approx(chi2.ppf(0.025, 2 * count) / 2))


def test_a_group_with_no_false_alerts_gets_an_upper_bound() -> None:
    import pandas as pd

    persons = pd.DataFrame({"group": ["a"] * 500 + ["b"] * 500})
    cells = group_cells(persons, ["group"])
    false_alerts = np.zeros(1000)
    false_alerts[:3] = 1.0  # three in group a, none in group b
    days = 7
    metric = Metric(
        "false_alerts_per_1000_per_day",
        false_alerts * 1000.0 / days,
        np.ones(1000),
        proportion=False,
        per_count=1000.0 / days,
    )
    table, _ = rates_by_group("d", [metric], cells, reference={}, rng=np.random.default_rng(1))
    b = table[table["value"] == "b"].iloc[0]
    assert b["rate"] == 0.0 and b["ci_low"] == 0.0
    # Zero events in 500 residents x 7 days: the count's upper bound is 3.689.
    assert b["ci_high"] == pytest.approx(3.689 * 1000.0 / days / 500, rel=1e-3)
