"""DET curves per group, from histograms of rank-1 scores."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._cells import GroupCells
from ._run_counts import SCORE_EDGES, DeploymentCounts, DeploymentSpec

DET_COLUMNS = ("deployment", "attribute", "value", "threshold", "fpir", "fnir")
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
        if not spec.info.sweeps_thresholds:
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
