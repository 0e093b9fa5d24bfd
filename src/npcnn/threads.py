"""How many threads a run uses: BLAS threads and the batch split, set at the entry points.

This network's matrix products are thin (a few channels), so a second OpenBLAS thread
costs more in synchronisation than it gains (measured: an epoch up to 4x slower on a
busy machine). npcnn therefore runs BLAS with one thread and gets parallelism elsewhere:
within a run by splitting each batch across Python threads (``TrainConfig.threads``,
NumPy releases the GIL in its kernels, so it pays for networks whose calls are long:
``SPLIT_MIN_MACS``), and across runs from worker processes.

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
# Multiply-accumulates per image (forward) from which a batch of 100 is split in two.
# The split is fixed per network, so it costs single-thread runs (the report's workers)
# too: two half batches have twice the per-call overhead. Python threads overlap only
# NumPy calls long enough to hold the GIL released for a while (a few tens of us); a
# small network's calls are shorter, and its two threads mostly wait for each other.
# Measured on the 2-core AMD EPYC after the grid/fused-stage rewrite, epoch = train 55k
# + evaluate 15k, two runs of 3 x 3 epochs each, ratios of 2 parts to 1 part:
#                 MACs/image   defaults (2 threads)   one thread (report workers)
#     C=4  k=3      58k          1.24, 1.33             1.20
#     C=4  k=5     159k          0.99, 1.01             1.04, 1.06
#     C=8  k=3     173k          0.86, 1.09             1.25, 1.16
#     C=4  k=7     309k          0.81, 0.86             1.09, 1.11
#     C=16 k=3     572k          0.69, 0.73             1.05, 1.06
# So the line stays between C=8 and k=7: C=16, C=32 and k=7 at C=4 split (a clear gain
# at the defaults for a small single-thread cost), C=4, C=8 and k=5 do not.
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
