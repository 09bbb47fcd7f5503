"""per_group_table: every group's and pair's counts are its persons' rows added up."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import ALL, load_config
from riskclass.analysis import PER_GROUP_COLUMNS, per_group_table

from .conftest import REPO

COUNTED = ("events", "detected", "mated_searches", "nonmated_searches", "alerts", "false_alerts",
           "true_alerts", "nonmated_alerts", "searchable")  # fmt: skip


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(18)
    n = 500
    persons = pd.DataFrame(
        {
            "person_id": np.arange(n) * 3,  # ids that are not row numbers
            "sex": pd.Categorical(rng.choice(["male", "female"], n), ["male", "female"]),
            "age": pd.Categorical(rng.choice(["child", "adult", "elderly"], n)),
            "employed": rng.random(n) < 0.5,
        }
    )
    # A missing value counts in its deployment's ``all`` row only.
    persons.loc[7, "age"] = np.nan
    tallies = []
    for deployment in ("street", "gates"):
        # Person 1 is missing from the population; a person of it is never sighted.
        ids = np.concatenate([persons["person_id"].to_numpy()[:-1], [1]])
        counts = {column: rng.integers(0, 5, len(ids)) for column in COUNTED}
        counts["searchable"] = counts["searchable"] > 0
        tallies.append(pd.DataFrame({"deployment": deployment, "person_id": ids, **counts}))
    tally = pd.concat(tallies, ignore_index=True)
    tally["deployment"] = pd.Categorical(tally["deployment"], ["street", "gates"])
    return tally, persons


def test_every_group_and_pair_adds_up_its_persons_rows() -> None:
    tally, persons = _inputs()
    deployments = load_config(REPO / "configs" / "default.yaml").deployments
    table = per_group_table(
        tally, persons, attributes=["sex", "age", "employed"], days=2, deployments=deployments
    )
    assert list(table.columns) == list(PER_GROUP_COLUMNS)
    merged = tally.merge(persons, on="person_id", how="left")
    expected_keys = []
    for deployment in ("street", "gates"):
        mine = merged[merged["deployment"] == deployment]
        expected_keys.append((deployment, ALL, ALL))
        for by in (
            ["sex"],
            ["age"],
            ["employed"],
            ["sex", "age"],
            ["sex", "employed"],
            ["age", "employed"],
        ):
            # Groups in the values' own order (the categories', else sorted), observed only.
            for key, rows in mine.groupby(by, observed=True, sort=True):
                value = "&".join(str(v) for v in key)
                expected_keys.append((deployment, "&".join(by), value))
                row = table[
                    (table["deployment"] == deployment)
                    & (table["attribute"] == "&".join(by))
                    & (table["value"] == value)
                ]
                assert len(row) == 1, (deployment, by, value)
                for column in COUNTED:
                    assert row[column].item() == rows[column].sum(), (by, value, column)
                assert row["persons"].item() == len(rows)
        everyone = table[(table["deployment"] == deployment) & (table["attribute"] == ALL)]
        assert everyone["persons"].item() == len(mine) == len(persons)
        assert everyone["events"].item() == mine["events"].sum()
    # Rows come grouping by grouping, each deployment by deployment, values in order.
    groupings = [ALL, "sex", "age", "employed", "sex&age", "sex&employed", "age&employed"]
    order = sorted(
        expected_keys,
        key=lambda k: (groupings.index(k[1]), k[0] != "street", expected_keys.index(k)),
    )
    assert list(table[["deployment", "attribute", "value"]].itertuples(index=False)) == order
    assert "child&True" in set(table["value"])
