"""Risk positions over time: trajectories by group, amplification, inequality, risk classes.

Reads a dynamics run's standing and outcome tables one period at a time, keeping
per-person totals only, so memory follows the population, not the run's length.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from scipy import stats

from riskclass import ALL, Scenario, one_blas_thread

from ._bootstrap import CONFIDENCE, cluster_bootstrap
from ._burden import gini, lorenz_curve
from ._cells import GroupCells, group_cells
from ._significance import reference_groups

# The domain of each deployment kind's burden; credit is the score's own domain.
DOMAINS = {
    "watchlist_screening": "policing",
    "blacklist_checkpoint": "transit",
    "access_gate": "housing",
}
CREDIT = "credit"

TRAJECTORY_COLUMNS = (
    "period",
    "attribute",
    "value",
    "persons",
    "listed_share",
    "wrongly_listed_share",
    "mean_damages",
    "mean_benefits",
    "mean_net",
    "mean_score",
    "below_creditworthy_share",
)
# Metrics whose disparity `analyze_dynamics` follows from the first period to the
# last, and whether a higher value is worse: wrongly listed (a share of the group,
# after the period), damages and benefits (per person, in the period).
AMPLIFIED = {"wrongly_listed": True, "damages": True, "benefits": False}
AMPLIFICATION_COLUMNS = (
    "metric",
    "attribute",
    "value",
    "reference",
    "first",
    "first_reference",
    "first_ratio",
    "last",
    "last_reference",
    "last_ratio",
    "amplification",
    "ci_low",
    "ci_high",
)
FIRST_LISTING_COLUMNS = (
    "attribute",
    "value",
    "persons",
    "ever_wrongly_listed_share",
    "median_first_period",
)
INEQUALITY_COLUMNS = ("period", "gini_damages", "gini_benefits")
CLASS_COLUMNS = (
    "risk_class",
    "persons",
    "population_share",
    "mean_damages",
    "mean_benefits",
    "mean_net",
    "mean_final_score",
    "ever_wrongly_listed_share",
)
COMPOSITION_COLUMNS = ("risk_class", "attribute", "value", "share", "population_share", "ratio")


@dataclass(frozen=True)
class DynamicsTables:
    """What `analyze_dynamics` computes; each frame has the columns its name says.

    ``trajectories`` (`TRAJECTORY_COLUMNS`): per period and group, in-period
    damages and benefits and the standing after the period. ``amplification``
    (`AMPLIFICATION_COLUMNS`): per metric of `AMPLIFIED` and attribute value
    against its reference, the metric in the first and the last period, the
    disparity ratios, and the last ratio over the first with a person-level
    bootstrap interval.
    ``first_listing`` (`FIRST_LISTING_COLUMNS`), ``inequality``
    (`INEQUALITY_COLUMNS`: Gini of cumulative damages and benefits after each
    period), ``lorenz`` (final cumulative damages and benefits), ``domains``
    (Spearman correlation of per-person burdens between domains), ``classes``
    (`CLASS_COLUMNS`) and ``composition`` (`COMPOSITION_COLUMNS`): risk classes
    found in the per-person vectors, ordered from the worst net position up;
    ``positions``: one row per person with the vectors and their class.
    """

    trajectories: pd.DataFrame
    amplification: pd.DataFrame
    first_listing: pd.DataFrame
    inequality: pd.DataFrame
    lorenz: pd.DataFrame
    domains: pd.DataFrame
    classes: pd.DataFrame
    composition: pd.DataFrame
    positions: pd.DataFrame


def analyze_dynamics(
    scenario: Scenario,
    persons: pd.DataFrame,
    standing: Iterable[pa.Table],
    outcomes: Iterable[pa.Table],
    *,
    rng: np.random.Generator,
) -> DynamicsTables:
    """Risk positions of a dynamics run (see `DynamicsTables`).

    ``standing`` and ``outcomes``: the run's ``standing.parquet`` and
    ``period_outcomes.parquet``, in order, a period (or any part) at a time.
    Damages are the costs of wrongful consequences (false alerts, alerts on a
    wrongly listed person, a gate's genuine resident turned away); benefits are
    skipped screenings and escape routes at their configured values.
    """
    settings = scenario.dynamics
    assert settings is not None
    n = len(persons)
    attributes = list(scenario.population.attributes)
    cells = group_cells(persons, attributes)
    members = cells.cells[cells.profile]
    sizes = members.sum(axis=0)
    creditworthy = settings.score.creditworthy
    kinds = {d.name: d.kind for d in scenario.deployments}
    domains = sorted({DOMAINS.get(kind, kind) for kind in kinds.values()})
    by_domain = np.zeros((len(domains) + 1, n))
    for table in outcomes:
        person = table.column("person_id").to_numpy()
        deployment = table.column("deployment").combine_chunks()
        names = deployment.dictionary.to_pylist()
        domain_of = np.array([domains.index(DOMAINS.get(kinds[m], kinds[m])) for m in names])
        row = domain_of[deployment.indices.to_numpy(zero_copy_only=False)]
        np.add.at(by_domain, (row, person), table.column("damages").to_numpy())

    damages = np.zeros(n)
    benefits = np.zeros(n)
    first_wrongful = np.full(n, -1)
    first_last: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}
    score = np.full(n, settings.score.start)
    rows: list[tuple[object, ...]] = []
    inequality: list[tuple[int, float, float]] = []
    last_period = scenario.periods - 1
    for p, part in _by_period(standing):
        ids = part["person_id"].to_numpy()
        period_damages = np.zeros(n)
        period_benefits = np.zeros(n)
        period_damages[ids] = part["damages"].to_numpy()
        period_benefits[ids] = part["benefits"].to_numpy()
        listed = np.zeros(n, dtype=bool)
        wrongly = np.zeros(n, dtype=bool)
        listed[ids] = part["listed"].to_numpy() > 0
        wrongly[ids] = part["wrongly_listed"].to_numpy() > 0
        score[ids] = part["score"].to_numpy()
        damages += period_damages
        benefits += period_benefits
        by_domain[-1, ids] += part["score"].to_numpy() < creditworthy
        first_wrongful[(first_wrongful < 0) & wrongly] = p
        now = {
            "wrongly_listed": wrongly.astype(np.float64),
            "damages": period_damages,
            "benefits": period_benefits,
        }
        if p == 0:
            first_last = {metric: (now[metric], now[metric]) for metric in AMPLIFIED}
        if p == last_period:
            first_last = {metric: (first_last[metric][0], now[metric]) for metric in AMPLIFIED}
        rows.extend(
            _trajectory_rows(
                p,
                cells,
                members,
                sizes,
                [listed, wrongly, period_damages, period_benefits],
                score,
                creditworthy,
            )
        )
        inequality.append((p, gini(damages), gini(benefits)))

    positions = persons[["person_id", *attributes]].copy()
    for index, domain in enumerate([*domains, CREDIT]):
        positions[f"damages_{domain}" if domain != CREDIT else "periods_below_creditworthy"] = (
            by_domain[index]
        )
    positions["damages"] = damages
    positions["benefits"] = benefits
    positions["net"] = benefits - damages
    positions["final_score"] = score
    positions["first_wrongful_period"] = first_wrongful
    positions["risk_class"] = _risk_classes(
        positions, domains, settings.risk_classes, seed=scenario.seed
    )
    return DynamicsTables(
        trajectories=pd.DataFrame(rows, columns=list(TRAJECTORY_COLUMNS)),
        amplification=_amplification(
            cells,
            first_last,
            reference_groups(
                cells, scenario.report.reference, listed=scenario.population.values_by_attribute
            ),
            rng,
        ),
        first_listing=_first_listing(cells, members, sizes, first_wrongful),
        inequality=pd.DataFrame(inequality, columns=list(INEQUALITY_COLUMNS)),
        lorenz=pd.concat(
            [
                lorenz_curve(damages).rename(columns={"burden_share": "damages_share"}),
                lorenz_curve(benefits)[["burden_share"]].rename(
                    columns={"burden_share": "benefits_share"}
                ),
            ],
            axis=1,
        ),
        domains=_domain_correlation(by_domain, [*domains, CREDIT]),
        classes=_class_table(positions),
        composition=_composition(positions, attributes),
        positions=positions,
    )


def _by_period(tables: Iterable[pa.Table]) -> Iterator[tuple[int, pd.DataFrame]]:
    """Whole periods of standing, however its row groups split them, in order."""
    parts: list[pd.DataFrame] = []
    current = None
    for table in tables:
        frame = table.to_pandas()
        for period, part in frame.groupby("period", sort=True):
            if current is not None and period != current:
                yield current, pd.concat(parts, ignore_index=True)
                parts = []
            current = int(period)
            parts.append(part)
    if current is not None:
        yield current, pd.concat(parts, ignore_index=True)


def _trajectory_rows(
    period: int,
    cells: GroupCells,
    members: npt.NDArray[np.bool_],
    sizes: npt.NDArray[np.int64],
    per_person: Sequence[npt.NDArray[np.float64] | npt.NDArray[np.bool_]],
    score: npt.NDArray[np.float64],
    creditworthy: float,
) -> Iterable[tuple[object, ...]]:
    values = np.column_stack([*per_person, score, score < creditworthy]).astype(np.float64)
    sums = members.T.astype(np.float64) @ values
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / sizes[:, None]
    labels = cells.labels
    for index in range(len(labels)):
        listed, wrongly, damages, benefits, mean_score, below = means[index]
        yield (
            period,
            labels.at[index, "attribute"],
            labels.at[index, "value"],
            int(sizes[index]),
            listed,
            wrongly,
            damages,
            benefits,
            benefits - damages,
            mean_score,
            below,
        )


def _single_attributes(cells: GroupCells) -> Iterable[tuple[str, npt.NDArray[np.intp], list[str]]]:
    labels = cells.labels
    single = labels[(labels["attribute"] != ALL) & ~labels["attribute"].str.contains("&")]
    for attribute, group in single.groupby("attribute", sort=False):
        yield str(attribute), group.index.to_numpy(), group["value"].to_list()


def _amplification(
    cells: GroupCells,
    first_last: Mapping[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    reference: Mapping[str, str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each value's disparity after the last period over its disparity after the first.

    ``first_last``: per metric of `AMPLIFIED`, each person's value in the first and
    the last period. A disparity is worst over best, as NIST reports them: the
    value's rate over the reference's for burdens, the reference's over the
    value's for benefits. ``reference``: per attribute, the value ratios divide by,
    chosen before looking at any rate (`reference_groups`). Replicates reweigh persons
    (`cluster_bootstrap`), so both ratios move together with the persons they share.
    """
    columns = [column for metric in AMPLIFIED for column in first_last[metric]]
    numerators = np.column_stack(columns)
    rates = cluster_bootstrap(
        numerators, np.ones_like(numerators), cells.profile, cells.cells, rng=rng
    )
    tail = (1.0 - CONFIDENCE) / 2.0
    rows = []
    for m, (metric, worse_high) in enumerate(AMPLIFIED.items()):
        point = rates.rate[:, 2 * m : 2 * m + 2]
        replicates = rates.replicates[:, :, 2 * m : 2 * m + 2]
        for attribute, index, values in _single_attributes(cells):
            if attribute not in reference:
                continue
            ref = index[values.index(reference[attribute])]
            with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ratio = point[index] / point[ref]
                replicated = replicates[:, index] / replicates[:, [ref]]
                if not worse_high:
                    ratio, replicated = 1.0 / ratio, 1.0 / replicated
                amplification = ratio[:, 1] / ratio[:, 0]
                spread = replicated[:, :, 1] / replicated[:, :, 0]
                low, high = np.nanquantile(
                    spread, [tail, 1.0 - tail], axis=0, method="inverted_cdf"
                )
            # Without the metric in both groups after the first period there is no
            # first disparity to amplify.
            estimable = np.isfinite(ratio[:, 0]) & (ratio[:, 0] > 0)
            amplification = np.where(estimable, amplification, np.nan)
            low, high = np.where(estimable, low, np.nan), np.where(estimable, high, np.nan)
            for j, cell in enumerate(index):
                if cell == ref:
                    continue
                rows.append(
                    (
                        metric,
                        attribute,
                        values[j],
                        cells.labels.at[ref, "value"],
                        point[cell, 0],
                        point[ref, 0],
                        ratio[j, 0],
                        point[cell, 1],
                        point[ref, 1],
                        ratio[j, 1],
                        amplification[j],
                        low[j],
                        high[j],
                    )
                )
    return pd.DataFrame(rows, columns=list(AMPLIFICATION_COLUMNS))


def _first_listing(
    cells: GroupCells,
    members: npt.NDArray[np.bool_],
    sizes: npt.NDArray[np.int64],
    first: npt.NDArray[np.int64],
) -> pd.DataFrame:
    rows = []
    for index in range(len(cells.labels)):
        listed = first[members[:, index] & (first >= 0)]
        rows.append(
            (
                cells.labels.at[index, "attribute"],
                cells.labels.at[index, "value"],
                int(sizes[index]),
                len(listed) / sizes[index] if sizes[index] else np.nan,
                float(np.median(listed)) if len(listed) else np.nan,
            )
        )
    return pd.DataFrame(rows, columns=list(FIRST_LISTING_COLUMNS))


def _domain_correlation(by_domain: npt.NDArray[np.float64], names: list[str]) -> pd.DataFrame:
    """Spearman correlation of per-person burdens between each pair of domains."""
    rows = []
    for i, first in enumerate(names):
        for j in range(i + 1, len(names)):
            a, b = by_domain[i], by_domain[j]
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                rho, p_value = np.nan, np.nan
            else:
                result = stats.spearmanr(a, b)
                rho, p_value = float(result.statistic), float(result.pvalue)
            rows.append((first, names[j], rho, p_value))
    return pd.DataFrame(rows, columns=["domain", "other_domain", "spearman", "p_value"])


def _risk_classes(
    positions: pd.DataFrame, domains: list[str], classes: int, *, seed: int
) -> npt.NDArray[np.int64]:
    """Classes from per-person vectors, numbered 1 (worst net position) upward.

    A Gaussian mixture (scikit-learn, seeded) over the standardized vectors of
    damages per domain, periods below the creditworthy cut, benefits and the
    first wrongful listing's timing.
    """
    from sklearn.mixture import GaussianMixture  # a second's import: only for dynamics
    from sklearn.preprocessing import StandardScaler

    columns = [
        *(f"damages_{d}" for d in domains),
        "periods_below_creditworthy",
        "benefits",
    ]
    ever = (positions["first_wrongful_period"] >= 0).to_numpy(np.float64)
    features = np.column_stack([positions[columns].to_numpy(np.float64), ever])
    varying = features[:, np.ptp(features, axis=0) > 0]
    if varying.shape[1] == 0:
        return np.ones(len(positions), dtype=np.int64)
    scaled = StandardScaler().fit_transform(varying)
    k = min(classes, len(np.unique(scaled, axis=0)))
    mixture = GaussianMixture(n_components=k, random_state=seed % 2**32, reg_covar=1e-4)
    # One BLAS thread: the same classes on any machine.
    with one_blas_thread():
        label = mixture.fit_predict(scaled)
    net = positions["net"].to_numpy()
    means = np.array([net[label == c].mean() if (label == c).any() else np.inf for c in range(k)])
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(means, kind="stable")] = np.arange(1, k + 1)
    classes_of: npt.NDArray[np.int64] = rank[label]
    return classes_of


