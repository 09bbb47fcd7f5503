"""`riskclass compare`: finished runs side by side, per deployment and group.

What-if questions ("what if the threshold were 0.64?") are answered by running the
scenario twice and comparing: each later run's rates over the first run's, with
bootstrap intervals, and the keys where their resolved configs differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskclass import (
    PERSON_OUTCOMES,
    PERSONS,
    DataError,
    Stream,
    atomic_output_dir,
    check_run_against_config,
    package_versions,
    rng_for,
    write_manifest,
)
from riskclass.analysis import RunData, compare_runs, config_differences, report

from ._report import finished_run, read_outcomes

COMPARE_CSV = "compare.csv"
DIFFERENCES_CSV = "config_differences.csv"


@dataclass
class CompareSummary:
    """What `compare` wrote: its directory, the side-by-side table and the differences."""

    out: Path
    table: pd.DataFrame
    differences: pd.DataFrame


def compare(
    run_dirs: Sequence[str | Path], out: str | Path, *, force: bool = False
) -> CompareSummary:
    """Write ``OUT/compare.csv``, ``OUT/config_differences.csv`` and ``OUT/index.html``.

    Deployments and attributes are those of the first run that every run has.

    Raises
    ------
    DataError
        If fewer than two runs are given, or one is not a finished run.
    """
    if len(run_dirs) < 2:
        raise DataError("compare needs at least two runs")
    runs, scenarios, configs = [], [], {}
    for index, run_dir in enumerate(Path(d) for d in run_dirs):
        manifest, scenario = finished_run(run_dir, (PERSONS, PERSON_OUTCOMES))
        # Two runs may share a directory name: number them so that columns stay apart.
        label = run_dir.name if run_dir.name not in configs else f"{run_dir.name}#{index + 1}"
        configs[label] = manifest["config"]
        outcomes = read_outcomes(run_dir)
        check_run_against_config(run_dir, manifest, scenario, outcomes)
        outcomes["deployment"] = outcomes["deployment"].astype(str)
        runs.append(RunData(label, pd.read_parquet(run_dir / PERSONS), outcomes, scenario.days))
        scenarios.append(scenario)
    first = scenarios[0]
    table = compare_runs(
        runs,
        deployments=[
            d
            for d in first.deployments
            if all(d.name in [e.name for e in s.deployments] for s in scenarios)
        ],
        attributes=[
            a
            for a in first.population.attributes
            if all(a in s.population.attributes for s in scenarios)
        ],
        rng=rng_for(first.seed, Stream.REPORT, 5),
    )
    differences = config_differences(configs)
    labels = list(configs)
    html = report.render_report(
        report.compare_context(table, differences, labels, _version()), template="compare.html.j2"
    )
    out = Path(out)
    with atomic_output_dir(out, force=force) as staging:
        (staging / COMPARE_CSV).write_text(table.to_csv(index=False), encoding="utf-8")
        (staging / DIFFERENCES_CSV).write_text(differences.to_csv(index=False), encoding="utf-8")
        (staging / "index.html").write_text(html, encoding="utf-8")
        write_manifest({"runs": [str(d) for d in run_dirs]}, staging)
    return CompareSummary(out, table, differences)


def _version() -> str:
    return str(package_versions().get("riskclass", "?"))
