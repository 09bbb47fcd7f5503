"""Two formulas the report computes itself instead of importing a library for them
(each import was about a second of a report's time) give that library's floats."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import det_curve as sklearn_det_curve

from riskclass.analysis import benjamini_hochberg, det_curve


@pytest.mark.parametrize("size", [1, 2, 17, 400])
def test_benjamini_hochberg_is_scipys_to_the_float(size: int) -> None:
    rng = np.random.default_rng(size)
    p = rng.uniform(size=size) ** 3
    # Ties and the top of the range, where the order of equal p-values could matter.
    p[: size // 3] = p[0]
    p[size // 2 :: 5] = 1.0
    expected = stats.false_discovery_control(p, method="bh")
    np.testing.assert_array_equal(benjamini_hochberg(p), expected)


@pytest.mark.parametrize("seed", range(6))
def test_det_curve_is_scikit_learns_to_the_float(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = np.r_[-2.0, np.linspace(-1.0, 1.0, 801)[:-1]]
    # Sparse histograms as a report's: most bins empty, some with one class only, and
    # (seeds 0 and 1) negatives above every positive or none above the lowest positive.
    negative = rng.poisson(rng.uniform(0, 3, len(scores)) * (rng.uniform(size=len(scores)) < 0.3))
    positive = rng.poisson(rng.uniform(0, 3, len(scores)) * (rng.uniform(size=len(scores)) < 0.3))
    negative[[3, 500]] += 1
    positive[[200, 700]] += 1
    if seed == 0:
        negative[-1] += 5
    if seed == 1:
        negative[:200] = 0
    labels = np.r_[np.zeros(len(scores)), np.ones(len(scores))]
    weights = np.r_[negative, positive].astype(np.float64)
    expected = sklearn_det_curve(labels, np.r_[scores, scores], sample_weight=weights)
    for mine, theirs in zip(det_curve(scores, negative, positive), expected, strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
