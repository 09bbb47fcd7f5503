"""The groups a report covers: every attribute value, every pair of values, and all."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import ALL


@dataclass(frozen=True)
class GroupCells:
    """Reported groups as unions of profiles (full combinations of attribute values).

    ``profile``: each person's profile code; ``cells``: ``(profiles, groups)``
    membership; ``labels``: one row per group with ``attribute`` and ``value``
    (names and values of intersections joined by ``&``).
    """

    profile: npt.NDArray[np.intp]
    cells: npt.NDArray[np.bool_]
    labels: pd.DataFrame
    profiles: pd.DataFrame

    @property
    def persons(self) -> npt.NDArray[np.int64]:
        """Residents per group."""
        counts = np.bincount(self.profile, minlength=self.cells.shape[0])
        return np.asarray(counts @ self.cells, dtype=np.int64)


def group_cells(persons: pd.DataFrame, attributes: Sequence[str]) -> GroupCells:
    """Profiles and groups of ``persons`` over ``attributes`` (see `GroupCells`).

    Examples
    --------
    >>> persons = pd.DataFrame({"sex": ["f", "m", "f"], "age": ["old", "old", "young"]})
    >>> cells = group_cells(persons, ["sex", "age"])
    >>> cells.labels.assign(persons=cells.persons).values.tolist()[:4]
    [['all', 'all', 3], ['sex', 'f', 2], ['sex', 'm', 1], ['age', 'old', 2]]
    >>> cells.labels["value"].tolist()[-3:]
    ['f&old', 'f&young', 'm&old']
    """
    columns = list(attributes)
    # Each person's profile as one integer, from each attribute's values in sorted
    # order: converting every person's values to text costs a second per 100,000.
    key = np.zeros(len(persons), np.int64)
    names: list[npt.NDArray[np.str_]] = []
    for column in columns:
        code, found = pd.factorize(persons[column], use_na_sentinel=False)
        text = np.asarray(pd.Index(found).astype(str), dtype=str)
        order = np.argsort(text, kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        key = key * len(order) + rank[code]
        names.append(text[order])
    present, code = np.unique(key, return_inverse=True)
    values: dict[str, npt.NDArray[np.str_]] = {}
    for column, text in zip(reversed(columns), reversed(names), strict=True):
        present, digit = np.divmod(present, len(text))
        values[column] = text[digit]
    profiles = pd.DataFrame({column: values[column] for column in columns}).astype(str)
    labels: list[tuple[str, str]] = [(ALL, ALL)]
    members: list[npt.NDArray[np.bool_]] = [np.ones(len(profiles), dtype=bool)]
    groupings = [[a] for a in columns] + [list(p) for p in itertools.combinations(columns, 2)]
    for grouping in groupings:
        for row in sorted(set(zip(*(values[name] for name in grouping), strict=True))):
            labels.append(("&".join(grouping), "&".join(row)))
            members.append(
                np.logical_and.reduce(
                    [values[name] == part for name, part in zip(grouping, row, strict=True)]
                )
            )
    return GroupCells(
        profile=np.asarray(code, dtype=np.intp),
        cells=np.column_stack(members),
        labels=pd.DataFrame(labels, columns=["attribute", "value"]),
        profiles=profiles,
    )
