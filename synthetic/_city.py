"""The city's cameras: how many each district has, and of which kind."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import Scenario


def place_cameras(scenario: Scenario, persons: pd.DataFrame) -> pd.DataFrame:
    """Place cameras in proportion to each district's residents and density.

    District ``d`` gets ``round(residents_d * cameras_per_1000 / 1000)`` cameras,
    split among kinds by ``camera_mix`` with largest-remainder rounding so the
    counts are exact and deterministic.

    Returns a frame with ``camera_id``, ``district`` and ``kind`` (categoricals).
    """
    kinds = list(scenario.camera_kinds)
    residents = np.bincount(
        persons["home_district"].cat.codes.to_numpy(), minlength=len(scenario.districts)
    )
    district_codes: list[npt.NDArray[np.intp]] = []
    kind_codes: list[npt.NDArray[np.intp]] = []
    for index, district in enumerate(scenario.districts):
        total = round(residents[index] * district.cameras_per_1000 / 1000)
        mix = np.array([district.camera_mix.get(kind, 0.0) for kind in kinds])
        counts = _largest_remainder(total, mix)
        kind_codes.append(np.repeat(np.arange(len(kinds)), counts))
        district_codes.append(np.full(total, index, dtype=np.intp))
    return pd.DataFrame(
        {
            "camera_id": np.arange(sum(len(c) for c in kind_codes), dtype=np.int32),
            "district": pd.Categorical.from_codes(
                np.concatenate(district_codes), categories=pd.Index(scenario.district_names)
            ),
            "kind": pd.Categorical.from_codes(
                np.concatenate(kind_codes), categories=pd.Index(kinds)
            ),
        }
    )


def _largest_remainder(total: int, shares: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(np.intp)
    shortfall = total - int(counts.sum())
    # Stable sort so ties go to the kind listed first.
    counts[np.argsort(-(exact - counts), kind="stable")[:shortfall]] += 1
    return counts
