"""Per-group error rates with intervals, disparity ratios and sweeps, per deployment."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import ALL

from ._bootstrap import BootstrapRates, cluster_bootstrap, cluster_shares
from ._cells import GroupCells
from ._impostors import ImpostorRates
from ._run_counts import DeploymentCounts, DeploymentSpec
from ._significance import TEST_COLUMNS, RatioEvidence, adjust_ratios, reference_groups

METRIC_COLUMNS = (
    "deployment",
    "attribute",
    "value",
    "metric",
    "count",
    "n",
    "rate",
    "ci_low",
    "ci_high",
)
# ``threshold``: the swept threshold (empty at the deployment's own); ``lighting``:
# the light of video rows (empty over all light).
DISPARITY_COLUMNS = (
    "deployment",
    "metric",
    "threshold",
    "lighting",
    "attribute",
    "value",
    "reference",
    "rate",
    "reference_rate",
    "ratio",
    *TEST_COLUMNS,
    "significant",
)
SHARE_COLUMNS = (
    "deployment",
    "attribute",
    "value",
    "persons",
    "population_share",
    "false_alerts",
    "false_alert_share",
    "share_ci_low",
    "share_ci_high",
)
# Metrics where a higher rate is worse for the group; precision is the exception.
HIGHER_IS_WORSE = {"alert_precision": False}


@dataclass(frozen=True)
class Metric:
    """A rate to report per group: per-person (or per-cluster) numerators and denominators.

    ``replicates`` ``(replicates, groups)``, where given, come from a bootstrap
    that reweighs more than persons (impostor FMR also reweighs gallery members,
    see `impostor_rates`) and replace the person-level ones.
    """

    name: str
    numerator: npt.NDArray[np.float64]
    denominator: npt.NDArray[np.float64]
    proportion: bool = True
    # For a count per unit (a rate per resident per day): what one event adds to
    # the numerator, so that its interval can be widened to the count's.
    per_count: float | None = None
    threshold: float | None = None
    gallery_fraction: float | None = None
    lighting: str | None = None
    replicates: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True)
class GroupMetrics:
    """Every per-group table of a report (long format, see the column constants)."""

    metrics: pd.DataFrame
    threshold_sweep: pd.DataFrame
    gallery_sweep: pd.DataFrame
    disparities: pd.DataFrame
    shares: pd.DataFrame


def group_metrics(
    tally: pd.DataFrame,
    counts: Mapping[str, DeploymentCounts],
    impostors: Mapping[str, ImpostorRates],
    *,
    specs: Sequence[DeploymentSpec],
    cells: GroupCells,
    days: int,
    thresholds: Sequence[float],
    fractions: Sequence[float],
    reference: Mapping[str, str],
    rng: np.random.Generator,
    listed: Mapping[str, Sequence[str]] | None = None,
    on_deployment: Callable[[GroupMetrics], None] | None = None,
) -> GroupMetrics:
    """Rates of every group in every deployment, with subject-level bootstrap intervals.

    Parameters
    ----------
    tally:
        ``person_outcomes.parquet``: one row per deployment and person.
    counts:
        Per deployment, the counts of `count_run`.
    impostors:
        Per 1:N deployment, its `impostor_rates` (two-way replicates of FMR).
    specs, cells, days:
        The deployments, the reported groups, and the days simulated.
    thresholds, fractions:
        The threshold sweep and the gallery fractions of the gallery-size sweep.
    reference, listed:
        Per attribute, the configured reference value of disparity ratios (the
        largest group where not given), and the values in config order (ties).
    rng:
        Source of the bootstrap weights.
    on_deployment:
        Called with each deployment's tables as soon as they are computed, in the
        order of ``specs`` (a report starts that deployment's figures while the next
        one's bootstraps run).
    """
    parts: dict[str, list[pd.DataFrame]] = {
        "metrics": [],
        "threshold_sweep": [],
        "gallery_sweep": [],
        "disparities": [],
        "shares": [],
    }
    for spec in specs:
        column = _tally_columns(tally, spec.name)
        two_way = impostors[spec.name] if spec.searches_gallery else None
        metrics = _metrics_of(spec, column, counts[spec.name], two_way, days, thresholds, fractions)
        table, disparities = rates_by_group(
            spec.name, metrics, cells, reference=reference, rng=rng, listed=listed
        )
        table = table.drop(columns=["lighting"])
        plain = table["threshold"].isna() & table["gallery_fraction"].isna()
        parts["metrics"].append(table[plain].drop(columns=["threshold", "gallery_fraction"]))
        parts["threshold_sweep"].append(
            table[table["threshold"].notna()].drop(columns=["gallery_fraction"])
        )
        gallery = table[table["gallery_fraction"].notna()].drop(columns=["threshold"])
        parts["gallery_sweep"].append(
            gallery.assign(gallery_size=(gallery["gallery_fraction"] * len(spec.members)).round())
        )
        parts["disparities"].append(disparities.drop(columns=["lighting"]))
        parts["shares"].append(_shares(spec.name, column["false_alerts"], cells, rng))
        if on_deployment is not None:
            on_deployment(GroupMetrics(**{name: tables[-1] for name, tables in parts.items()}))
    return GroupMetrics(
        **{name: pd.concat(tables, ignore_index=True) for name, tables in parts.items()}
    )


def _tally_columns(tally: pd.DataFrame, deployment: str) -> dict[str, npt.NDArray[np.float64]]:
    """The deployment's tally columns, person by person, in float64; the rows taken
    from the tally are let go before the bootstraps (90 MB at a million persons)."""
    mine = tally[tally["deployment"] == deployment].sort_values("person_id")
    return {name: mine[name].to_numpy(np.float64) for name in mine.columns[2:]}


def rates_by_group(
    deployment: str,
    metrics: Sequence[Metric],
    cells: GroupCells,
    *,
    reference: Mapping[str, str],
    rng: np.random.Generator,
    listed: Mapping[str, Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every metric of every group with bootstrap intervals, and its disparity ratios.

    The bootstrap resamples the rows of the metrics' arrays (persons, or faces):
    see `cluster_bootstrap`. Ratios divide by each attribute's reference (the
    configured ``reference``, else the largest group; ``listed`` breaks ties, see
    `reference_groups`), and are tested as `adjust_ratios` says. Returns the long
    table (``METRIC_COLUMNS`` plus ``threshold`` and ``gallery_fraction``) and the
    disparities (``DISPARITY_COLUMNS``).
    """
    rates = cluster_bootstrap(
        [m.numerator for m in metrics],
        [m.denominator for m in metrics],
        cells.profile,
        cells.cells,
        rng=rng,
    )
    for i, metric in enumerate(metrics):
        if metric.replicates is not None:
            rates.replicates[:, :, i] = metric.replicates
    metrics = list(metrics)
    low, high = rates.interval(
        proportion=np.array([m.proportion for m in metrics]),
        per_count=np.array([np.nan if m.per_count is None else m.per_count for m in metrics]),
    )
    references = reference_groups(cells, reference, listed=listed)
    return (
        _long_table(deployment, metrics, rates, cells, (low, high)),
        _disparities(deployment, metrics, rates, cells, references, high),
    )


def _metrics_of(
    spec: DeploymentSpec,
    c: dict[str, npt.NDArray[np.float64]],
    counts: DeploymentCounts,
    impostors: ImpostorRates | None,
    days: int,
    thresholds: Sequence[float],
    fractions: Sequence[float],
) -> list[Metric]:
    mated, nonmated = c["mated_searches"], c["nonmated_searches"]
    metrics = [
        Metric("fta", c["events"] - c["detected"], c["events"]),
        Metric("fpir", c["nonmated_alerts"], nonmated),
        Metric("fnir", mated - c["true_alerts"], mated),
        Metric("alert_precision", c["true_alerts"], c["alerts"]),
    ]
    # A batch search's trials are photos, each searched once, not residents seen over
    # days: FPIR counts its false alerts per photo, and a rate per resident per day
    # would name the wrong denominator.
    if not spec.info.batch:
        # Over residents the deployment's cameras can sight at all: the others bear
        # none of its errors.
        metrics.append(
            Metric(
                "false_alerts_per_1000_per_day",
                c["false_alerts"] * 1000.0 / days,
                c["searchable"],
                proportion=False,
                per_count=1000.0 / days,
            )
        )
    if spec.info.search == "claim":
        # At a gate every comparison is 1:1: the identification rates are FMR and FNMR.
        metrics += [
            Metric("fmr", c["nonmated_alerts"], nonmated),
            Metric("fnmr", mated - c["true_alerts"], mated),
        ]
    elif impostors is not None:
        # A member's own entry is no impostor comparison, whether its search is mated
        # or leaves it out (`KindInfo.self_excluded`).
        own = c["detected"] if spec.info.self_excluded else mated
        comparisons = c["detected"] * len(spec.members) - own
        metrics += [
            Metric(
                "fmr",
                counts.impostor_hits.astype(np.float64),
                comparisons,
                replicates=impostors.whole_gallery,
            ),
            Metric("fnmr", mated - counts.mate_hits, mated),
        ]
    if spec.info.sweeps_thresholds:
        for i, threshold in enumerate(thresholds):
            metrics += [
                Metric(
                    "fpir",
                    counts.sweep_nonmated_alerts[i].astype(np.float64),
                    nonmated,
                    threshold=threshold,
                ),
                Metric("fnir", mated - counts.sweep_true_alerts[i], mated, threshold=threshold),
            ]
    if spec.searches_gallery:
        for i, fraction in enumerate(fractions):
            metrics.append(
                Metric(
                    "fpir",
                    counts.gallery_nonmated_alerts[i].astype(np.float64),
                    nonmated,
                    gallery_fraction=fraction,
                )
            )
    return metrics


def _long_table(
    deployment: str,
    metrics: list[Metric],
    rates: BootstrapRates,
    cells: GroupCells,
    interval: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
) -> pd.DataFrame:
    low, high = interval
    n_cells = len(cells.labels)
    frame = pd.DataFrame(
        {
            "deployment": deployment,
            "attribute": np.tile(cells.labels["attribute"].to_numpy(), len(metrics)),
            "value": np.tile(cells.labels["value"].to_numpy(), len(metrics)),
            "metric": np.repeat([m.name for m in metrics], n_cells),
            "count": rates.numerator.T.ravel(),
            "n": rates.denominator.T.ravel(),
            "rate": rates.rate.T.ravel(),
            "ci_low": low.T.ravel(),
            "ci_high": high.T.ravel(),
            "threshold": np.repeat([m.threshold for m in metrics], n_cells).astype(float),
            "gallery_fraction": np.repeat([m.gallery_fraction for m in metrics], n_cells).astype(
                float
            ),
            "lighting": np.repeat([m.lighting for m in metrics], n_cells),
        }
    )
    return frame


def _disparities(
    deployment: str,
    metrics: list[Metric],
    rates: BootstrapRates,
    cells: GroupCells,
    references: Mapping[str, str],
    upper: npt.NDArray[np.float64],
) -> pd.DataFrame:
    """Every group's ratio over its attribute's reference, tested (see `adjust_ratios`).

    ``upper``: each cell's and metric's upper interval bound, for the interval of a
    ratio whose group had no errors."""
    rows = []
    evidence = []
    labels = cells.labels
    point = rates.rate
    for attribute, group in labels[labels["attribute"] != ALL].groupby("attribute", sort=False):
        if str(attribute) not in references:
            continue
        index = group.index.to_numpy()
        values = group["value"].to_list()
        reference = values.index(references[str(attribute)])
        ref = index[reference]
        for m, metric in enumerate(metrics):
            if metric.gallery_fraction is not None or np.isnan(point[index, m]).all():
                continue
            worse_high = HIGHER_IS_WORSE.get(metric.name, True)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = point[index, m] / point[ref, m]
                replicated = rates.replicates[:, index, m] / rates.replicates[:, [ref], m]
                # The group's own upper bound over the reference's rate: a group with
                # no errors keeps an honest upper end (inverted metrics need none).
                ceiling = upper[index, m] / point[ref, m]
                if not worse_high:
                    ratio, replicated = 1.0 / ratio, 1.0 / replicated
                    ceiling = np.full_like(ceiling, np.nan)
            for j, cell in enumerate(index):
                if cell == ref:
                    continue
                finite = bool(np.isfinite(ratio[j]))
                column = replicated[:, j]
                evidence.append(
                    RatioEvidence(
                        ratio[j] if finite else np.nan,
                        column[~np.isnan(column)] if finite else np.empty(0),
                        upper=float(ceiling[j]) if ratio[j] == 0 else np.nan,
                    )
                )
                rows.append(
                    (
                        deployment,
                        metric.name,
                        metric.threshold,
                        metric.lighting,
                        attribute,
                        values[j],
                        values[reference],
                        point[cell, m],
                        point[ref, m],
                        ratio[j] if finite else np.nan,
                    )
                )
    table = pd.DataFrame(rows, columns=list(DISPARITY_COLUMNS[: DISPARITY_COLUMNS.index("ci_low")]))
    return adjust_ratios(table, evidence)[list(DISPARITY_COLUMNS)]


def overall(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a metrics or disparities table at the deployment's own threshold and
    over all light: those of its ``threshold`` and ``lighting`` columns are empty."""
    keep = pd.Series(True, index=table.index)
    for column in ("threshold", "lighting"):
        if column in table.columns:
            keep &= table[column].isna()
    return table[keep]


def _shares(
    deployment: str,
    false_alerts: npt.NDArray[np.float64],
    cells: GroupCells,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each group's share of the deployment's false alerts, with a bootstrap interval
    over persons (`cluster_shares`), beside its share of residents."""
    share, low, high = cluster_shares(false_alerts, cells.profile, cells.cells, rng=rng)
    by_profile = np.bincount(cells.profile, weights=false_alerts, minlength=cells.cells.shape[0])
    persons = cells.persons
    return cells.labels.assign(
        deployment=deployment,
        persons=persons,
        population_share=persons / persons[0],
        false_alerts=(by_profile @ cells.cells).astype(np.int64),
        false_alert_share=share,
        share_ci_low=low,
        share_ci_high=high,
    )[list(SHARE_COLUMNS)]
