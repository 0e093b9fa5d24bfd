"""What every layer shares: the ``Layer`` base class (public (N, C, H, W) API over the
channel-major fast path, reused work buffers, parameter views into one flat vector),
the ``GridBatch`` that carries a batch on a grid between layers, and layout helpers."""

from __future__ import annotations

import numpy as np

from npcnn.im2col import Grid, GridConv


class GridBatch:
    """A channel-major batch (C, N, H, W) held in a grid: ``data: (C, grid.size)``.

    ``zeros``: its padding holds zeros, so a convolution can read it as it is; False when
    it holds leftovers (a convolution's output, computed at every grid position).
    """

    __slots__ = ("data", "grid", "zeros")

    def __init__(self, data: np.ndarray, grid: Grid, zeros: bool) -> None:
        self.data, self.grid, self.zeros = data, grid, zeros

    @property
    def shape(self) -> tuple[int, int, int, int]:
        g = self.grid
        return (self.data.shape[0], g.N, g.H, g.W)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def body(self) -> np.ndarray:
        """(C, grid.body) view: every plane position, padding included."""
        m = self.grid.margin
        return self.data[:, m:m + self.grid.body]

    def array(self) -> np.ndarray:
        """A new (C, N, H, W) array of the pixels."""
        return self.grid.get(self.data)


def as_array(x: np.ndarray | GridBatch) -> np.ndarray:
    return x.array() if isinstance(x, GridBatch) else x


class Layer:
    """Base class. Subclasses implement ``forward_cm(x, train)`` and ``backward_cm(dout)``."""

    n_params = 0
    consumer: Layer | None = None  # the next layer inside a model (set by Sequential)

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._bufs: dict[tuple, np.ndarray] = {}

    # -- public API: (N, C, H, W) or (N, D) in, the same layout out ------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.forward_cm(np.array(x, copy=True), train=True), copy=True)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self.backward_cm(np.array(dout, copy=True))
        self._check_grads()
        return np.array(dx, copy=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # -- internals -------------------------------------------------------------------
    def forward_cm(self, x: np.ndarray, train: bool = True) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward_cm(self, dout: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def _check_grads(self) -> None:
        assert self.grads.keys() == self.params.keys(), "grads keys differ from params"
        for name, p in self.params.items():
            assert self.grads[name].shape == p.shape, f"grads[{name!r}] shape differs"

    def input_grid(self, N: int, H: int, W: int) -> Grid | None:
        """The grid this layer wants a (C, N, H, W) input in; None: a plain (C, N, H, W) array."""
        return None

    # -- geometry: what one image costs and becomes -----------------------------------
    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output shape of one image of input ``shape`` ((C, H, W) or (D,))."""
        return tuple(shape)

    def macs(self, shape: tuple[int, ...]) -> int:
        """Multiply-accumulates of one image's forward pass from input ``shape``."""
        return 0

    def __getstate__(self) -> dict:
        # Copies and pickles carry parameters and settings, not the work arrays and
        # prepared convolutions (views into them) or the forward's cache: the next
        # forward rebuilds those.
        return {**self.__dict__, "_bufs": {}, "_cache": None}

    def _buf(self, name: str, shape: tuple, dtype, fill: float | None = None) -> np.ndarray:
        """A work array reused across batches of the same shape (``fill`` on creation)."""
        return self._cached((name, shape, np.dtype(dtype).str), lambda: (
            np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)))

    def _cached(self, key: tuple, make):
        """``make()`` once per key: work arrays, masks, prepared convolutions."""
        a = self._bufs.get(key)
        if a is None:
            if len(self._bufs) > 64:  # train, eval and last-batch shapes; bound the rest
                self._bufs.clear()
            a = self._bufs[key] = make()
        return a

    def _unfolding(self, data: np.ndarray, grid: Grid, k: int, padding: int,
                   cols: np.ndarray) -> GridConv:
        """The prepared ``GridConv`` for these buffers (they persist, so its views do)."""
        key = ("unfold", grid, k, padding, id(data), id(cols))
        return self._cached(key, lambda: GridConv(data, grid, k, padding, cols))

    def _on_grid(self, name: str, x: np.ndarray | GridBatch, grid: Grid) -> np.ndarray:
        """x (C, N, H, W) or GridBatch as data: (C, grid.size) with zero padding: x's own
        buffer when it already is that, else a copy into a reused zero-padded one."""
        if isinstance(x, GridBatch) and x.zeros and x.grid == grid:
            return x.data
        data = self._buf(name, (x.shape[0], grid.size), x.dtype, fill=0)
        grid.put(data, as_array(x))  # writes the pixels only: the padding stays zero
        return data

    # -- parameter storage: views into one flat vector -------------------------------
    def bind(self, p_flat: np.ndarray, g_flat: np.ndarray) -> None:
        """Make ``params``/``grads`` views into ``p_flat``/``g_flat`` ((n_params,) each),
        keeping the current parameter values. Lets a model update all of them at once."""

    def decay_mask(self) -> np.ndarray:
        """(n_params,) in ``bind``'s order: 1 where weight decay applies (W), 0 for b."""
        return np.zeros(0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def to_cm(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))  # (N, C, H, W) -> (C, N, H, W)


def from_cm(y: np.ndarray | GridBatch) -> np.ndarray:
    """(C, N, H, W) or GridBatch -> a new (N, C, H, W) array, in one copy (a fresh array
    costs page faults: a second one doubled the public API's time, measured)."""
    if not isinstance(y, GridBatch):
        return np.ascontiguousarray(y.transpose(1, 0, 2, 3))
    C, N, H, W = y.shape
    out = np.empty((N, C, H, W), y.dtype)
    np.copyto(y.grid.split(out.transpose(1, 0, 2, 3)), y.grid.interior(y.data))
    return out


class Spatial(Layer):
    """A layer whose fast path works channel-major; the public API stays (N, C, H, W)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return from_cm(self.forward_cm(to_cm(x), train=True))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self.backward_cm(to_cm(dout))
        self._check_grads()
        return None if dx is None else from_cm(dx)  # None: a model's first layer


__all__ = ["GridBatch", "as_array", "Layer", "to_cm", "from_cm", "Spatial"]
