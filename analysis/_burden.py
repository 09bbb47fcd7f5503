"""Risk burden: the consequences of errors, summed per person, and how they are spread."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from riskclass import Deployment

from ._cells import GroupCells

# Outcomes that are the system's errors against the person they happen to. A false
# accept at a gate lets the presenter in: it is not a burden on them.
WRONGFUL_OUTCOMES = ("false_alert", "false_reject", "not_detected")
BURDEN_COLUMNS = (
    "attribute",
    "value",
    "persons",
    "population_share",
    "mean_burden",
    "burdened_share",
    "burden_share",
    "burden_to_population",
    "multi_deployment_burdened",
    "gini",
)


def alternative_deployments(deployments: Sequence[Deployment]) -> list[list[str]]:
    """Sets of deployments that are alternatives of one another: the same search
    (kind, gallery, cameras, consequences) at different thresholds, over the same
    captures. Summing them would count one sighting's consequences once per
    alternative.

    Examples
    --------
    >>> from riskclass import Deployment
    >>> at = [Deployment(name=f"t{t}", kind="watchlist_screening", threshold=t) for t in (0.5, 0.6)]
    >>> alternative_deployments([*at, Deployment(name="gate", kind="access_gate")])
    [['t0.5', 't0.6']]
    """
    sets: dict[str, list[str]] = {}
    for deployment in deployments:
        search = deployment.model_dump(mode="json", exclude={"name", "threshold"})
        sets.setdefault(json.dumps(search, sort_keys=True), []).append(deployment.name)
    return [names for names in sets.values() if len(names) > 1]


def counted_deployments(
    deployments: Sequence[str], alternatives: Sequence[Sequence[str]]
) -> list[str]:
    """The deployments a burden adds up: all but the second and later of each set of
    alternatives (the first stands for its set)."""
    dropped = {name for names in alternatives for name in names[1:]}
    return [name for name in deployments if name not in dropped]


def person_burden(
    decisions: Iterable[pa.Table],
    *,
    persons: int,
    deployments: list[str],
    costs: Mapping[str, float],
    alternatives: Sequence[Sequence[str]] = (),
) -> pd.DataFrame:
    """Wrongful consequences per person: one column per deployment and a ``burden`` total.

    Each decision whose outcome is in ``WRONGFUL_OUTCOMES`` and that has a
    consequence adds that consequence's cost (default 1) to the person's burden
    in its deployment. The total adds `counted_deployments`: of a set of
    ``alternatives``, only the first.
    """
    burden = np.zeros((len(deployments), persons))
    for table in decisions:
        outcome = table.column("outcome").combine_chunks()
        consequence = table.column("consequence").combine_chunks()
        deployment = table.column("deployment").combine_chunks()
        wrongful = np.isin(np.asarray(outcome.dictionary), WRONGFUL_OUTCOMES)[
            outcome.indices.to_numpy(zero_copy_only=False)
        ]
        cost_of = np.array(
            [costs.get(label, 1.0) for label in consequence.dictionary.to_pylist()] + [0.0]
        )
        codes = consequence.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        cost = np.where(wrongful, cost_of[codes], 0.0)
        names = deployment.dictionary.to_pylist()
        which = np.array([deployments.index(name) for name in names], dtype=np.intp)[
            deployment.indices.to_numpy(zero_copy_only=False)
        ]
        person = table.column("person_id").to_numpy()
        np.add.at(burden, (which[cost > 0], person[cost > 0]), cost[cost > 0])
    frame = pd.DataFrame(burden.T, columns=deployments)
    frame.insert(0, "person_id", np.arange(persons, dtype=np.int64))
    frame["burden"] = frame[counted_deployments(deployments, alternatives)].sum(axis=1)
    return frame


def gini(values: npt.NDArray[np.float64]) -> float:
    """Gini coefficient of non-negative values (0: equal, near 1: all on one person).

    Examples
    --------
    >>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
    0.0
    >>> round(gini(np.array([0.0, 0.0, 0.0, 4.0])), 2)
    0.75
    """
    values = np.sort(values)
    total = values.sum()
    if len(values) == 0 or total == 0:
        return float("nan")
    ranks = np.arange(1, len(values) + 1)
    return float(
        2.0 * np.sum(ranks * values) / (len(values) * total) - (len(values) + 1) / len(values)
    )


def lorenz_curve(values: npt.NDArray[np.float64], points: int = 201) -> pd.DataFrame:
    """Cumulative share of burden held by the least burdened share of persons."""
    values = np.sort(values)
    cumulative = np.r_[0.0, np.cumsum(values)]
    population = np.linspace(0.0, 1.0, points)
    positions = np.round(population * len(values)).astype(int)
    total = cumulative[-1] if cumulative[-1] > 0 else np.nan
    return pd.DataFrame(
        {"population_share": population, "burden_share": cumulative[positions] / total}
    )


def burden_by_group(
    burden: pd.DataFrame, deployments: list[str], cells: GroupCells
) -> pd.DataFrame:
    """Per group: mean burden, share burdened, share of all burden, Gini within the group."""
    total = burden["burden"].to_numpy()
    burdened_in = (burden[deployments].to_numpy() > 0).sum(axis=1)
    rows = []
    all_burden = total.sum()
    labels = zip(cells.labels["attribute"], cells.labels["value"], strict=True)
    for index, (attribute, value) in enumerate(labels):
        members = cells.cells[cells.profile, index]
        mine = total[members]
        n = int(members.sum())
        share = mine.sum() / all_burden if all_burden > 0 else np.nan
        population_share = n / len(total)
        rows.append(
            (
                attribute,
                value,
                n,
                population_share,
                mine.mean() if n else np.nan,
                (mine > 0).mean() if n else np.nan,
                share,
                share / population_share if n else np.nan,
                int((burdened_in[members] > 1).sum()),
                gini(mine),
            )
        )
    return pd.DataFrame(rows, columns=list(BURDEN_COLUMNS))


def alternative_burden(
    burden: pd.DataFrame,
    deployments: Sequence[str],
    alternatives: Sequence[Sequence[str]],
    cells: GroupCells,
) -> pd.DataFrame:
    """`burden_by_group` once per alternative, with it in place of its set's first:
    what residents would bear under each alternative. Column ``alternative`` names it."""
    counted = counted_deployments(deployments, alternatives)
    tables = []
    for names in alternatives:
        for name in names:
            chosen = [name if d == names[0] else d for d in counted]
            total = burden.assign(burden=burden[chosen].sum(axis=1))
            tables.append(burden_by_group(total, chosen, cells).assign(alternative=name))
    columns = ["alternative", *BURDEN_COLUMNS]
    return (
        pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    )
