"""BLAS threads and the worker processes' environment, set at the entry points.

This network's matrix products are thin (a few channels), so a second OpenBLAS thread
costs more in synchronisation than it gains (measured: an epoch up to 4x slower on a
busy machine). npcnn therefore runs BLAS with one thread and gets parallelism elsewhere:
within a run by splitting each batch over cores (``npcnn.batch_split``), and across runs
from worker processes, one per core (``cores``).

Nothing here happens on import. The entry points call it: ``npcnn.trainer.train`` limits
BLAS to one thread for its loop (``blas_limit``), and worker processes are started with
``WORKER_ENV`` so OpenBLAS never spawns threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Set in a worker process: it trains its runs in this one process (a pool's workers share
# the cores already, so a run's batch split stays on threads: ``npcnn.batch_split``).
WORKER_VAR = "NPCNN_WORKER"
# The environment of a worker process that trains one run on one core.
WORKER_ENV = {**dict.fromkeys(BLAS_VARS, "1"), "TQDM_DISABLE": "1", WORKER_VAR: "1"}


def cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def in_worker() -> bool:
    """Whether this process was started with ``WORKER_ENV`` (one of a pool's workers)."""
    return os.environ.get(WORKER_VAR, "") not in ("", "0")


def blas_limit(n: int = 1) -> contextlib.AbstractContextManager:
    """Limit the BLAS libraries NumPy loaded to ``n`` threads for a ``with`` block."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


@contextlib.contextmanager
def worker_environment() -> Iterator[None]:
    """``WORKER_ENV`` in ``os.environ`` for the block: processes spawned inside it start
    with one BLAS thread (OpenBLAS reads the variables when it loads)."""
    old = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


__all__ = ["BLAS_VARS", "WORKER_VAR", "WORKER_ENV", "cores", "in_worker", "blas_limit",
           "worker_environment"]
