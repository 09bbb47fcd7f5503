"""Impostor comparison rates (FMR) by probe group and gallery-member group.

Impostor comparisons share subjects on both sides: one person's many searches, and
one gallery member compared with every probe (a member who resembles many people
draws false matches from all of them). Intervals therefore come from a two-way
(pigeonhole) bootstrap that reweighs probe persons and gallery members
independently with Poisson(1) weights, widened to the Wilson interval of the
counts where that is wider. The same replicates give the per-group FMR of the
report's metrics (against the whole gallery) and the impostor heatmap (against
each group of members).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from riskclass import ALL

from ._bootstrap import BLOCK, CLUSTER_REPLICATES, BootstrapRates, distinct_rows
from ._cells import GroupCells
from ._run_counts import DeploymentCounts, DeploymentSpec

IMPOSTOR_COLUMNS = (
    "deployment",
    "attribute",
    "probe_value",
    "candidate_value",
    "hits",
    "comparisons",
    "fmr",
    "ci_low",
    "ci_high",
)


@dataclass(frozen=True)
class ImpostorRates:
    """One deployment's impostor rates of every (group, member group) pair.

    ``rates`` holds ``(groups, member groups)`` hits and comparisons and
    ``(replicates, groups, member groups)`` replicated FMR; groups are those of
    `GroupCells`, member groups are ``member_groups`` (indexes into the same
    labels): the whole gallery first, then each value of each attribute.
    """

    rates: BootstrapRates
    member_groups: npt.NDArray[np.intp]

    @property
    def whole_gallery(self) -> npt.NDArray[np.float64]:
        """``(replicates, groups)``: replicated FMR against every member."""
        return self.rates.replicates[:, :, 0]


def impostor_rates(
    spec: DeploymentSpec,
    counts: DeploymentCounts,
    tally: pd.DataFrame,
    cells: GroupCells,
    *,
    rng: np.random.Generator,
    replicates: int = CLUSTER_REPLICATES,
) -> ImpostorRates:
    """FMR of every group against every group of members, with two-way replicates.

    Comparisons are every detected search against every member of the member
    group, less each mated search's comparison with the searcher's own entry (every
    search of a member, where its own entry is left out: `KindInfo.self_excluded`).
    ``tally`` is the deployment's rows of ``person_outcomes.parquet``, one per person.
    """
    rows = tally.sort_values("person_id")
    searches = rows["detected"].to_numpy(np.float64)
    own = rows["detected" if spec.info.self_excluded else "mated_searches"].to_numpy(np.float64)
    single = ~cells.labels["attribute"].str.contains("&", regex=False).to_numpy()
    member_groups = np.flatnonzero(single)
    # (members, member groups): which groups each gallery member belongs to.
    belongs = sparse.csr_matrix(cells.cells[cells.profile[spec.members]][:, member_groups])
    position = np.full(len(searches), -1)
    position[spec.members] = np.arange(len(spec.members))
    hit_person = np.concatenate([*counts.impostor_probe, np.empty(0, np.int64)])
    hit_member = position[np.concatenate([*counts.impostor_candidate, np.empty(0, np.int64)])]
    order = np.argsort(hit_person, kind="stable")
    hit_person, hit_member = hit_person[order], hit_member[order]

    groups = len(member_groups)
    profiles = cells.cells.shape[0]
    member_weight = rng.poisson(1.0, (replicates, len(spec.members))).astype(np.float64)
    # Replicated sums per (probe profile x member group): hits, own comparisons;
    # per probe profile: searches; per member group: members.
    hits = np.zeros((profiles * groups, replicates + 1))
    own_comparisons = np.zeros((profiles * groups, replicates + 1))
    searched_sums = np.zeros((profiles, replicates + 1))
    members = np.asarray(belongs.T @ np.column_stack([member_weight.T, np.ones(len(spec.members))]))
    member_weight = np.vstack([member_weight, np.ones(len(spec.members))])
    searched = searches > 0
    # Listed persons (their own entry is no impostor comparison) and persons with
    # false matches need weights of their own. The others enter only through their
    # searches: those of one profile with as many searches share the sum of their
    # weights, Poisson(k) for k of them, one draw for all (a fiftieth of the draws).
    alone = np.zeros(len(searches), dtype=bool)
    alone[hit_person] = True
    alone |= (own > 0) & (position >= 0)
    rest = np.flatnonzero(searched & ~alone)
    keys, repeats = distinct_rows(np.column_stack([cells.profile[rest], searches[rest]]))
    for start in range(0, len(keys), BLOCK):
        part = slice(start, start + BLOCK)
        weight = _weights(repeats[part], replicates, rng)
        searches_of = _onehot(keys[part, 0].astype(np.intp), profiles).T
        searched_sums += searches_of @ (weight * keys[part, 1:])
    individual = np.flatnonzero(searched & alone)
    for start in range(0, len(individual), BLOCK):
        block = individual[start : start + BLOCK]
        weight = _weights(np.ones(len(block), np.int64), replicates, rng)
        searches_of = _onehot(cells.profile[block], profiles).T
        searched_sums += searches_of @ (weight * searches[block, None])
        enrolled = block[(own[block] > 0) & (position[block] >= 0)]
        own_comparisons += _spread(
            cells.profile[enrolled],
            position[enrolled],
            belongs,
            profiles,
            weight[np.searchsorted(block, enrolled)]
            * own[enrolled, None]
            * member_weight[:, position[enrolled]].T,
        )
        # Only searched persons draw hits, and all of them have weights of their own:
        # the block's span of person ids holds exactly the hits of its persons.
        first, last = np.searchsorted(hit_person, [block[0], block[-1] + 1])
        for chunk in range(first, last, BLOCK):
            person = hit_person[chunk : min(chunk + BLOCK, last)]
            member = hit_member[chunk : min(chunk + BLOCK, last)]
            value = weight[np.searchsorted(block, person)] * member_weight[:, member].T
            hits += _spread(cells.profile[person], member, belongs, profiles, value)
    comparisons = searched_sums[:, None, :] * members[None, :, :] - own_comparisons.reshape(
        profiles, groups, replicates + 1
    )
    cell = cells.cells.astype(np.float64)
    hit_sums = np.einsum("pgr,pc->rcg", hits.reshape(profiles, groups, -1), cell)
    comparison_sums = np.einsum("pgr,pc->rcg", comparisons, cell)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicated = hit_sums[:replicates] / comparison_sums[:replicates]
    rates = BootstrapRates(np.rint(hit_sums[-1]), np.rint(comparison_sums[-1]), replicated)
    return ImpostorRates(rates, member_groups)


def impostor_heatmap(impostors: Mapping[str, ImpostorRates], cells: GroupCells) -> pd.DataFrame:
    """FMR per attribute and (probe value, gallery-member value), per 1:N deployment."""
    labels = cells.labels
    rows = []
    for deployment, found in impostors.items():
        rates = found.rates
        low, high = rates.interval(proportion=np.ones(len(found.member_groups), dtype=bool))
        member_labels = labels.iloc[found.member_groups]
        for attribute, probe_groups in labels.groupby("attribute", sort=False):
            if attribute == ALL or "&" in str(attribute):
                continue
            candidates = member_labels[member_labels["attribute"] == attribute]
            for a, probe_value in zip(probe_groups.index, probe_groups["value"], strict=True):
                for candidate_value, group in zip(
                    candidates["value"],
                    np.searchsorted(found.member_groups, candidates.index),
                    strict=True,
                ):
                    rows.append(
                        (
                            deployment,
                            attribute,
                            probe_value,
                            candidate_value,
                            int(rates.numerator[a, group]),
                            int(rates.denominator[a, group]),
                            rates.rate[a, group],
                            low[a, group],
                            high[a, group],
                        )
                    )
    return pd.DataFrame(rows, columns=list(IMPOSTOR_COLUMNS))


def _weights(
    repeats: npt.NDArray[np.int64], replicates: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """``(rows, replicates + 1)``: each row stands for ``repeats`` persons, so its
    weight is Poisson(repeats); the last column, ``repeats`` itself, is the point
    estimate."""
    weight = np.empty((len(repeats), replicates + 1))
    weight[:, :replicates] = rng.poisson(repeats[:, None], (len(repeats), replicates))
    weight[:, replicates] = repeats
    return weight


def _spread(
    profile: npt.NDArray[np.intp],
    member: npt.NDArray[np.intp],
    belongs: sparse.csr_matrix,
    profiles: int,
    value: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Sum the rows of ``value`` into (probe profile x member group) rows, each
    into every group its member belongs to."""
    groups = belongs.shape[1]
    membership = belongs[member].tocoo()
    target = profile[membership.row] * groups + membership.col
    routing = sparse.csr_matrix(
        (np.ones(len(target)), (target, membership.row)), shape=(profiles * groups, len(member))
    )
    return np.asarray(routing @ value)


def _onehot(codes: npt.NDArray[np.integer], width: int) -> sparse.csr_matrix:
    return sparse.csr_matrix(
        (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), width)
    )
