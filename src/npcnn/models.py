"""Models: a ``Sequential`` container, the two networks the original report compared, built for the
data a config names, and their geometry. How a run splits its batches over cores is
``npcnn.batch_split``'s.

The model owns the parameters and their gradients: all of them live in ONE flat vector
``params: (P,)`` (and ``grads: (P,)``), each layer's ``params``/``grads`` dicts being views
into it, so the optimizer updates the whole network with a few vector operations.

Geometry is read off the model built for the data (``geometry``): each layer's input and
output shape per image, its parameters and multiply-accumulates. Nothing else in npcnn
writes down an image size, a map size or a class count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from npcnn import datasets

from .layers import AvgPool2D, Conv2D, ConvReLUPool, Flatten, GridBatch, Layer, Linear, ReLU


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
        in_shape: the shape of one input it was built for ((C, H, W), or (D,) for flat
            features), or None; ``geometry`` reads it when given no shape.
        params: (P,) every parameter, layer by layer; grads: (P,) likewise.
        decay_mask: (P,) 1.0 where weight decay applies (weights), 0.0 for biases.
    """

    def __init__(self, layers: list[Layer], dtype=np.float32,
                 in_shape: tuple[int, ...] | None = None) -> None:
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        self.in_shape = None if in_shape is None else tuple(in_shape)
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

    def geometry(self, in_shape: tuple[int, ...] | None = None) -> list[LayerShape]:
        """Each layer's shapes, parameters and multiply-accumulates for one image of
        ``in_shape`` ((C, H, W) or (D,); default: the model's own ``in_shape``);
        ValueError if the image does not fit or no shape is known."""
        shape = self.in_shape if in_shape is None else tuple(in_shape)
        if shape is None:
            raise ValueError("geometry needs an input shape: this model was built without one")
        rows = []
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
        twin = Sequential(layers, dtype=self.dtype, in_shape=self.in_shape)
        twin.bind(self.params, twin.grads)
        return twin

    def bind(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Make ``params``/``grads`` these (P,) arrays, every layer's dicts views into
        them (another model's parameters, or arrays in shared memory). The layers' current
        parameter values are written into ``params``."""
        offset = 0
        for layer in self.layers:
            n = layer.n_params
            if n:
                layer.bind(params[offset:offset + n], grads[offset:offset + n])
            offset += n
        self.params, self.grads = params, grads

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


def cnn(kernel_size: int = 3, channels: int = 4, init_std: float = 1.0,
        linear_init_std: float = 0.1, seed: int = 0,
        in_shape: tuple[int, int, int] = datasets.MNIST.image_shape,
        classes: int = datasets.MNIST.n_classes, dtype=np.float32) -> Sequential:
    """The original report's network for images of ``in_shape`` (C0, H, W) and ``classes`` classes::

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
    ], dtype=dtype, in_shape=in_shape)


def mlp(hidden: tuple[int, ...] = (100, 50), init_std: float = 0.01, seed: int = 0,
        in_features: int = int(np.prod(datasets.MNIST.image_shape)),
        classes: int = datasets.MNIST.n_classes, dtype=np.float32) -> Sequential:
    """Flatten -> [Linear -> ReLU] per hidden width -> Linear(-> classes).

    The original's 784-100-50-10 (MNIST) has 784*100+100 + 100*50+50 + 50*10+10 = 84,060
    parameters.
    """
    rng = np.random.default_rng(seed)
    layers: list[Layer] = [Flatten()]
    width = in_features
    for h in hidden:
        layers += [Linear(width, h, init_std=init_std, rng=rng, dtype=dtype), ReLU()]
        width = h
    layers.append(Linear(width, classes, init_std=init_std, rng=rng, dtype=dtype))
    return Sequential(layers, dtype=dtype, in_shape=(in_features,))


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


def count_params(model: Any) -> int:
    """Parameters of a network (a ``Sequential``, or anything with its ``params``)."""
    return int(model.params.size)


__all__ = ["Sequential", "LayerShape", "cnn", "mlp", "build_network", "geometry",
           "macs_per_image", "network_name", "count_params"]
