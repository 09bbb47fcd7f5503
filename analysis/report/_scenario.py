"""The report's first screen: what was simulated, how many errors, and the headlines.

An auditor who quotes a rate needs what produced it beside it: the threshold, the
list searched and who is on it, the cameras and where they are dense, the days and
residents, and that every figure comes from a simulation with configured error rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from riskclass import ALL, Scenario, group_label

from .._run_counts import DeploymentSpec
from ._format import fmt
from ._words import one_in

SIMULATION = (
    "Every figure in this report comes from a simulation, not from a real deployment: a "
    "synthetic city whose residents, cameras and sightings are drawn at random, and a face "
    "matcher with configured per-group error rates (set in the scenario, following published "
    "NIST measurements), calibrated so that the simulated pipeline realizes them. The counts "
    "are what this configuration produces; they show how errors are distributed, not how "
    "often a particular real system errs."
)


def scenario_panel(
    scenario: Scenario,
    specs: Sequence[DeploymentSpec],
    persons: pd.DataFrame,
    cameras: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    alternatives: Sequence[Sequence[str]],
) -> dict[str, Any]:
    """The first screen's context: the setting and one row per deployment (the
    headlines are the summary's sentences)."""
    metrics, shares = tables["metrics"], tables["false_alert_shares"]
    alternative_of = {name: names[0] for names in alternatives for name in names[1:]}
    rows = []
    for spec, deployment in zip(specs, scenario.deployments, strict=True):
        mine = metrics[(metrics["deployment"] == spec.name) & (metrics["attribute"] == ALL)]
        by_metric = {row["metric"]: row for _, row in mine.iterrows()}
        rows.append(
            {
                "name": spec.name,
                "kind": spec.info.words,
                "threshold": _threshold(scenario, deployment, spec),
                "gallery": _gallery(
                    spec, deployment.gallery, persons, list(scenario.population.attributes)
                ),
                "cameras": _cameras(deployment, cameras, persons),
                "counts": _counts(spec, by_metric, shares, scenario),
                "alternative_of": alternative_of.get(spec.name, ""),
            }
        )
    return {
        "setting": (
            f"{scenario.population.size:,} simulated residents of {len(scenario.districts)} "
            f"districts, {scenario.days} days from {scenario.start_date:%Y-%m-%d}, "
            f"{len(cameras):,} cameras; groups by "
            f"{', '.join(scenario.population.attributes)}; seed {scenario.seed}."
        ),
        "deployments": rows,
        "alternatives": [
            f"{', '.join(names)} are the same search at different thresholds: alternatives "
            f"of one another, shown side by side. The risk burden counts only {names[0]}; "
            f"the burden under each alternative is in its own table."
            for names in alternatives
        ],
    }


def _threshold(scenario: Scenario, deployment: Any, spec: DeploymentSpec) -> str:
    if spec.kind == "investigation" and deployment.threshold is None:
        return "none (candidates ranked)"
    reference = scenario.algorithm.threshold
    note = "" if spec.threshold == reference else f" (error rates configured at {reference:g})"
    return f"{spec.threshold:g}{note}"


def _gallery(spec: DeploymentSpec, name: str, persons: pd.DataFrame, attributes: list[str]) -> str:
    """The list searched, its size, and the groups it over-represents."""
    if not spec.searches_gallery:
        return "each resident's own ID photo" if spec.kind == "access_gate" else name
    members = persons.set_index("person_id").loc[spec.members]
    listed = []
    for attribute in attributes:
        population = _shares(persons[attribute])
        on_list = _shares(members[attribute])
        for value, share in on_list.items():
            over = share / population[value]
            if over >= 1.25:
                text = f"{attribute}={value} {share:.0%} (of residents {population[value]:.0%})"
                listed.append((over, text))
    listed.sort(reverse=True)
    composition = "; ".join(text for _, text in listed[:3]) or "listed like the population"
    return f"{name}: {len(spec.members):,} persons; {composition}"


