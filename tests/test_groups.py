"""Resolving a group-keyed table to each person's entry."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import resolve_by_group, resolve_index


def test_each_person_gets_the_very_entry_its_index_names() -> None:
    """On 2,000 random persons, every entry is the table's own object (tuples too,
    which an array could unpack), at the position `resolve_index` chose."""
    rng = np.random.default_rng(4)
    persons = pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], 2000),
            "age": rng.choice(["child", "adult", "elderly"], 2000),
        }
    )
    table = {
        "sex=female": (1.0, 2.0),
        "age=elderly&sex=female": (3.0, 4.0),
        "age=child": (5.0, 6.0),
    }
    default = (0.0, 0.0)
    entries = [default, *table.values()]
    found = resolve_by_group(table, persons, default=default)
    index = resolve_index(table, persons)
    assert type(found) is list and len(found) == len(persons)
    assert all(entry is entries[i] for entry, i in zip(found, index, strict=True))
    assert set(index.tolist()) == {0, 1, 2, 3}
