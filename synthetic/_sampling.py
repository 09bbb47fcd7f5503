"""Vectorised categorical draws shared by the generators."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def draw_categories(
    rng: np.random.Generator, weights: Sequence[float] | npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.intp]:
    """Draw ``size`` category indices with probabilities proportional to ``weights``."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    picks = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
    return np.minimum(picks, len(cumulative) - 1)


def draw_rows(rng: np.random.Generator, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """One category index per row of ``weights`` (rows need not be normalised)."""
    cumulative = np.cumsum(weights, axis=1)
    targets = rng.random(len(weights)) * cumulative[:, -1]
    picks = (cumulative <= targets[:, None]).sum(axis=1)
    return np.minimum(picks, weights.shape[1] - 1)
