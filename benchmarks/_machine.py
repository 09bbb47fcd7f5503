"""What the benchmarks share: the machine they ran on, rounds against a baseline, and the
arguments of those that run a scenario."""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import resource
import sys
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

import psutil

_Result = TypeVar("_Result")
REPO = Path(__file__).resolve().parent.parent


def machine_line() -> str:
    """The CPU, its count, the BLAS setting and the load average now."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
        f"load average {os.getloadavg()[0]:.1f} before"
    )


def adopt_orphans() -> None:
    """Become the parent of what the commands this process runs leave behind (Linux:
    a child subreaper), so that `children_cpu` counts it: a report's figure
    processes are forked by a server process that its command never waits for."""
    if sys.platform == "linux":
        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def children_cpu() -> float:
    """CPU seconds (user + system) of every process this one ran and has waited for,
    after waiting for those left over (see `adopt_orphans`)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def interleaved(
    rounds: int, baseline: str | None, measure: Callable[[str], _Result]
) -> dict[str, list[_Result]]:
    """``measure(python)`` each round with this interpreter and, right beside it, the
    ``baseline`` checkout's (if given), so that both see the same machine load.

    The two go in turn first (this checkout first in even rounds, the baseline in
    odd ones), so that whatever going first or second does (caches, the machine's
    clock) falls on both alike. Give an even number of rounds.
    """
    pythons = [("this checkout", sys.executable)]
    if baseline:
        pythons.append(("baseline", baseline))
    results: dict[str, list[_Result]] = {label: [] for label, _ in pythons}
    for round_ in range(rounds):
        for label, python in pythons[:: -1 if round_ % 2 else 1]:
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


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    """Bytes resident in ``root`` and every process under it: the sum of their RSS,
    and of their PSS (pages shared by forked processes split among them, so counted
    once over the tree: what the machine holds)."""
    rss = pss = 0
    with suppress(psutil.Error):
        for process in [root, *root.children(recursive=True)]:
            # Any of them may exit between the listing and the reading.
            with suppress(psutil.Error):
                memory = process.memory_full_info()
                rss, pss = rss + memory.rss, pss + memory.pss
    return rss, pss
