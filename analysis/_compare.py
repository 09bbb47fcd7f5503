"""What-if: two or more runs side by side, per deployment and group, with change ratios."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import Deployment

from ._bootstrap import CONFIDENCE, BootstrapRates, cluster_bootstrap
from ._cells import group_cells

COMPARE_COLUMNS = (
    "deployment",
    "attribute",
    "value",
    "metric",
    "run",
    "count",
    "n",
    "rate",
    "ci_low",
    "ci_high",
    "change",
    "change_low",
    "change_high",
    "significant",
)
# The rates a what-if question is usually about: exposure and error together, then each.
COMPARED = ("false_alerts_per_1000_per_day", "fpir", "fnir")


@dataclass(frozen=True)
class RunData:
    """What `compare_runs` needs of a finished run: its label, persons (with the
    attribute columns), ``person_outcomes`` and days simulated."""

    label: str
    persons: pd.DataFrame
    outcomes: pd.DataFrame
    days: int


def _per_person(
    run: RunData, deployment: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(persons, metrics)`` numerators and denominators of `COMPARED`, persons in id order."""
    mine = run.outcomes[run.outcomes["deployment"] == deployment].set_index("person_id")
    mine = mine.reindex(run.persons["person_id"], fill_value=0)
    c = {name: mine[name].to_numpy(np.float64) for name in mine.columns if name != "deployment"}
    numerators = [
        c["false_alerts"] * 1000.0 / run.days,
        c["nonmated_alerts"],
        c["mated_searches"] - c["true_alerts"],
    ]
    denominators = [c["searchable"], c["nonmated_searches"], c["mated_searches"]]
    return np.column_stack(numerators), np.column_stack(denominators)


def _same_persons(runs: Sequence[RunData], attributes: Sequence[str]) -> bool:
    first = runs[0].persons[list(attributes)].astype(str)
    return all(
        len(run.persons) == len(first)
        and run.persons[list(attributes)].astype(str).reset_index(drop=True).equals(first)
        for run in runs[1:]
    )


def compare_runs(
    runs: Sequence[RunData],
    *,
    deployments: Sequence[Deployment],
    attributes: Sequence[str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each run's rates per deployment and group, and each run's change over the first.

    ``change`` is a run's rate over the first run's, with a 95% bootstrap interval
    over persons: where the runs simulate the same persons (the same seed and
    population, another threshold), one set of weights reweighs a person in every
    run, since their sightings are the same; otherwise each run is resampled
    independently. ``significant`` where the interval excludes 1. ``count``: the
    false alerts, or the errors of a rate over searches; ``n``: residents the
    deployment's cameras can sight (``searchable``), or searches. Groups are every
    attribute value and all (single attributes only). A batch kind's searches are
    photos searched once, not residents sighted per day: it has no per-resident
    rate (`KindInfo.batch`), as in the run's own tables.
    Columns: ``COMPARE_COLUMNS``.
    """
    attributes = list(attributes)
    paired = _same_persons(runs, attributes)
    proportion = np.array([metric != COMPARED[0] for metric in COMPARED])
    rows: list[tuple[Any, ...]] = []
    for spec in deployments:
        deployment = spec.name
        metrics = [m for m in range(len(COMPARED)) if m or not spec.info.batch]
        arrays = [_per_person(run, deployment) for run in runs]
        cells = [group_cells(run.persons, attributes) for run in runs]
        if paired:
            together = cluster_bootstrap(
                np.hstack([num for num, _ in arrays]),
                np.hstack([den for _, den in arrays]),
                cells[0].profile,
                cells[0].cells,
                rng=rng,
            )
            rates = [_columns(together, i, len(COMPARED)) for i in range(len(runs))]
        else:
            rates = [
                cluster_bootstrap(num, den, c.profile, c.cells, rng=rng)
                for (num, den), c in zip(arrays, cells, strict=True)
            ]
        # The first rate is false alerts per 1,000 residents per day: counts per unit.
        intervals = [
            rate.interval(
                proportion=proportion, per_count=np.array([1000.0 / run.days, np.nan, np.nan])
            )
            for rate, run in zip(rates, runs, strict=True)
        ]
        index = [_single_groups(c.labels) for c in cells]
        for key, base in index[0].items():
            for m in metrics:
                metric = COMPARED[m]
                for r, run in enumerate(runs):
                    if key not in index[r]:
                        continue
                    i, rate = index[r][key], rates[r]
                    change = (
                        _change(
                            rates[0].replicates[:, base, m],
                            rate.replicates[:, i, m],
                            own=(intervals[r][0][i, m], intervals[r][1][i, m]),
                            base_rate=rates[0].rate[base, m],
                        )
                        if r
                        else (np.nan, np.nan)
                    )
                    with np.errstate(divide="ignore", invalid="ignore"):
                        ratio = rate.rate[i, m] / rates[0].rate[base, m] if r else np.nan
                    rows.append(
                        (
                            deployment,
                            *key,
                            metric,
                            run.label,
                            rate.numerator[i, m]
                            * (run.days / 1000.0 if metric == COMPARED[0] else 1.0),
                            rate.denominator[i, m],
                            rate.rate[i, m],
                            intervals[r][0][i, m],
                            intervals[r][1][i, m],
                            ratio if np.isfinite(ratio) else np.nan,
                            *change,
                            bool(change[0] > 1.0 or change[1] < 1.0),
                        )
                    )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def _single_groups(labels: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Row index of each group that is all or one attribute's value (no intersections)."""
    return {
        (str(a), str(v)): i
        for i, (a, v) in enumerate(zip(labels["attribute"], labels["value"], strict=True))
        if "&" not in str(a)
    }


def _columns(rates: BootstrapRates, run: int, metrics: int) -> BootstrapRates:
    """The metrics of one run out of a bootstrap of several runs' metrics side by side."""
    part = slice(run * metrics, (run + 1) * metrics)
    return BootstrapRates(
        rates.numerator[:, part], rates.denominator[:, part], rates.replicates[:, :, part]
    )


def _change(
    base: npt.NDArray[np.float64],
    other: npt.NDArray[np.float64],
    *,
    own: tuple[float, float],
    base_rate: float,
) -> tuple[float, float]:
    """The 95% percentile interval of replicated ratios ``other / base``.

    Widened to the later run's own interval (``own``, Wilson-widened where a
    proportion) over the first run's rate where that is wider: a later run with no
    errors replicates only zeros, yet its rate has an honest upper bound, and so
    has the change.
    """
    tail = (1.0 - CONFIDENCE) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicates: NaN
        low, high = np.nanquantile(other / base, [tail, 1.0 - tail], method="inverted_cdf")
        own_low, own_high = own[0] / base_rate, own[1] / base_rate
    if np.isfinite(own_high):
        low, high = min(low, own_low), max(high, own_high)
    return float(low), float(high)


def config_differences(configs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every resolved config key whose value differs between runs: ``key`` and one
    column per run (empty where a run's config lacks the key)."""
    flat = {label: _flatten(config) for label, config in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values())))
    rows = [
        {"key": key, **{label: f.get(key, "") for label, f in flat.items()}}
        for key in keys
        if len({repr(f.get(key)) for f in flat.values()}) > 1
    ]
    return pd.DataFrame(rows, columns=["key", *flat])


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested config; list items by their name where they have one.

    Examples
    --------
    >>> _flatten({"days": 7, "deployments": [{"name": "gate", "threshold": 0.6}]})
    {'days': 7, 'deployments.gate.name': 'gate', 'deployments.gate.threshold': 0.6}
    """
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        items = [(v.get("name", i), v) for i, v in enumerate(value)]
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat
