"""Significance under true equality: how many per-search disparities a report flags,
and how often its per-group intervals cover the true rates.

With all three mechanisms of disparity switched off (``mechanisms.equal_error_rates``,
``equal_camera_density``, ``proportional_watchlists``) every person has the same error
model, and with condition effects set to 0 every capture is at the reference
conditions, so every group's true per-search rates are equal and known from the
embedding model: FTA is the configured rate; FMR is the model's impostor FMR at the
threshold (`EmbeddingModel.impostor_fmr`); FPIR against a gallery of N is
``1 - (1 - FMR)^N``, since a probe's scores against N independent identities each
reach the threshold with probability FMR whatever the probe (the model's noise puts
every capture at the same angle from its identity); FNMR is `genuine_fnmr` of the
model's noise. FNIR (a mate at rank 1) has no closed form and is left out of coverage.
Flags are counted on every per-search metric (FTA, FPIR, FNIR, FMR, FNMR).

Usage: ``uv run python benchmarks/check_significance.py --seeds 20 [--size 4000 --days 2
--fmr 2e-5]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from riskclass import EMBEDDING_MODEL, Scenario, validate_config
from riskclass.commands import report_tables, run
from riskclass.synthetic import EmbeddingModel, genuine_fnmr

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
PER_SEARCH = ("fta", "fpir", "fnir", "fmr", "fnmr")
COVERED = ("fta", "fpir", "fmr", "fnmr")
_NO_EFFECT = {"face_size": 0.0, "darkness": 0.0, "pose": 0.0, "blur": 0.0, "years": 0.0}


def equality_config(
    seed: int, *, size: int = 4000, days: int = 2, fmr: float = 2.0e-5
) -> dict[str, Any]:
    """configs/default.yaml at true equality, with rates high enough for a small city
    to see errors: every group FMR 2e-5 by default (FPIR about 4% against the
    2,000-person watchlist), FNMR 1%, FTA 2%."""
    data: dict[str, Any] = yaml.safe_load((CONFIGS / "default.yaml").read_text())
    data["seed"], data["days"] = seed, days
    data["population"]["size"] = size
    data["mechanisms"] = {
        "equal_error_rates": True,
        "equal_camera_density": True,
        "proportional_watchlists": True,
    }
    algorithm = data["algorithm"]
    algorithm["error_rates"] = {"default": {"fmr": fmr, "fnmr": 0.01, "fta": 0.02}}
    for effects in ("noise_effects", "fta_effects", "fmr_effects"):
        algorithm[effects] = dict(_NO_EFFECT)
    return data


def true_rates(run_dir: Path, scenario: Scenario, galleries: dict[str, int]) -> pd.DataFrame:
    """``deployment``, ``metric``, ``threshold`` (NaN at the deployment's own), ``truth``."""
    model = EmbeddingModel.from_json(
        (run_dir / EMBEDDING_MODEL).read_text(encoding="utf-8"), scenario.algorithm
    )
    rows = []
    for deployment in scenario.deployments:
        threshold = scenario.threshold_of(deployment)
        sweep = scenario.sweep if deployment.info.sweeps_thresholds else []
        for at in [np.nan, *sweep]:
            tau = threshold if np.isnan(at) else at
            fmr = float(model.impostor_fmr(0, 0, threshold=tau))
            fnmr = genuine_fnmr(float(model.sigma[0]), tau, model.free_dims, model.mismatch[0])
            members = galleries.get(deployment.gallery, 1)
            truth = {"fmr": fmr, "fpir": 1.0 - (1.0 - fmr) ** members, "fnmr": fnmr}
            if np.isnan(at):
                truth["fta"] = scenario.algorithm.error_rates["default"].fta
            for metric, value in truth.items():
                rows.append((deployment.name, metric, at, value))
    return pd.DataFrame(rows, columns=["deployment", "metric", "threshold", "truth"])


def category(row: Any) -> str:
    """Which kind of disparity a row is, as the issue counts them."""
    if not np.isnan(row.threshold):
        return "threshold sweep"
    if "&" in row.attribute:
        return "pair intersections"
    return "single attributes"


def check_seed(
    seed: int, scratch: Path, *, size: int, days: int, fmr: float = 2.0e-5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run at true equality: its per-search disparity rows (with ``category``) and
    its per-group rates of the covered metrics joined to their truth (``covered``)."""
    scenario = validate_config(equality_config(seed, size=size, days=days, fmr=fmr))
    out = scratch / f"seed-{seed}"
    run(scenario, out)
    found = report_tables(out)
    listed = pd.read_parquet(out / "galleries.parquet")["gallery"].astype(str)
    galleries = {str(name): int(size) for name, size in listed.value_counts().items()}
    truth = true_rates(out, found.scenario, galleries)
    disparities = found.tables["disparities"]
    flagged = disparities[disparities["metric"].isin(PER_SEARCH)].copy()
    flagged["category"] = [category(r) for r in flagged.itertuples()]
    flagged["values"] = (
        flagged.groupby(["deployment", "metric", "threshold", "attribute"], dropna=False)[
            "value"
        ].transform("size")
        + 1
    )
    rates = pd.concat(
        [
            found.tables["metrics"].assign(threshold=np.nan),
            found.tables["threshold_sweep"],
        ],
        ignore_index=True,
    )
    rates = rates[rates["n"] > 0].merge(truth, on=["deployment", "metric", "threshold"])
    rates["covered"] = (rates["ci_low"] <= rates["truth"]) & (rates["truth"] <= rates["ci_high"])
    return flagged, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--fmr", type=float, default=2.0e-5, help="every group's FMR")
    args = parser.parse_args()
    started = time.perf_counter()
    flags, rates = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.first, args.first + args.seeds):
            found, covered = check_seed(
                seed, Path(scratch), size=args.size, days=args.days, fmr=args.fmr
            )
            flags.append(found)
            rates.append(covered)
    flagged = pd.concat(flags, ignore_index=True)
    single = flagged["category"] == "single attributes"
    flagged.loc[single, "category"] = [
        f"single attributes, {n} values" for n in flagged.loc[single, "values"]
    ]
    columns = {"rows": ("significant", "size"), "flagged": ("significant", "mean")}
    if "p_value" in flagged.columns:
        flagged["unadjusted"] = flagged["p_value"] < 0.05
        columns["flagged_unadjusted"] = ("unadjusted", "mean")
    print(
        f"{args.seeds} seeds, {args.size} residents, {args.days} days, FMR {args.fmr:g}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(flagged.groupby("category").agg(**columns).to_string())
    print("all per-search rows:", len(flagged), f"flagged {flagged['significant'].mean():.2%}")
    coverage = pd.concat(rates, ignore_index=True)
    coverage["at"] = np.where(coverage["threshold"].isna(), "own threshold", "swept")
    print(coverage.groupby(["metric", "at"])["covered"].agg(["size", "mean"]).to_string())
    print(f"all per-group intervals: {len(coverage)}, covered {coverage['covered'].mean():.2%}")


if __name__ == "__main__":
    main()