def _shares(values: pd.Series) -> dict[str, float]:
    """Each value's share, named as text. Counted before converting: converting a
    whole population's values to text cost a second per report."""
    shares = values.value_counts(normalize=True)
    return {str(value): float(share) for value, share in shares.items() if share > 0}


def _cameras(deployment: Any, cameras: pd.DataFrame, persons: pd.DataFrame) -> str:
    """The deployment's cameras, and per district their density where it differs."""
    if deployment.info.batch:
        return "none: it searches photos, not camera sightings"
    mine = cameras
    if deployment.camera_kinds is not None:
        mine = mine[mine["kind"].isin(deployment.camera_kinds)]
    if deployment.districts is not None:
        mine = mine[mine["district"].isin(deployment.districts)]
    kinds = ", ".join(sorted(mine["kind"].astype(str).unique())) or "none"
    residents = persons["home_district"].astype(str).value_counts()
    per_district = mine["district"].astype(str).value_counts()
    density = {
        district: 1000.0 * per_district.get(district, 0) / count
        for district, count in residents.items()
    }
    text = f"{len(mine):,} {kinds} cameras"
    if len(set(round(v, 1) for v in density.values())) > 1:
        text += "; per 1,000 residents: " + ", ".join(
            f"{district} {value:.1f}"
            for district, value in sorted(density.items(), key=lambda item: -item[1])
        )
    return text


def _counts(
    spec: DeploymentSpec,
    by_metric: dict[str, pd.Series],
    shares: pd.DataFrame,
    scenario: Scenario,
) -> str:
    """Absolute counts over the whole run, and the key rate in plain words."""
    days = scenario.days
    residents = scenario.population.size
    sightings = int(by_metric["fta"]["n"])
    if spec.kind == "access_gate":
        fnir, fpir = by_metric["fnir"], by_metric["fpir"]
        return (
            f"{int(fnir['count']):,} genuine entry attempts falsely rejected of "
            f"{int(fnir['n']):,} in {days} days ({one_in(fnir['rate'])} refused); "
            f"{int(by_metric['fta']['count']):,} of {sightings:,} entries with no usable face; "
            + (
                f"{int(fpir['count']):,} of {int(fpir['n']):,} impostor presentations let in."
                if fpir["n"] > 0
                else "no impostor presentations simulated."
            )
        )
    everyone = shares[(shares["deployment"] == spec.name) & (shares["attribute"] == ALL)]
    false_alerts = int(everyone["false_alerts"].iloc[0])
    precision = by_metric["alert_precision"]
    right = (
        f"alert precision {fmt(precision['rate'])}: {int(precision['count']):,} of "
        f"{int(precision['n']):,} alerts were right"
    )
    if spec.info.batch:
        # Each person is searched once, however many days the run has: a rate per
        # photo, not per resident and day.
        per_photo = false_alerts / sightings if sightings else 0.0
        return (
            f"{false_alerts:,} false alerts from {sightings:,} {trials_of(spec)} "
            f"({one_in(per_photo)} of them; {right})."
        )
    per_day = false_alerts / (residents * days)
    text = (
        f"{false_alerts:,} false alerts in {days} days from {sightings:,} {trials_of(spec)} "
        f"(false alerts per resident per day: {one_in(per_day)} on average; {right})"
    )
    worst = shares[
        (shares["deployment"] == spec.name)
        & ~shares["attribute"].str.contains("&")
        & (shares["attribute"] != ALL)
    ].assign(per_person=lambda t: t["false_alerts"] / (t["persons"] * days))
    if false_alerts and not worst.empty:
        top = worst.sort_values("per_person").iloc[-1]
        text += (
            f"; for {group_label(top['attribute'], top['value'])}, "
            f"{one_in(top['per_person'])} per day"
        )
    return text + "."


def trials_of(spec: DeploymentSpec) -> str:
    """What one row of a deployment's decisions is, in words."""
    return spec.info.trials
