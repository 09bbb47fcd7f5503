"""DET curves per group and the impostor heatmap (FMR for every pair of groups)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._cells import GroupCells
from ._run_counts import SCORE_EDGES, DeploymentCounts, DeploymentSpec

DET_COLUMNS = ("deployment", "attribute", "value", "threshold", "fpir", "fnir")
IMPOSTOR_COLUMNS = (
    "deployment", "attribute", "probe_value", "candidate_value", "hits", "comparisons", "fmr",
)  # fmt: skip
# Scores of mated searches that did not return their mate at rank 1: below any threshold.
_NEVER_SCORE = -2.0


def det_points(
    counts: Mapping[str, DeploymentCounts], specs: list[DeploymentSpec], cells: GroupCells
) -> pd.DataFrame:
    """FNIR against FPIR at every threshold, per deployment and single-attribute group.

    Computed by scikit-learn's ``det_curve`` from histograms of rank-1 scores
    (bins 0.0025 wide), weighting each bin by its count.
    """
    from sklearn.metrics import det_curve  # a second's import: only for reports

    scores = np.r_[_NEVER_SCORE, SCORE_EDGES[:-1]]
    rows = []
    single = cells.labels["attribute"].str.count("&") == 0
    for spec in specs:
        if spec.kind == "investigation":
            continue
        histogram = counts[spec.name].histogram
        for index in np.flatnonzero(single.to_numpy()):
            members = cells.cells[:, index]
            negative, positive = histogram[members].sum(axis=0)
            if negative.sum() == 0 or positive.sum() == 0:
                continue
            labels = np.r_[np.zeros(len(scores)), np.ones(len(scores))]
            weights = np.r_[negative, positive].astype(np.float64)
            fpr, fnr, thresholds = det_curve(labels, np.r_[scores, scores], sample_weight=weights)
            label = cells.labels.iloc[index]
            rows.append(
                pd.DataFrame(
                    {
                        "deployment": spec.name,
                        "attribute": label["attribute"],
                        "value": label["value"],
                        "threshold": thresholds,
                        "fpir": fpr,
                        "fnir": fnr,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=DET_COLUMNS)


def impostor_heatmap(
    counts: Mapping[str, DeploymentCounts],
    specs: list[DeploymentSpec],
    cells: GroupCells,
    tally: pd.DataFrame,
    value_codes: Mapping[str, npt.NDArray[np.intp]],
    value_names: Mapping[str, list[str]],
) -> pd.DataFrame:
    """FMR of every (probe group, gallery-member group) pair, per attribute and 1:N deployment.

    Comparisons are every detected search against every gallery member of the
    candidate group, less the search's comparison with its own mate.
    """
    rows = []
    for spec in specs:
        if not spec.searches_gallery:
            continue
        mine = tally[tally["deployment"] == spec.name].sort_values("person_id")
        detected = np.bincount(
            cells.profile, weights=mine["detected"], minlength=len(cells.profiles)
        )
        mated = np.bincount(
            cells.profile, weights=mine["mated_searches"], minlength=len(cells.profiles)
        )
        for attribute, codes in value_codes.items():
            pairs = counts[spec.name].impostor_pairs[attribute]
            names = value_names[attribute]
            probe_code = pd.Categorical(cells.profiles[attribute], categories=names).codes
            members = np.bincount(codes[spec.members], minlength=len(names))
            for a, probe_value in enumerate(names):
                in_a = probe_code == a
                for b, candidate_value in enumerate(names):
                    comparisons = detected[in_a].sum() * members[b] - (
                        mated[in_a].sum() if a == b else 0
                    )
                    hits = int(pairs[in_a, b].sum())
                    rows.append(
                        (spec.name, attribute, probe_value, candidate_value, hits, comparisons,
                         hits / comparisons if comparisons > 0 else np.nan)
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=list(IMPOSTOR_COLUMNS))
