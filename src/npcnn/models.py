"""Models: a ``Sequential`` container, the two networks the seed compared, built for the
data a config names, and their geometry.

The model owns the parameters and their gradients: all of them live in ONE flat vector
``params: (P,)`` (and ``grads: (P,)``), each layer's ``params``/``grads`` dicts being views
into it, so the optimizer updates the whole network with a few vector operations.

Geometry is read off the model built for the data (``geometry``): each layer's input and
output shape per image, its parameters and multiply-accumulates. Nothing else in npcnn
writes down an image size, a map size or a class count.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from npcnn import datasets

from .layers import AvgPool2D, Conv2D, ConvReLUPool, Flatten, GridBatch, Layer, Linear, ReLU

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


class Sequential:
    """Layers applied in order.

    ``forward(x)``: x (N, C, H, W) -> scores (N, K). The activations travel channel-major,
    (C, N, H, W), between spatial layers, as a ``GridBatch`` on a convolution's grid where
    both sides use one (see ``npcnn.layers``); Flatten turns them back to (N, D). A
    first Conv2D -> ReLU -> 2x2 AvgPool2D runs as one fused step (``ConvReLUPool``).
    ``backward(dscores)`` fills ``grads``; it stops at the first layer with weights,
    whose input gradient nobody needs.

    Attributes:
        layers: the layers.
        params: (P,) every parameter, layer by layer; grads: (P,) likewise.
        decay_mask: (P,) 1.0 where weight decay applies (weights), 0.0 for biases.
    """

    def __init__(self, layers: list[Layer], dtype=np.float32) -> None:
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        sizes = [layer.n_params for layer in self.layers]
        total = int(sum(sizes))
        self.params = np.zeros(total, self.dtype)
        self.grads = np.zeros(total, self.dtype)
        masks, offset = [], 0
        for layer, n in zip(self.layers, sizes, strict=True):
            if n:
                layer.bind(self.params[offset:offset + n], self.grads[offset:offset + n])
                layer._check_grads()
                masks.append(layer.decay_mask())
            offset += n
        self.decay_mask = (np.concatenate(masks) if masks else np.zeros(0)).astype(self.dtype)
        weighted = [i for i, n in enumerate(sizes) if n]
        first = weighted[0] if weighted else len(self.layers)
        if weighted:
            self.layers[first].needs_dx = False
        self._steps = _steps(self.layers)
        # Backward stops at the first layer with weights (a fused first stage holds it).
        fused = len(self._steps) < len(self.layers)
        self._back = self._steps[::-1] if fused else self.layers[first:][::-1]

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """x: (N, C, H, W) -> scores: (N, K), a fresh array."""
        x = np.asarray(x, dtype=self.dtype)
        h = np.ascontiguousarray(x.transpose(1, 0, 2, 3))  # (C, N, H, W); free when C = 1
        for step in self._steps:
            h = step.forward_cm(h, train)
        return h.array() if isinstance(h, GridBatch) else np.array(h, copy=True)

    def backward(self, dscores: np.ndarray) -> None:
        """dscores: (N, K) -> fills ``grads`` (the layers' views into it)."""
        d = np.ascontiguousarray(dscores, dtype=self.dtype)
        for step in self._back:
            d = step.backward_cm(d)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x, train=False)

    def geometry(self, in_shape: tuple[int, ...]) -> list[LayerShape]:
        """Each layer's shapes, parameters and multiply-accumulates for one image of
        ``in_shape`` ((C, H, W) or (D,)); ValueError if the image does not fit."""
        rows, shape = [], tuple(in_shape)
        for layer in self.layers:
            out = layer.out_shape(shape)
            rows.append(LayerShape(repr(layer), type(layer).__name__, shape, out,
                                   layer.n_params, layer.macs(shape)))
            shape = out
        return rows

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"params": self.params.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        p = np.asarray(state["params"])
        if p.shape != self.params.shape:
            raise ValueError(f"state has {p.size} parameters, the model {self.params.size}")
        self.params[...] = p  # in place: the layers' views stay valid

    def replica(self) -> Sequential:
        """A copy that shares this model's ``params`` but has its own ``grads`` and work
        buffers, so it can run forward/backward on another thread at the same time."""
        layers = copy.deepcopy(self.layers)
        for layer in layers:
            layer._bufs = {}
        twin = Sequential(layers, dtype=self.dtype)
        offset = 0
        for layer in twin.layers:
            n = layer.n_params
            if n:
                layer.bind(self.params[offset:offset + n], twin.grads[offset:offset + n])
            offset += n
        twin.params = self.params
        return twin

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)  # {count_params(self)} parameters"


@dataclass(frozen=True)
class LayerShape:
    """One layer of a model's ``geometry``: per image, its input and output shape, and
    its parameters and multiply-accumulates."""

    layer: str  # the layer's repr, e.g. "Conv2D(1, 4, k=3, stride=1, padding=1)"
    kind: str  # its class name, e.g. "Conv2D"
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    macs: int


def _steps(layers: list[Layer]) -> list[Layer]:
    """What ``forward`` runs: the layers, the first three as one ``ConvReLUPool`` stage
    when they fit it. Each step learns its consumer, so that it can write its output in
    the layout the next one reads (``Layer.input_grid``)."""
    steps = list(layers)
    if ConvReLUPool.fits(layers):
        steps[:3] = [ConvReLUPool(*layers[:3])]
    for layer, nxt in zip(layers, [*layers[1:], None], strict=True):
        layer.consumer = nxt
    for step, nxt in zip(steps, [*steps[1:], None], strict=True):
        step.consumer = nxt
    return steps


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
        self.model = model
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
        return f"BatchSplit({self.model!r}, chunks={len(self.replicas)}, threads={self.threads})"