def _class_table(positions: pd.DataFrame) -> pd.DataFrame:
    grouped = positions.groupby("risk_class", sort=True)
    table = pd.DataFrame(
        {
            "persons": grouped.size(),
            "mean_damages": grouped["damages"].mean(),
            "mean_benefits": grouped["benefits"].mean(),
            "mean_net": grouped["net"].mean(),
            "mean_final_score": grouped["final_score"].mean(),
            "ever_wrongly_listed_share": grouped["first_wrongful_period"].apply(
                lambda first: float((first >= 0).mean())
            ),
        }
    ).reset_index()
    table.insert(2, "population_share", table["persons"] / len(positions))
    return table[list(CLASS_COLUMNS)]


def _composition(positions: pd.DataFrame, attributes: list[str]) -> pd.DataFrame:
    """Per class and attribute value: its share of the class against its share of all."""
    tables = []
    for attribute in attributes:
        values = positions[attribute].astype(str)
        overall = values.value_counts(normalize=True)
        within = (
            values.groupby(positions["risk_class"]).value_counts(normalize=True).rename("share")
        )
        table = within.reset_index().rename(columns={attribute: "value"})
        table["attribute"] = attribute
        table["population_share"] = table["value"].map(overall).to_numpy(np.float64)
        table["ratio"] = table["share"] / table["population_share"]
        tables.append(table)
    return pd.concat(tables, ignore_index=True)[list(COMPOSITION_COLUMNS)].sort_values(
        ["risk_class", "attribute", "value"], ignore_index=True
    )
