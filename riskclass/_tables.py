"""Column and row helpers shared by the tables that stages write and read."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

CATEGORY = pa.dictionary(pa.int16(), pa.string())

# The keys the run's tables are joined on, typed once so that the tables agree.
EVENT_ID = pa.field("event_id", pa.int64())
PERSON_ID = pa.field("person_id", pa.int64())
DEPLOYMENT = pa.field("deployment", CATEGORY)
PERIOD = pa.field("period", pa.int32())


def category_array(codes: npt.ArrayLike, names: list[str]) -> pa.DictionaryArray:
    """A dictionary-encoded string column; negative codes become nulls."""
    codes = np.asarray(codes)
    indices = pa.array(codes.astype(np.int16), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string()))


def records(frame: pd.DataFrame) -> list[Any]:
    """The rows of ``frame`` as named tuples; their fields are as untyped as a frame's cells."""
    return list(frame.itertuples(index=False))
