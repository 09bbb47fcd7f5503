"""Work split across threads: numpy, BLAS and pyarrow release the GIL in their loops."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

# BLAS thread limits are process-wide; setting one takes threadpoolctl a scan of
# the loaded libraries (about 13 ms here), so a limit already in force is kept.
_limit = threading.Lock()
_depth = 0
# Caps how many threads `in_threads` runs at once, not how work is split (callers
# split it in blocks of sizes that do not follow the threads, since what a block
# computes can depend on its size): a process sharing the CPUs with others that do
# the same, such as the workers of a local Dask cluster, sets it to 1 and computes
# the same bytes.
THREADS_VARIABLE = "RISKCLASS_THREADS"


def worker_threads() -> int:
    """Threads for parallel work: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Every matrix product inside runs on one BLAS thread.

    OpenBLAS rounds a product differently with different thread counts: what is
    computed inside must not depend on the machine's cores.
    """
    global _depth
    with _limit:
        outermost = _depth == 0
        _depth += 1
    try:
        if outermost:
            with threadpool_limits(limits=1, user_api="blas"):
                yield
        else:
            yield
    finally:
        with _limit:
            _depth -= 1


def in_threads(
    work: Callable[[_Item], _Result], items: Sequence[_Item], threads: int | None = None
) -> list[_Result]:
    """``[work(item) for item in items]``, on up to ``threads`` threads (default:
    `worker_threads`; at most ``RISKCLASS_THREADS`` where that environment variable
    is a positive number), in order, each on one BLAS thread (see `one_blas_thread`)."""
    threads = worker_threads() if threads is None else threads
    cap = os.environ.get(THREADS_VARIABLE, "")
    if cap.isdigit() and int(cap) > 0:
        threads = min(threads, int(cap))
    with one_blas_thread():
        if threads <= 1 or len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(min(threads, len(items))) as pool:
            return list(pool.map(work, items))
