"""What the benchmarks share: the machine they ran on, rounds against a baseline, and the
arguments of those that run a scenario."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

_Result = TypeVar("_Result")
REPO = Path(__file__).resolve().parent.parent


def machine_line() -> str:
    """The CPU, its count, the BLAS setting and the load average now."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f} before"
    )


def interleaved(
    rounds: int, baseline: str | None, measure: Callable[[str], _Result]
) -> dict[str, list[_Result]]:
    """``measure(python)`` each round with this interpreter and, right after it, the
    ``baseline`` checkout's (if given), so that both see the same machine load."""
    pythons = {"this checkout": sys.executable}
    if baseline:
        pythons["baseline"] = baseline
    results: dict[str, list[_Result]] = {label: [] for label in pythons}
    for _ in range(rounds):
        for label, python in pythons.items():
            results[label].append(measure(python))
    return results


def scenario_parser(
    description: str | None, *, config: str = "default.yaml", rounds: int | None = None
) -> argparse.ArgumentParser:
    """Arguments of a benchmark that runs a scenario: ``--rounds`` (where a default
    is given), ``--config`` (``config`` in configs/ by default) and ``--set``."""
    parser = argparse.ArgumentParser(description=description)
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--config", default=str(REPO / "configs" / config))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    return parser
