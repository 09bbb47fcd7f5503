"""The impostor heatmap: FMR of every (probe group, gallery-member group) pair.

Impostor comparisons share subjects on both sides: one person's many searches, and
one gallery member compared with every probe. Intervals come from a two-way
(pigeonhole) bootstrap that reweighs probe persons and gallery members
independently with Poisson(1) weights, widened to the Wilson interval of the
counts where that is wider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from ._bootstrap import CLUSTER_REPLICATES
from ._intervals import CONFIDENCE, wilson_interval
from ._run_counts import DeploymentCounts, DeploymentSpec

IMPOSTOR_COLUMNS = (
    "deployment", "attribute", "probe_value", "candidate_value", "hits", "comparisons", "fmr",
    "ci_low", "ci_high",
)  # fmt: skip
# Probe persons per block of bootstrap weights: bounds memory at replicates x block.
_BLOCK = 16_384


def impostor_heatmap(
    counts: Mapping[str, DeploymentCounts],
    specs: Sequence[DeploymentSpec],
    tally: pd.DataFrame,
    value_codes: Mapping[str, npt.NDArray[np.intp]],
    value_names: Mapping[str, list[str]],
    *,
    rng: np.random.Generator,
    replicates: int = CLUSTER_REPLICATES,
) -> pd.DataFrame:
    """FMR per attribute and (probe value, gallery-member value), per 1:N deployment.

    Comparisons are every detected search against every gallery member of the
    candidate group, less each mated search's comparison with its own mate.
    """
    rows = []
    for spec in specs:
        if not spec.searches_gallery:
            continue
        mine = tally[tally["deployment"] == spec.name].sort_values("person_id")
        searches = mine["detected"].to_numpy(np.float64)
        mated = mine["mated_searches"].to_numpy(np.float64)
        found = counts[spec.name]
        probe = np.concatenate([*found.impostor_probe, np.empty(0, np.int64)])
        candidate = np.concatenate([*found.impostor_candidate, np.empty(0, np.int64)])
        weights = _Weights(searches, mated, probe, candidate, spec.members, value_codes, rng,
                           replicates)  # fmt: skip
        for attribute, codes in value_codes.items():
            names = value_names[attribute]
            size = len(names)
            # Point counts and replicated sums per (probe value, member value) cell.
            cell = codes[probe] * size + codes[candidate]
            hits = np.bincount(cell, minlength=size * size)
            replicated_hits = weights.hit_sums(cell, size * size)
            search_sum = np.bincount(codes, weights=searches, minlength=size)
            mated_sum = np.bincount(codes, weights=mated, minlength=size)
            members = np.bincount(codes[spec.members], minlength=size)
            for a in range(size):
                for b in range(size):
                    own = mated_sum[a] if a == b else 0.0
                    comparisons = search_sum[a] * members[b] - own
                    denominator = weights.searches[attribute][:, a] * weights.members[attribute][
                        :, b
                    ] - (weights.mated[attribute][:, a] if a == b else 0.0)
                    count = int(hits[a * size + b])
                    low, high = _interval(
                        count, comparisons, replicated_hits[:, a * size + b], denominator
                    )
                    rate = count / comparisons if comparisons > 0 else np.nan
                    rows.append(
                        (spec.name, attribute, names[a], names[b], count, int(comparisons), rate,
                         low, high)
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=list(IMPOSTOR_COLUMNS))


class _Weights:
    """One deployment's bootstrap weights: per probe person and per gallery member."""

    def __init__(
        self,
        searches: npt.NDArray[np.float64],
        mated: npt.NDArray[np.float64],
        probe: npt.NDArray[np.int64],
        candidate: npt.NDArray[np.int64],
        members: npt.NDArray[np.int64],
        value_codes: Mapping[str, npt.NDArray[np.intp]],
        rng: np.random.Generator,
        replicates: int,
    ) -> None:
        hit_persons, hit_index = np.unique(probe, return_inverse=True)
        probe_weight = np.empty((replicates, len(hit_persons)))
        self.searches = {a: np.zeros((replicates, c.max() + 1)) for a, c in value_codes.items()}
        self.mated = {a: np.zeros((replicates, c.max() + 1)) for a, c in value_codes.items()}
        searchers = np.flatnonzero(searches > 0)
        for start in range(0, len(searchers), _BLOCK):
            block = searchers[start : start + _BLOCK]
            weight = rng.poisson(1.0, (replicates, len(block))).astype(np.float64)
            for attribute, codes in value_codes.items():
                onehot = _onehot(codes[block], self.searches[attribute].shape[1])
                self.searches[attribute] += np.asarray((weight * searches[block]) @ onehot)
                self.mated[attribute] += np.asarray((weight * mated[block]) @ onehot)
            within = np.searchsorted(block, hit_persons)
            inside = (within < len(block)) & (
                block[np.minimum(within, len(block) - 1)] == hit_persons
            )
            probe_weight[:, inside] = weight[:, within[inside]]
        member_weight = rng.poisson(1.0, (replicates, len(members))).astype(np.float64)
        self.members = {
            attribute: np.asarray(
                member_weight @ _onehot(codes[members], self.searches[attribute].shape[1])
            )
            for attribute, codes in value_codes.items()
        }
        position = np.full(max(int(members.max(initial=0)), int(candidate.max(initial=0))) + 1, -1)
        position[members] = np.arange(len(members))
        self._hit_weight = probe_weight[:, hit_index] * member_weight[:, position[candidate]]

    def hit_sums(self, cell: npt.NDArray[np.int64], cells: int) -> npt.NDArray[np.float64]:
        """``(replicates, cells)``: each cell's hits, each weighted by both its subjects."""
        return np.asarray(self._hit_weight @ _onehot(cell, cells))


def _onehot(codes: npt.NDArray[np.integer], width: int) -> sparse.csr_matrix:
    return sparse.csr_matrix(
        (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), width)
    )


def _interval(
    hits: int,
    comparisons: float,
    replicated_hits: npt.NDArray[np.float64],
    replicated_comparisons: npt.NDArray[np.float64],
) -> tuple[float, float]:
    if comparisons <= 0:
        return (np.nan, np.nan)
    wilson = wilson_interval(hits, int(comparisons))
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = replicated_hits / replicated_comparisons
    rates = rates[np.isfinite(rates)]
    if len(rates) == 0:
        return wilson
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(rates, [tail, 1.0 - tail])
    return (min(float(low), wilson[0]), max(float(high), wilson[1]))
