"""Significance holds at true equality: few per-search disparities flagged, intervals
that cover the model's true rates.

With every mechanism of disparity switched off, all groups' per-search rates are
equal and known from the embedding model (see `benchmarks/check_significance.py`,
which runs the same check over more seeds). Five seeds of a small city give about
7,000 per-search disparity rows and 5,000 per-group intervals.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.check_significance import check_seed

SEEDS = range(1, 6)


@pytest.fixture(scope="module")
def at_equality(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    scratch = tmp_path_factory.mktemp("equality")
    found = [check_seed(seed, Path(scratch), size=4000, days=2) for seed in SEEDS]
    return (
        pd.concat([flags for flags, _ in found], ignore_index=True),
        pd.concat([rates for _, rates in found], ignore_index=True),
    )


def test_few_disparities_are_flagged_at_true_equality(
    at_equality: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    flagged, _ = at_equality
    assert len(flagged) > 5000
    # The acceptance bound: at most 6% flagged (the issue measured 7.7% to 8.8% with
    # the best-off group as reference and no adjustment).
    assert flagged["significant"].mean() <= 0.06
    # A reference chosen before looking keeps even the unadjusted tests near their
    # level: at most 6% of p-values under 0.05, in every kind of row.
    unadjusted = (flagged["p_value"] < 0.05).groupby(flagged["category"]).mean()
    assert (unadjusted <= 0.06).all(), unadjusted
    # Every tested row's adjusted interval agrees with its adjusted test.
    tested = flagged[flagged["p_value"].notna()]
    outside = (tested["adjusted_low"] > 1) | (tested["adjusted_high"] < 1)
    pd.testing.assert_series_equal(outside, tested["significant"], check_names=False)


def test_group_intervals_cover_the_true_rates(
    at_equality: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, rates = at_equality
    assert len(rates) > 4000
    covered = rates["covered"].mean()
    assert 0.90 <= covered <= 0.99, rates.groupby("metric")["covered"].mean()
