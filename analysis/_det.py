"""DET curves per group, from histograms of rank-1 scores."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
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

    From histograms of rank-1 scores (bins 0.0025 wide), each bin weighted by its
    count (see `det_curve`).
    """
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
            fpr, fnr, thresholds = det_curve(scores, negative, positive)
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


def det_curve(
    scores: npt.NDArray[np.float64],
    negative: npt.NDArray[np.int64],
    positive: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """False positive and false negative rates at each threshold, from counts per score.

    ``scores`` ascending and distinct; ``negative`` and ``positive`` the counts of
    negatives and positives at each. The same floats as scikit-learn's
    ``det_curve(labels, scores, sample_weight=counts)`` over both classes' scores
    (a test compares them): thresholds at the scores with a count (the highest
    first in scikit-learn's order, returned ascending), from the last one where no
    negative passes to the first where every positive does, with ``inf`` where no
    finite threshold stops every negative. Counts add exactly in float64, so the
    order of the sums does not matter. Written out because importing scikit-learn
    was a second of a report's time for these few lines.
    """
    kept = (negative + positive) > 0
    descending = scores[kept][::-1]
    fps = np.r_[0.0, np.cumsum(negative[kept][::-1], dtype=np.float64)]
    tps = np.r_[0.0, np.cumsum(positive[kept][::-1], dtype=np.float64)]
    thresholds = np.r_[np.inf, descending.astype(np.float64)]
    fns = tps[-1] - tps
    # From the last threshold with no false positives to the first with no false negatives.
    cut = slice(np.searchsorted(fps, fps[0], side="right") - 1, np.searchsorted(tps, tps[-1]) + 1)
    return fps[cut][::-1] / fps[-1], fns[cut][::-1] / tps[-1], thresholds[cut][::-1]
