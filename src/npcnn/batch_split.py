"""The batch split: each training batch cut into parts that run at once, one per core.

It owns, in the order a run meets them:
- the decision, ``chunks``: how many parts a network's batches are cut into, from its
  multiply-accumulates per image, read once off the network's geometry
  (``SPLIT_MIN_MACS``). A property of the network, not of the machine, so that a run's
  numbers (the order of its float sums) do not depend on how many cores computed them;
- ``threads_for``: how many cores the parts run on (``TrainConfig.threads``, or one
  per part as far as free cores allow), and whether on threads or on processes
  (``PROCESS_MIN_MACS``; never processes inside a pool's worker, ``threads.in_worker``);
- ``BatchSplit``: the network wrapped so that each part runs on its own replica, on
  threads; ``ProcessSplit``: the parts beyond the first in worker processes (their
  start, shared memory and stop: ``npcnn.split_workers``);
- ``split``: the model a run trains, from the network it has built; ``release``: its
  worker processes stopped when the run's loop ends.

``npcnn.models`` only builds networks; BLAS threads and the worker processes'
environment are ``npcnn.threads``'.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from npcnn.models import Sequential
from npcnn.split_workers import SPLIT_WORKER, WorkerError, Workers
from npcnn.threads import WORKER_VAR, cores, in_worker

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
# Multiply-accumulates per image from which a split over two cores runs on two processes
# rather than two threads. Measured on the 2-core AMD EPYC (NumPy 2.4, OpenBLAS 0.3.31),
# real MNIST, one BLAS thread, under the exclusive quiet lock, each measurement in a fresh
# process, the three ways alternating with the first one rotated per round; medians:
#                   training step (batch 100), ms     epoch (train 55k + eval 15k), s
#                   5 rounds of 300 steps             5 rounds (k=7: 3)
#                   1 proc   2 threads  2 procs       1 proc   2 threads  2 procs
#     C=16 k=3       17.4      13.2      10.5          10.6       9.6       7.0
#     C=32 k=3       42.8      30.9      23.7          24.0      17.1      14.5
#     C=4  k=7       20.2      19.0      15.5          11.8       9.9       7.6
# (the same losses and accuracies in every column). Two processes beat two threads on
# every network that splits (1.2-1.4x), the smallest one included, so the line is the
# split's own. Networks below it (C=4, k=3) are not split at all, and inside a pool's
# worker (one core each, ``threads.in_worker``) the split stays on threads.
PROCESS_MIN_MACS = SPLIT_MIN_MACS


def chunks(macs_per_image: int) -> int:
    """Parts each training batch of a network with ``macs_per_image`` multiply-accumulates
    per image (forward) is split into: 2 when a split pays on two cores
    (``SPLIT_MIN_MACS``), else 1."""
    return 2 if macs_per_image >= SPLIT_MIN_MACS else 1


def threads_for(n_chunks: int, requested: int = 0, available: int | None = None) -> int:
    """Threads for a split into ``n_chunks`` parts: ``requested`` (at most one per part),
    or, when it is 0, one per part as far as ``available`` free cores (default:
    ``cores()``) allow."""
    if requested:
        return max(1, min(requested, n_chunks))
    free = cores() if available is None else available
    return max(1, min(free, n_chunks))


def split(network: Sequential, threads: int = 0) -> Sequential | BatchSplit:
    """The model a run trains: ``network`` itself when its batches are not split, else
    ``network`` split over ``threads_for(chunks, threads)`` cores: a ``ProcessSplit``
    where processes pay (``PROCESS_MIN_MACS``, and not inside a pool's worker), else a
    ``BatchSplit`` on threads. Decided from the network's multiply-accumulates per
    image, read off its geometry for the input it was built for
    (``Sequential.in_shape``)."""
    if os.environ.get(WORKER_VAR) == SPLIT_WORKER:
        raise RuntimeError("npcnn trains in a batch split's worker process: the script "
                           "that trains must start under `if __name__ == '__main__':`")
    macs = sum(g.macs for g in network.geometry())
    n = chunks(macs)
    if n == 1:
        return network
    on = threads_for(n, threads)
    if on > 1 and macs >= PROCESS_MIN_MACS and not in_worker():
        return ProcessSplit(network, n)
    return BatchSplit(network, n, on)


class BatchSplit:
    """Splits every batch into ``chunks`` parts, each computed by its own replica, on
    ``threads`` Python threads (1: the parts one after another on the calling thread).

    NumPy releases the GIL inside its kernels, so on two cores two half batches run at
    once; for this network's thin matmuls that beats giving OpenBLAS two threads
    (measured). The replicas share ``params``; their gradients are summed into
    ``grads``, which is exact because each loss gradient is already divided by the full
    batch size. The split fixes the order of every float sum, the thread count does not:
    a run's numbers are the same with 1 or ``chunks`` threads. Same interface as
    ``Sequential``.
    """

    def __init__(self, model: Sequential, chunks: int = 2, threads: int | None = None) -> None:
        self.model, self.chunks = model, chunks
        self.replicas = [model] + [model.replica() for _ in range(chunks - 1)]
        self.threads = max(1, min(chunks, chunks if threads is None else threads))
        self._pool = (ThreadPoolExecutor(max_workers=self.threads - 1)
                      if self.threads > 1 else None)

    # the model's own attributes, so trainers and checkpoints need not know the wrapper
    geometry = property(lambda self: self.model.geometry)
    params = property(lambda self: self.model.params)
    grads = property(lambda self: self.model.grads)
    decay_mask = property(lambda self: self.model.decay_mask)
    layers = property(lambda self: self.model.layers)
    dtype = property(lambda self: self.model.dtype)

    def _chunks(self, n: int) -> list[slice]:
        edges = np.linspace(0, n, len(self.replicas) + 1).astype(int)
        return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]

    def _run(self, fn, args: list) -> list:
        """fn(replica, arg) for each pair, in replica order; with several threads the
        calling thread does the first itself while the pool does the others."""
        pairs = list(zip(self.replicas, args, strict=False))
        if self._pool is None:
            return [fn(r, a) for r, a in pairs]
        futures = [self._pool.submit(fn, r, a) for r, a in pairs[1:]]
        first = fn(*pairs[0])
        return [first] + [f.result() for f in futures]

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """x: (N, C, H, W) -> scores: (N, K)."""
        self._slices = self._chunks(len(x))
        return np.concatenate(self._run(lambda r, s: r.forward(x[s], train), self._slices))

    def backward(self, dscores: np.ndarray) -> None:
        """dscores: (N, K) -> fills ``grads`` with the sum over replicas."""
        self._run(lambda r, s: r.backward(dscores[s]), self._slices)
        for r in self.replicas[1:len(self._slices)]:
            self.model.grads += r.grads

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x, train=False)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.model.load_state_dict(state)

    def __repr__(self) -> str:
        return f"BatchSplit({self.model!r}, chunks={self.chunks}, threads={self.threads})"


class ProcessSplit(BatchSplit):
    """A ``BatchSplit`` whose parts beyond the first run in worker processes, one per
    part, while it is open; the calling process computes the first part. The same parts
    and the same sums in the same order as the thread split: the same numbers, bit for
    bit, with 1 process, 2 threads or 2 processes.

    Python threads share one interpreter, and each part makes hundreds of short NumPy
    calls that take its lock; processes do not wait for each other's calls. Each worker
    (started on the first ``forward``, with one BLAS thread) holds a copy of the network
    bound to shared memory: the parameters, which ``forward`` refreshes from the model's,
    and a gradient of its own, which ``backward`` adds to the model's in part order. Its
    part of the images, scores and score gradients passes through a buffer of its own.

    ``close()`` stops the workers (the trainer calls it when its loop ends, however it
    ends; it also runs on Ctrl-C or an error in a worker before the exception goes on,
    and when the split is garbage-collected); afterwards the parts run on threads, as a
    ``BatchSplit``'s. A worker also exits when its pipe closes: the process that made it
    is gone. Workers start as fresh interpreters (multiprocessing's "spawn"), which run
    the main script again: a script that trains must start under
    ``if __name__ == "__main__":`` (``npcnn train`` and notebooks need nothing).
    """

    def __init__(self, model: Sequential, chunks: int = 2) -> None:
        super().__init__(model, chunks, threads=chunks)
        self._workers: Workers | None = None
        self._stop = None  # the finalizer that closes the workers
        self._closed = False

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """x: (N, C, H, W) -> scores: (N, K)."""
        if self._closed:
            return super().forward(x, train)
        self._slices = parts = self._chunks(len(x))
        with self._closing_on_error():
            w = self._open()
            np.copyto(w.params, self.model.params)
            for i, s in enumerate(parts[1:]):
                w.send(i, "forward", x[s], train)
            first = self.model.forward(x[parts[0]], train)
            rest = [w.scores(i, s.stop - s.start) for i, s in enumerate(parts[1:])]
        return np.concatenate([first, *rest])

    def backward(self, dscores: np.ndarray) -> None:
        """dscores: (N, K) -> fills ``grads`` with the sum over parts, in part order."""
        if self._closed:
            return super().backward(dscores)
        with self._closing_on_error():
            w = self._open()
            for i, s in enumerate(self._slices[1:]):
                w.send(i, "backward", dscores[s])
            self.model.backward(dscores[self._slices[0]])
            for i in range(len(self._slices) - 1):
                w.wait(i)
                self.model.grads += w.grads[i]

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (none before the first forward and after close)."""
        return [p.pid for p in self._workers.procs] if self._workers is not None else []

    def close(self) -> None:
        """Stop the worker processes and free the shared memory; from now on the parts
        run on threads."""
        self._closed = True
        if self._stop is not None:
            self._stop()  # a finalizer runs once
        self._workers = None

    @contextlib.contextmanager
    def _closing_on_error(self) -> Iterator[None]:
        try:
            yield
        except BaseException:  # Ctrl-C included: no worker outlives a failed step
            self.close()
            raise

    def _open(self) -> Workers:
        if self._workers is None:
            self._workers = Workers(self.model, self.chunks - 1)
            self._stop = weakref.finalize(self, self._workers.close)
        return self._workers

    def __repr__(self) -> str:
        return f"ProcessSplit({self.model!r}, chunks={self.chunks})"


def release(model: Any) -> None:
    """Stop a run's worker processes, if its model has any (``ProcessSplit``); the model
    keeps working, on threads."""
    if isinstance(model, ProcessSplit):
        model.close()


__all__ = ["SPLIT_MIN_MACS", "PROCESS_MIN_MACS", "chunks", "threads_for", "split", "release",
           "BatchSplit", "ProcessSplit", "WorkerError"]
