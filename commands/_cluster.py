"""A Dask client for the commands that run tasks on a cluster (`sweep`, `run --workers`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

from riskclass import THREADS_VARIABLE, ConfigError

# A task is retried this often when its worker dies (killed, out of memory).
RETRIES = 2
_CONNECT_TIMEOUT_S = 10
# What a local cluster's workers import once, in the process they are forked from:
# the modules of every task the commands submit (runs, chunks of a split run, a
# sweep's figures, which `_drawing` draws with `_plots`). Not the report's
# `_context`: its statistics (scipy.stats, 0.25 CPU s) serve the command that
# builds the page, not the workers that draw its figures.
_PRELOAD = (
    "distributed",
    "riskclass.commands._sweep",
    "riskclass.analysis.report._drawing",
    "riskclass.analysis.report._plots",
)


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client: of the scheduler at ``scheduler``, or of a new local cluster
    of ``workers`` processes with one thread each.

    Raises
    ------
    ConfigError
        If no scheduler answers at ``scheduler`` (one line naming the address).
    """
    with ExitStack() as stack:
        yield _connect(scheduler, workers, stack)


@contextmanager
def client_starting(scheduler: str | None, workers: int) -> Iterator[Future[Any]]:
    """`dask_client`, made in a thread of its own: the caller works (reads
    calibrations) while the workers start, then takes the client from the future.
    The cluster is closed when the block ends; a failure to start (an unreachable
    scheduler) is raised by the future's ``result()``."""
    with ExitStack() as stack, ThreadPoolExecutor(1, thread_name_prefix="dask-start") as pool:
        yield pool.submit(_connect, scheduler, workers, stack)


def _connect(scheduler: str | None, workers: int, stack: ExitStack) -> Any:
    """The client of `dask_client`; ``stack`` closes it (and the cluster it started).

    Not entered as a context manager: that marks the client current in the
    entering thread's context, which `client_starting` does not exit from.
    """
    # distributed takes a second to import: only the commands that use it pay for it.
    import dask
    from distributed import Client, LocalCluster

    # Library code is quiet: the cluster's own INFO chatter (workers starting and
    # closing) is not the user's business.
    logging.getLogger("distributed").setLevel(logging.ERROR)

    if scheduler is None:
        # Set for the whole cluster's life: a worker that dies is restarted the same way.
        stack.enter_context(
            dask.config.set(
                {
                    # Workers forked from one server process that imported riskclass
                    # once, instead of spawned to import it each: on 2 cores the
                    # spawned workers' imports took both cores for seconds.
                    "distributed.worker.multiprocessing-method": "forkserver",
                    # Dask puts these in this process's own environment before it
                    # starts a worker, where they stay for every command it starts
                    # afterwards. MALLOC_TRIM_THRESHOLD_ in particular stops glibc
                    # from raising its mmap threshold, so every large array is mapped
                    # and zeroed afresh. Runs limit their BLAS threads themselves.
                    "distributed.nanny.pre-spawn-environ": {},
                    # Sampling each worker's stack every 10 ms serves the dashboard,
                    # which a local cluster does not show.
                    "distributed.worker.profile.enabled": False,
                    # Every server's event loop measures itself every 20 ms (for
                    # warnings about a blocked loop, which are silenced here), every
                    # process's use every 0.5 s (for the dashboard), memory every 0.1 s
                    # and the queues for stealing every 0.1 s: for tasks that take
                    # seconds, once a second is as good. An idle 2-worker cluster
                    # used 1.0 CPU s every 10 s with the defaults, 0.17 with these.
                    "distributed.admin.tick.interval": "1s",
                    "distributed.admin.system-monitor.interval": "2s",
                    "distributed.worker.memory.monitor-interval": "1s",
                    "distributed.scheduler.work-stealing-interval": "1s",
                }
            )
        )
        _preload_forkserver()
        cluster = stack.enter_context(
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # Without a dashboard the scheduler still serves HTTP, on port 8787
                # by default, and warns when another cluster has it: any free port.
                scheduler_kwargs={"dashboard_address": ":0"},
                # Not even errors: closing the cluster races the workers'
                # heartbeats, which then log a traceback at ERROR now and then. A
                # task's own failure reaches the command through its future.
                silence_logs=logging.CRITICAL,
                # One thread per worker, as the cluster has one task slot per
                # worker: a run's own threads (encoding, search) would otherwise
                # make each worker use every core, and several workers overload them.
                env={THREADS_VARIABLE: "1"},
            )
        )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    else:
        try:
            client = Client(scheduler, timeout=_CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                "--scheduler", [(scheduler, f"cannot reach a Dask scheduler there ({exc})")]
            ) from None
    stack.callback(client.close)
    return client


def start_forkserver() -> None:
    """Start now the fork server that a local cluster's workers are forked from
    (where there is one): it imports `_PRELOAD` while the caller imports the same
    modules and plans its tasks, rather than after. A server already running is
    kept, and `dask_client` uses it."""
    import multiprocessing.forkserver

    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocessing.get_context("forkserver").set_forkserver_preload(list(_PRELOAD))
        multiprocessing.forkserver.ensure_running()


def _preload_forkserver() -> None:
    """Have the fork server that starts local workers import `_PRELOAD` first.

    distributed sets the server's preload list once per process, on its first
    call of ``get_mp_context``; calling it here first, then setting the list,
    keeps ours.
    """
    from distributed.utils import get_mp_context

    get_mp_context().set_forkserver_preload(list(_PRELOAD))  # type: ignore[no-untyped-call]
