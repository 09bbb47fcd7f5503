"""A Dask client for the commands that run tasks on a cluster (`sweep`, `run --workers`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from riskclass import ConfigError

# A task is retried this often when its worker dies (killed, out of memory).
RETRIES = 2
_CONNECT_TIMEOUT_S = 10


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client: of the scheduler at ``scheduler``, or of a new local cluster
    of ``workers`` processes with one thread each.

    Raises
    ------
    ConfigError
        If no scheduler answers at ``scheduler`` (one line naming the address).
    """
    # distributed takes a second to import: only the commands that use it pay for it.
    from distributed import Client, LocalCluster

    # Library code is quiet: the cluster's own INFO chatter (workers starting and
    # closing) is not the user's business.
    logging.getLogger("distributed").setLevel(logging.ERROR)

    if scheduler is None:
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # Without a dashboard the scheduler still serves HTTP, on port 8787 by
                # default, and warns when another cluster has it: any free port will do.
                scheduler_kwargs={"dashboard_address": ":0"},
                # Not even errors: closing the cluster races the workers' heartbeats,
                # which then log a traceback at ERROR now and then. A task's own
                # failure reaches the command through its future, not the log.
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=_CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            "--scheduler", [(scheduler, f"cannot reach a Dask scheduler there ({exc})")]
        ) from None
    with client:
        yield client
