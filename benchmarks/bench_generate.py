"""Time `riskclass generate` on the default scenario and measure peak memory at scale.

Usage: uv run python benchmarks/bench_generate.py [--large]

Each measurement runs the CLI in a fresh process and reads that process's peak
resident memory (ru_maxrss), so it covers numpy, pandas and Arrow allocations.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(overrides: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        command = [
            sys.executable,
            "-m",
            "riskclass.commands",
            "generate",
            str(REPO / "configs/default.yaml"),
            "--out",
            str(out),
        ]
        for override in overrides:
            command += ["--set", override]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        rows = json.loads((out / "manifest.json").read_text())["rows"]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": round(seconds, 2),
        "events": rows["events"],
        "persons": rows["persons"],
        "peak_rss_mib_so_far": round(peak_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--large", action="store_true", help="also run 1,000,000 persons for 30 days"
    )
    args = parser.parse_args()
    print(
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, cores={os.cpu_count()}"
    )
    cases = {"default (100k persons, 7 days)": []}
    if args.large:
        cases["1M persons, 30 days"] = ["population.size=1000000", "days=30"]
    for label, overrides in cases.items():
        result = measure(overrides)
        rate = result["events"] / result["seconds"]
        print(
            f"{label}: {result['events']:,} events in {result['seconds']} s "
            f"({rate:,.0f} events/s, whole command); peak RSS {result['peak_rss_mib_so_far']} MiB"
        )


if __name__ == "__main__":
    main()
