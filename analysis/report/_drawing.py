"""Drawing one figure by name: what a report's figure processes run.

Kept apart from `._context` on purpose: a figure process unpickles the function it
is given by importing its module, and `._context` imports the report's statistics
(scipy, the bootstraps), which added half a second (at load 3.5) to the start of
every figure process and drew nothing. This module imports nothing until a figure
is drawn, and then only `._plots`, which the figure server has already loaded.
Nor does starting that server (`start_figure_server`): the command line starts it
before it imports pandas.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Callable
from importlib import import_module
from multiprocessing.context import BaseContext
from typing import Any

PLOTS = f"{__package__}._plots"
# Figure processes at most: a report draws a dozen figures, and each process holds
# its own matplotlib and pandas (about 150 MB).
_FIGURE_WORKERS = 4


def figure_processes() -> int:
    """How many processes `riskclass report` draws figures in: one per CPU up to 4
    (each holds its own matplotlib and pandas, about 150 MB), none on one CPU, where
    drawing in the command's own process costs less than starting them."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, _FIGURE_WORKERS)
    return workers if workers >= 2 else 0


def start_figure_server() -> BaseContext:
    """Start the server process that `figure_pool`'s processes are forked from, if
    it is not running, without waiting for it to import the plotting; returns the
    context that forks from it (where there is none, Windows: fresh interpreters).

    `figure_pool` starts it itself; the command line starts it before it imports
    the data stack for a command that will draw figures (``report``, ``run
    --report``), so that matplotlib loads on the other core meanwhile. The
    server's imports are fixed when it starts: a command whose other processes
    fork from a server with imports of their own (a Dask cluster's workers) must
    not start it first.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PLOTS])
    multiprocessing.forkserver.ensure_running()
    return context


def ready() -> None:
    """Start a figure process (a process pool's initializer): import `._plots`, and
    leave the objects that importing made out of every later garbage collection
    (`gc.freeze`). A full collection otherwise walks all of matplotlib's and pandas's
    objects each time, and the report's figures set off several: a tenth of their
    drawing time."""
    import_module(PLOTS)
    gc.freeze()


def drawn(name: str, options: dict[str, Any], *args: Any) -> bytes:
    """The PNG bytes of `._plots`'s figure ``name`` drawn from ``args`` and ``options``."""
    # Matplotlib loads here, on first use: a process whose figures a pool draws
    # never loads it.
    draw: Callable[..., bytes] = getattr(import_module(PLOTS), name)
    # A figure makes hundreds of thousands of objects, nearly all freed by reference
    # counting as it is drawn; each collection they set off would walk the lot. With
    # collection paused, the first one after the figure frees its cycles in one walk.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return draw(*args, **options)
    finally:
        if collecting:
            gc.enable()
