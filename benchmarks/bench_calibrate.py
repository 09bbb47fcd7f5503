"""Time calibration (solve, check) and the per-capture cost of FMR under conditions.

Usage: uv run python benchmarks/bench_calibrate.py [CONFIG]

Prints seconds to solve the embedding model in closed form, seconds to check it
(`measure_rates`), and for 100,000 captures of the default scenario's groups at
random conditions the seconds of `capture_conditions` (noise scale and drift
lookup) and of `observe` with and without the drift, median of 5 rounds.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from riskclass import load_config
from riskclass.synthetic import calibrate, condition_deficits, measure_rates

REPO = Path(__file__).resolve().parent.parent
CAPTURES = 100_000
ROUNDS = 5


def _median_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    config = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "configs/default.yaml"
    algorithm = load_config(config).algorithm
    started = time.perf_counter()
    model = calibrate(algorithm, seed=1)
    solved = time.perf_counter() - started
    measure_rates(model, seed=2)
    checked = time.perf_counter() - started - solved
    print(f"solve {solved:.2f} s, check {checked:.2f} s ({config.name})")

    rng = np.random.default_rng(0)
    deficits = condition_deficits(
        algorithm.reference_conditions,
        face_px=rng.lognormal(np.log(64.0), 0.35, CAPTURES),
        illumination=rng.uniform(0.2, 1.0, CAPTURES),
        pose_deg=np.abs(rng.normal(0.0, 15.0, CAPTURES)),
        blur_px=rng.exponential(0.5, CAPTURES),
        years=rng.uniform(0.0, 10.0, CAPTURES),
    )
    groups = rng.integers(0, len(model.groups), CAPTURES)
    identities = model.identities(groups, rng)
    scale, drift = model.capture_conditions(groups, deficits)
    lookup = _median_seconds(lambda: model.capture_conditions(groups, deficits))
    with_drift = _median_seconds(lambda: model.observe(identities, groups, scale, rng, drift))
    without = _median_seconds(lambda: model.observe(identities, groups, scale, rng))
    print(
        f"{CAPTURES:,} captures: capture_conditions {lookup:.3f} s, observe with drift "
        f"{with_drift:.3f} s, without {without:.3f} s"
    )


if __name__ == "__main__":
    main()
