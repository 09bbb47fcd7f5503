"""Per-group decision counts and rates: FPIR, FNIR and false alerts per resident."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from riskclass import ALL, Deployment

PER_GROUP_COLUMNS = (
    "deployment",
    "attribute",
    "value",
    "persons",
    "searchable",
    "events",
    "detected",
    "mated_searches",
    "nonmated_searches",
    "alerts",
    "false_alerts",
    "nonmated_alerts",
    "true_alerts",
    "fpir",
    "fnir",
    "false_alerts_per_1000_per_day",
)
_SUMMED = ("events", "detected", "mated_searches", "nonmated_searches", "alerts", "false_alerts")


def per_group_table(
    tally: pd.DataFrame,
    persons: pd.DataFrame,
    *,
    attributes: Sequence[str],
    days: int,
    deployments: Sequence[Deployment],
) -> pd.DataFrame:
    """Aggregate per-person decision counts to every group and pair of groups.

    Parameters
    ----------
    tally:
        One row per deployment and person, with the pipeline's counters
        (``Tally.frame()``) and ``searchable`` (whether the deployment's cameras can
        sight the person at all, `searchable_persons`).
    persons:
        The population, with one column per attribute.
    attributes:
        Attributes to report: each value on its own, and each pair of attributes'
        intersections, plus an ``all`` row per deployment.
    days:
        Days simulated, for rates per resident per day.
    deployments:
        The scenario's deployments, for what their kinds count (`KindInfo`).

    Returns
    -------
    pandas.DataFrame with ``PER_GROUP_COLUMNS``. FPIR is alerting non-mated
    searches over non-mated searches; FNIR is mated searches whose mate was not
    returned at rank 1 at or above threshold, over mated searches; false alerts per
    1,000 residents per day count over the group's ``searchable`` residents (those
    the deployment's cameras can sight), not all its ``persons``, and are NaN for
    batch kinds, whose trials are photos searched once; rates with no searches are
    NaN.
    """
    frame = tally.merge(persons[["person_id", *attributes]], on="person_id", how="left")
    frame["persons"] = 1
    counted = [*_SUMMED, "true_alerts", "nonmated_alerts", "persons", "searchable"]
    # Summed once per deployment and profile (a value of every attribute): each group
    # and pair of groups then adds up a few hundred profiles' whole counts, the same
    # integers as adding up its persons' rows (16 passes over every row took a
    # twentieth of a run).
    profiles = (
        frame.groupby(["deployment", *attributes], observed=True, dropna=False)[counted]
        .sum()
        .reset_index()
    )
    parts = [_aggregate(profiles, [], counted)]
    for attribute in attributes:
        parts.append(_aggregate(profiles, [attribute], counted))
    for pair in itertools.combinations(attributes, 2):
        parts.append(_aggregate(profiles, list(pair), counted))
    table = pd.concat(parts, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        nonmated = table["nonmated_searches"].where(table["nonmated_searches"] > 0)
        mated = table["mated_searches"].where(table["mated_searches"] > 0)
        table["fpir"] = table["nonmated_alerts"] / nonmated
        table["fnir"] = 1 - table["true_alerts"] / mated
        batch = table["deployment"].isin([d.name for d in deployments if d.info.batch])
        residents = table["searchable"].where((table["searchable"] > 0) & ~batch)
        table["false_alerts_per_1000_per_day"] = 1000 * table["false_alerts"] / residents / days
    return table[list(PER_GROUP_COLUMNS)]


def _aggregate(frame: pd.DataFrame, by: list[str], counted: list[str]) -> pd.DataFrame:
    if not by:
        sums = frame.groupby("deployment", observed=True)[counted].sum().reset_index()
        sums["attribute"], sums["value"] = ALL, ALL
        return sums
    sums = frame.groupby(["deployment", *by], observed=True)[counted].sum().reset_index()
    sums["attribute"] = "&".join(by)
    sums["value"] = sums[by].astype(str).agg("&".join, axis=1)
    return sums.drop(columns=by)
