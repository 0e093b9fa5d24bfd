"""The batch split: each training batch cut into parts that run at once, one per core.

It owns, in the order a run meets them:
- the decision, ``chunks``: how many parts a network's batches are cut into, from its
  multiply-accumulates per image, read once off the network's geometry
  (``SPLIT_MIN_MACS``). A property of the network, not of the machine, so that a run's
  numbers (the order of its float sums) do not depend on how many cores computed them;
- ``threads_for``: how many threads the parts run on (``TrainConfig.threads``, or one
  per part as far as free cores allow);
- ``BatchSplit``: the network wrapped so that each part runs on its own replica;
- ``split``: the model a run trains, from the network it has built.

``npcnn.models`` only builds networks; BLAS threads and the worker processes'
environment are ``npcnn.threads``'.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from npcnn.models import Sequential
from npcnn.threads import cores

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
    ``network`` in a ``BatchSplit`` on ``threads_for(chunks, threads)`` threads. The
    parts are decided from the network's multiply-accumulates per image, read off its
    geometry for the input it was built for (``Sequential.in_shape``)."""
    n = chunks(sum(g.macs for g in network.geometry()))
    return BatchSplit(network, n, threads_for(n, threads)) if n > 1 else network


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


__all__ = ["SPLIT_MIN_MACS", "chunks", "threads_for", "split", "BatchSplit"]
