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
    values = persons[columns].astype(str)
    profiles = values.drop_duplicates().sort_values(columns).reset_index(drop=True)
    code = pd.MultiIndex.from_frame(profiles).get_indexer(pd.MultiIndex.from_frame(values))
    labels: list[tuple[str, str]] = [(ALL, ALL)]
    members: list[npt.NDArray[np.bool_]] = [np.ones(len(profiles), dtype=bool)]
    groupings = [[a] for a in columns] + [list(p) for p in itertools.combinations(columns, 2)]
    for grouping in groupings:
        present = profiles[grouping].drop_duplicates().sort_values(grouping)
        for row in present.itertuples(index=False):
            labels.append(("&".join(grouping), "&".join(row)))
            members.append((profiles[grouping] == list(row)).all(axis=1).to_numpy())
    return GroupCells(
        profile=np.asarray(code, dtype=np.intp),
        cells=np.column_stack(members),
        labels=pd.DataFrame(labels, columns=["attribute", "value"]),
        profiles=profiles,
    )
