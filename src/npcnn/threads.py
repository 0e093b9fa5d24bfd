"""How many threads a run uses: BLAS threads and the batch split, set at the entry points.

This network's matrix products are thin (a few channels), so a second OpenBLAS thread
costs more in synchronisation than it gains (measured: an epoch up to 4x slower on a
busy machine). npcnn therefore runs BLAS with one thread and gets parallelism elsewhere:
within a run by splitting each batch across Python threads (``TrainConfig.threads``,
NumPy releases the GIL in its kernels), and across runs from worker processes.

Nothing here happens on import. The entry points call it: ``npcnn.trainer.train`` limits
BLAS to one thread for its loop (``blas_limit``), worker processes are started with
``WORKER_ENV`` so OpenBLAS never spawns threads, and ``auto_threads`` picks the batch
split when a config leaves ``threads`` at 0.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The environment of a worker process that trains one run on one core.
WORKER_ENV = {**dict.fromkeys(BLAS_VARS, "1"), "TQDM_DISABLE": "1"}
# Multiply-accumulates per image (forward) above which splitting a batch of 100 across
# two threads pays for its overhead. Measured on this project's 2-core machines
# (``npcnn bench --threads 1 2``): the split speeds up C=16 (573k MACs per image) and
# does not help C=4 (58k); the line sits between, see README "Speed".
SPLIT_MIN_MACS = 300_000


def cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def macs_per_image(config: Any) -> int:
    """Multiply-accumulates of one image's forward pass through ``config``'s network."""
    if config.model == "mlp":
        dims = (784, *config.hidden, 10)
        return sum(a * b for a, b in zip(dims, dims[1:], strict=False))
    C, k2 = config.channels, config.kernel_size ** 2
    return 28 * 28 * C * k2 + 14 * 14 * C * C * k2 + C * 7 * 7 * 10


def batch_chunks(config: Any) -> int:
    """Parts each training batch of ``config``'s network is split into: 2 when the
    network is large enough for a split to pay on two cores (``SPLIT_MIN_MACS``), else 1.

    A property of the network, not of the machine, so that a run's numbers (the order of
    its float sums) do not depend on how many threads computed the parts.
    """
    return 2 if macs_per_image(config) >= SPLIT_MIN_MACS else 1


def auto_threads(config: Any, available: int | None = None) -> int:
    """Threads for ``config`` on ``available`` free cores (default: ``cores()``): one per
    batch part (``batch_chunks``), as far as cores allow."""
    free = cores() if available is None else available
    return max(1, min(free, batch_chunks(config)))


def resolve(config: Any, available: int | None = None) -> int:
    """``config.threads`` (at most the network's ``batch_chunks``), or ``auto_threads``
    when it is 0."""
    if config.threads:
        return max(1, min(config.threads, batch_chunks(config)))
    return auto_threads(config, available)


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


__all__ = ["BLAS_VARS", "WORKER_ENV", "SPLIT_MIN_MACS", "cores", "macs_per_image",
           "batch_chunks", "auto_threads", "resolve", "blas_limit", "worker_environment"]
