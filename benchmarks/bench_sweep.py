"""A sweep on a 2-worker local Dask cluster against the same runs one after another.

    uv run python benchmarks/bench_sweep.py [--settings 4] [--seeds 3] [--persons 20000]

Both sides run the same small scenario (configs/default.yaml scaled down) at
``--settings`` street thresholds times ``--seeds`` seeds, with a warm calibration
cache (each side's first pass fills it), so the ratio is about running the runs.
Prints both wall times and their ratio, with the machine's CPU count.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from riskclass import load_config
from riskclass.commands import Grid, RunOptions, plan, run, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--persons", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskclass-bench-sweep-") as scratch:
        root = Path(scratch)
        data = yaml.safe_load(Path("configs/default.yaml").read_text())
        data["population"]["size"] = args.persons
        data["days"] = 2
        config = root / "small.yaml"
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        thresholds = ",".join(f"{0.56 + 0.02 * i:g}" for i in range(args.settings))
        grid = Grid.parse([f"deployments.street_watchlist.threshold={thresholds}"])
        runs = plan(config, grid, seeds=args.seeds, out=root / "sequential")
        # Warm the calibration cache for every seed, outside the timings.
        for seed_run in runs[: args.seeds]:
            run(
                load_config(config, [f"seed={seed_run.seed}"]),
                root / "warm",
                RunOptions(force=True),
            )
        started = time.perf_counter()
        for one in runs:
            run(one.scenario, one.out, RunOptions(force=True))
        sequential = time.perf_counter() - started
        started = time.perf_counter()
        sweep(config, grid, seeds=args.seeds, out=root / "swept", workers=2)
        swept = time.perf_counter() - started
    print(
        f"{len(runs)} runs of {args.persons:,} persons x 2 days on {len(os.sched_getaffinity(0))} "
        f"CPUs (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}): "
        f"one after another {sequential:.1f} s, sweep on 2 local workers {swept:.1f} s, "
        f"ratio {sequential / swept:.2f}x"
    )


if __name__ == "__main__":
    main()