def cnn(kernel_size: int = 3, channels: int = 4, init_std: float = 1.0,
        linear_init_std: float = 0.1, seed: int = 0,
        in_shape: tuple[int, int, int] = datasets.MNIST.image_shape,
        classes: int = datasets.MNIST.n_classes, dtype=np.float32) -> Sequential:
    """The seed's network for images of ``in_shape`` (C0, H, W) and ``classes`` classes::

        Conv(C0->C, k, pad k//2) -> ReLU -> AvgPool(2) -> Conv(C->C, k, pad k//2) -> ReLU
        -> AvgPool(2) -> Flatten(C*(H//4)*(W//4)) -> Linear(-> classes)

    ``padding = k // 2`` keeps each map's size for every odd k, so the pools halve it
    twice. ``init_std`` is the conv layers' weight std; the final Linear has its own
    ``linear_init_std``. On MNIST with the defaults (C0=1, 28x28, 10 classes):
    (1*4*9 + 4) + (4*4*9 + 4) + (4*7*7*10 + 10) = 2158 parameters.
    """
    rng = np.random.default_rng(seed)
    k, C, pad = kernel_size, channels, kernel_size // 2
    C0, H, W = in_shape
    return Sequential([
        Conv2D(C0, C, k, padding=pad, init_std=init_std, rng=rng, dtype=dtype),
        ReLU(),
        AvgPool2D(2),
        Conv2D(C, C, k, padding=pad, init_std=init_std, rng=rng, dtype=dtype),
        ReLU(),
        AvgPool2D(2),
        Flatten(),
        Linear(C * (H // 4) * (W // 4), classes, init_std=linear_init_std, rng=rng,
               dtype=dtype),
    ], dtype=dtype)


def mlp(hidden: tuple[int, ...] = (100, 50), init_std: float = 0.01, seed: int = 0,
        in_features: int = int(np.prod(datasets.MNIST.image_shape)),
        classes: int = datasets.MNIST.n_classes, dtype=np.float32) -> Sequential:
    """Flatten -> [Linear -> ReLU] per hidden width -> Linear(-> classes).

    The seed's 784-100-50-10 (MNIST) has 784*100+100 + 100*50+50 + 50*10+10 = 84,060
    parameters.
    """
    rng = np.random.default_rng(seed)
    layers: list[Layer] = [Flatten()]
    width = in_features
    for h in hidden:
        layers += [Linear(width, h, init_std=init_std, rng=rng, dtype=dtype), ReLU()]
        width = h
    layers.append(Linear(width, classes, init_std=init_std, rng=rng, dtype=dtype))
    return Sequential(layers, dtype=dtype)


def build_network(config) -> Sequential:
    """The network a ``TrainConfig`` names, for its dataset's images and classes,
    initialised from ``config.seed``."""
    ds = datasets.get(config.dataset)
    if config.model == "cnn":
        return cnn(config.kernel_size, config.channels, config.init_std,
                   config.linear_init_std, seed=config.seed, in_shape=ds.image_shape,
                   classes=ds.n_classes)
    return mlp(tuple(config.hidden), init_std=config.init_std, seed=config.seed,
               in_features=int(np.prod(ds.image_shape)), classes=ds.n_classes)


def geometry(config) -> list[LayerShape]:
    """The ``geometry`` of the network of ``config`` on one image of its dataset."""
    return build_network(config).geometry(datasets.get(config.dataset).image_shape)


def macs_per_image(config) -> int:
    """Multiply-accumulates of one image's forward pass through ``config``'s network."""
    return sum(g.macs for g in geometry(config))


def network_name(config) -> str:
    """A short name of the network, e.g. ``"CNN k=3 C=4"`` or ``"MLP 784-100-50-10"``
    (an MLP by its layer widths, from its geometry)."""
    if config.model == "mlp":
        rows = [g for g in geometry(config) if g.kind == "Linear"]
        return "MLP " + "-".join(map(str, (rows[0].in_shape[0], *(g.out_shape[0]
                                                                  for g in rows))))
    return f"CNN k={config.kernel_size} C={config.channels}"


def batch_chunks(config) -> int:
    """Parts each training batch of ``config``'s network is split into: 2 when the
    network is large enough for a split to pay on two cores (``SPLIT_MIN_MACS``), else 1.

    A property of the network, not of the machine, so that a run's numbers (the order of
    its float sums) do not depend on how many threads computed the parts.
    """
    return 2 if macs_per_image(config) >= SPLIT_MIN_MACS else 1


def build_model(config, threads: int = 1) -> Sequential | BatchSplit:
    """``build_network(config)``, wrapped in ``BatchSplit`` when its network splits
    batches (``batch_chunks``), run on ``threads`` threads (the trainer passes
    ``npcnn.threads.resolve(config)``)."""
    model = build_network(config)
    chunks = batch_chunks(config)
    return BatchSplit(model, chunks, threads) if chunks > 1 else model


def count_params(model: Sequential | BatchSplit) -> int:
    return int(model.params.size)


__all__ = ["Sequential", "BatchSplit", "LayerShape", "SPLIT_MIN_MACS", "cnn", "mlp",
           "build_network", "build_model", "geometry", "macs_per_image", "network_name",
           "batch_chunks", "count_params"]
