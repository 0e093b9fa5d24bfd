"""Layers: small classes with ``forward(x)`` and ``backward(dout) -> dx``.

Public API, the layout everyone expects:
    images  x: (N, C, H, W)        flat features  x: (N, D)
    Conv2D  W: (F, C, k, k), b: (F,)     Linear  W: (D_in, D_out), b: (D_out,)
Layers with weights keep ``params`` and ``grads`` dicts with equal keys and shapes;
``backward`` fills ``grads`` (and asserts that they match). Spatial output size, once:

    H' = 1 + (H + 2*padding - k) // stride        (W' likewise)

Fast path. Inside a model (``npcnn.models.Sequential``) activations travel channel-major,
``(C, N, H, W)``, between the private ``fwd``/``bwd`` methods: then every convolution is
ONE 2-D matmul ``(F, C*k*k + 1) @ (C*k*k + 1, N*H'*W')`` whose result is already the
next layer's channel-major input, with no transpose between layers. The bias is folded
into that matmul as a row of ones under the im2col columns. Work buffers (padded input,
columns, outputs, gradients) are allocated once per batch shape and reused; the zero
border of a padded buffer persists, so no ``np.pad`` per batch. The public
``forward``/``backward`` wrap ``fwd``/``bwd`` with the transposes and copies that make
each layer usable on its own. ``npcnn.reference`` has loop-based versions of each.

Grids. A stride-1 convolution reads its input from a ``Grid`` (``npcnn.im2col``): the
batch stored flat with shared zero pads, so that each im2col row is one contiguous copy,
and computes its output at every grid position. Between ``fwd``/``bwd`` such batches
travel as ``Planes`` (the buffer and its grid) instead of (C, N, H, W) arrays: ReLU works
on the whole buffer, a pooling layer writes straight into the grid the next
convolution reads (each layer knows its ``consumer``), and its gradient comes back on
the same grid. Layers that do not use grids take ``Planes.dense()``.

``ConvReLUPool`` runs a model's first Conv2D -> ReLU -> 2x2 AvgPool2D as one stage, a
block of images at a time, on phase planes (even/odd rows and columns), so that the
convolution's output, the largest activation, never leaves the cache.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .im2col import (
    Grid,
    GridConv,
    block_images,
    col2im_cm,
    conv_cm,
    conv_grid,
    grid_conv_backward,
    out_size,
)


class Planes:
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

    def dense(self) -> np.ndarray:
        """A new (C, N, H, W) array of the pixels."""
        return self.grid.get(self.data)


def _dense(x: np.ndarray | Planes) -> np.ndarray:
    return x.dense() if isinstance(x, Planes) else x


class Layer:
    """Base class. Subclasses implement ``fwd(x, train)`` and ``bwd(dout)``."""

    n_params = 0
    consumer: Layer | None = None  # the next layer inside a model (set by Sequential)

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._bufs: dict[tuple, np.ndarray] = {}

    # -- public API: (N, C, H, W) or (N, D) in, the same layout out ------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.fwd(np.array(x, copy=True), train=True), copy=True)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self.bwd(np.array(dout, copy=True))
        self._check_grads()
        return np.array(dx, copy=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # -- internals -------------------------------------------------------------------
    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def bwd(self, dout: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def _check_grads(self) -> None:
        assert self.grads.keys() == self.params.keys(), "grads keys differ from params"
        for name, p in self.params.items():
            assert self.grads[name].shape == p.shape, f"grads[{name!r}] shape differs"

    def input_grid(self, N: int, H: int, W: int) -> Grid | None:
        """The grid this layer wants a (C, N, H, W) input in; None: a dense array."""
        return None

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

    def _on_grid(self, name: str, x: np.ndarray | Planes, grid: Grid) -> np.ndarray:
        """x (C, N, H, W) or Planes as data: (C, grid.size) with zero padding: x's own
        buffer when it already is that, else a copy into a reused zero-padded one."""
        if isinstance(x, Planes) and x.zeros and x.grid == grid:
            return x.data
        data = self._buf(name, (x.shape[0], grid.size), x.dtype, fill=0)
        grid.put(data, _dense(x))  # writes the pixels only: the padding stays zero
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


def _to_cm(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3))  # (N, C, H, W) -> (C, N, H, W)


def _from_cm(y: np.ndarray | Planes) -> np.ndarray:
    """(C, N, H, W) or Planes -> a new (N, C, H, W) array, in one copy (a fresh array
    costs page faults: a second one doubled the public API's time, measured)."""
    if not isinstance(y, Planes):
        return np.ascontiguousarray(y.transpose(1, 0, 2, 3))
    C, N, H, W = y.shape
    out = np.empty((N, C, H, W), y.dtype)
    np.copyto(y.grid.split(out.transpose(1, 0, 2, 3)), y.grid.interior(y.data))
    return out


class _Spatial(Layer):
    """A layer whose fast path works channel-major; the public API stays (N, C, H, W)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _from_cm(self.fwd(_to_cm(x), train=True))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self.bwd(_to_cm(dout))
        self._check_grads()
        return None if dx is None else _from_cm(dx)  # None: a model's first layer


class Conv2D(_Spatial):
    """2-D cross-correlation (as PyTorch's ``Conv2d``) computed by im2col + one matmul.

    Shape:
        x: (N, C, H, W)  ->  out: (N, F, H', W'),  H' = 1 + (H + 2*padding - k) // stride
    Attributes:
        params["W"]: (F, C, k, k) drawn from N(0, init_std^2);  params["b"]: (F,) zeros.
        Both are views into one (F, C*k*k + 1) matrix ``[W | b]`` so the bias rides in
        the matmul against a row of ones.
    Backward: ``dW, db`` from one matmul ``cols @ dout.T``; ``dx`` (stride 1) as the seed
    did it: a convolution of the padded ``dout`` with the filters rotated 180 degrees and
    the channel axes swapped, i.e. im2col(dout) times the flipped weight matrix; other
    strides scatter the columns back with col2im.

    Stride 1 with ``padding <= k - 1`` (every network here) runs on a grid
    (``input_grid``): input, output and both gradients share one grid geometry, the
    output and ``dx`` come back as ``Planes``.

    Example:
        >>> conv = Conv2D(1, 4, 3, padding=1, init_std=1.0, rng=np.random.default_rng(0))
        >>> conv.forward(np.zeros((2, 1, 28, 28), np.float32)).shape
        (2, 4, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, init_std: float = 0.01,
                 rng: np.random.Generator | None = None, dtype=np.float32) -> None:
        super().__init__()
        if min(in_channels, out_channels, kernel_size, stride) < 1 or padding < 0:
            raise ValueError("Conv2D needs channels, kernel_size, stride >= 1 and padding >= 0")
        self.C, self.F, self.k = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dtype = stride, padding, np.dtype(dtype)
        self.needs_dx = True  # a model's first layer sets it False: no one uses that dx
        self.n_params = self.F * (self.C * self.k * self.k + 1)
        rng = np.random.default_rng() if rng is None else rng
        w = rng.normal(0.0, init_std, size=(self.F, self.C, self.k, self.k))
        self.bind(np.zeros(self.n_params, self.dtype), np.zeros(self.n_params, self.dtype))
        self.params["W"][...] = w

    def bind(self, p_flat: np.ndarray, g_flat: np.ndarray) -> None:
        old = {k: v.copy() for k, v in self.params.items()}
        F, CKK = self.F, self.C * self.k * self.k
        self._mat = p_flat.reshape(F, CKK + 1)  # [W | b]
        self._gmat = g_flat.reshape(F, CKK + 1)  # [dW | db]
        shape = (F, self.C, self.k, self.k)
        self.params = {"W": self._mat[:, :CKK].reshape(shape), "b": self._mat[:, CKK]}
        self.grads = {"W": self._gmat[:, :CKK].reshape(shape), "b": self._gmat[:, CKK]}
        assert np.shares_memory(self.params["W"], p_flat), "W must be a view"
        for k, v in old.items():
            self.params[k][...] = v

    def decay_mask(self) -> np.ndarray:
        m = np.ones((self.F, self.C * self.k * self.k + 1), self.dtype)
        m[:, -1] = 0
        return m.ravel()

    def input_grid(self, N: int, H: int, W: int) -> Grid | None:
        k, p = self.k, self.padding
        if self.stride != 1 or p > k - 1:
            return None
        return conv_grid(N, H, W, k, p)

    def _out_grid(self, g: Grid) -> Grid:
        """The output's grid: the input's geometry, H' x W' pixels in it."""
        d = self.k - 1 - 2 * self.padding  # H - H'
        return Grid(g.N, g.H - d, g.W - d, g.pad + d, 1, g.margin)

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray | Planes:
        """x: (C, N, H, W) channel-major or Planes -> (F, N, H', W'), Planes on a grid."""
        C, N, H, W = x.shape
        grid = self.input_grid(N, H, W)
        if grid is None:
            return self._fwd_dense(_dense(x), train)
        data = self._on_grid("xg", x, grid)
        out = self._buf("out", (self.F, grid.size), x.dtype, fill=0)
        self._unfolding(data, grid, self.k, self.padding, self._cols(grid, x.dtype)
                        ).forward(self._mat, out)
        self._cache = ("grid", data, grid) if train else None
        return Planes(out, self._out_grid(grid), zeros=False)

    def bwd(self, dout: np.ndarray | Planes) -> np.ndarray | Planes | None:
        """dout: (F, N, H', W') or Planes -> dx: Planes, (C, N, H, W) on the input's grid
        (None when ``needs_dx`` is False)."""
        if self._cache[0] == "dense":
            return self._bwd_dense(_dense(dout))
        _, data, grid = self._cache
        k, F, C, p = self.k, self.F, self.C, self.padding
        d = self._on_grid("doutg", dout, self._out_grid(grid))  # zero padding adds nothing
        cols = self._cols(grid, d.dtype)
        # [dW | db]^T = cols @ dout^T over every grid position: the ones row sums dout
        # into db. This orientation runs ~1.4x faster in OpenBLAS than dout @ cols.T.
        g_t = self._buf("g_t", (cols.shape[0], F), d.dtype)
        tmp = self._buf("g_tmp", (cols.shape[0], F), d.dtype)
        x_unf = self._unfolding(data, grid, k, p, cols)
        if not self.needs_dx:
            grid_conv_backward(x_unf, d, g_t, tmp)
            np.copyto(self._gmat, g_t.T)
            return None
        # dx: dout, zero-padded by its grid, convolved with W rotated 180 degrees and
        # in/out channels swapped, (C, F*k*k); padding k-1-p gives back H x W.
        w_rot = self._buf("w_rot", (C, F * k * k), d.dtype)
        np.copyto(w_rot.reshape(C, F, k, k),
                  self.params["W"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        dcols = self._buf("dcols", (F * k * k, cols.shape[1]), d.dtype)
        dx = self._buf("dx", (C, grid.size), d.dtype, fill=0)
        grid_conv_backward(x_unf, d, g_t, tmp, self._unfolding(d, grid, k, k - 1 - p, dcols),
                           w_rot, dx)
        np.copyto(self._gmat, g_t.T)
        return Planes(dx, grid, zeros=False)

    def _cols(self, grid: Grid, dtype) -> np.ndarray:
        """Scratch columns for a block of images; the last row is ones, written on
        creation: the bias input. Blocks are sized for the larger of the two unfoldings
        (input and, in backward, dout) so that both use the same blocks."""
        F, C, k = self.F, self.C, self.k
        rows = C * k * k + 1
        step = min(grid.N, block_images(max(rows, F * k * k * self.needs_dx), grid.S))
        return self._buf("cols", (rows, step * grid.S), dtype, fill=1)

    def _fwd_dense(self, x: np.ndarray, train: bool) -> np.ndarray:
        """x: (C, N, H, W) channel-major -> (F, N, H', W'), any stride and padding."""
        C, N, H, W = x.shape
        k, s, p, F = self.k, self.stride, self.padding, self.F
        Ho, Wo = out_size(H, k, s, p), out_size(W, k, s, p)
        if p:
            xp = self._buf("xp", (C, N, H + 2 * p, W + 2 * p), x.dtype, fill=0)
            xp[:, :, p:p + H, p:p + W] = x  # the zero border was written once, on creation
        else:
            xp = x
        rows, P = C * k * k + 1, Ho * Wo
        # Training keeps the whole unfolded batch for dW; evaluation needs one block only.
        width = N * P if train else min(N, block_images(rows, P)) * P
        # The last row is ones, written on creation: the bias input.
        cols = self._buf("cols" if train else "cols_eval", (rows, width), x.dtype, fill=1)
        out = self._buf("out", (F, N * P), x.dtype)
        conv_cm(xp, k, s, self._mat, out, cols)
        self._cache = ("dense", cols, x.shape) if train else None
        return out.reshape(F, N, Ho, Wo)

    def _bwd_dense(self, dout: np.ndarray) -> np.ndarray | None:
        """dout: (F, N, H', W') -> dx: (C, N, H, W) (None when ``needs_dx`` is False)."""
        _, cols, (C, N, H, W) = self._cache
        k, s, p, F = self.k, self.stride, self.padding, self.F
        d2 = np.ascontiguousarray(dout).reshape(F, -1)  # (F, N*H'*W')
        # [dW | db]^T = cols @ dout^T: the ones row sums dout into db. This orientation
        # runs ~1.4x faster in OpenBLAS than dout @ cols.T (measured, F=16).
        g_t = self._buf("g_t", (cols.shape[0], F), d2.dtype)
        np.matmul(cols, d2.T, out=g_t)
        np.copyto(self._gmat, g_t.T)
        if not self.needs_dx:
            return None
        if s == 1 and p <= k - 1:
            # Full convolution of dout with the rotated filters: pad by k-1-p, then a
            # stride-1 cross-correlation gives exactly H x W (H' + k - 1 - 2p = H).
            q, Ho, Wo = k - 1 - p, dout.shape[2], dout.shape[3]
            if q:
                dp = self._buf("doutp", (F, N, Ho + 2 * q, Wo + 2 * q), dout.dtype, fill=0)
                dp[:, :, q:q + Ho, q:q + Wo] = dout
            else:
                dp = np.ascontiguousarray(dout)
            rows = F * k * k
            dcols = self._buf("dcols", (rows, min(N, block_images(rows, H * W)) * H * W),
                              dout.dtype)
            # W rotated 180 degrees with in/out channels swapped: (C, F*k*k).
            w_rot = self.params["W"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, -1)
            dx = self._buf("dx", (C, N * H * W), dout.dtype)
            conv_cm(dp, k, 1, w_rot, dx, dcols)
            return dx.reshape(C, N, H, W)
        dcols = self._mat[:, :-1].T @ d2  # (C*k*k, N*H'*W')
        return col2im_cm(dcols, (C, N, H, W), k, s, p)

    def __repr__(self) -> str:
        return (f"Conv2D({self.C}, {self.F}, kernel_size={self.k}, stride={self.stride}, "
                f"padding={self.padding})")


class _Pool(_Spatial):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__()
        self.k = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        if self.k < 1 or self.stride < 1 or padding < 0 or 2 * padding > self.k:
            raise ValueError("pooling needs kernel_size, stride >= 1 and 0 <= padding <= k/2")

    def _tiles(self, H: int, W: int) -> bool:
        """True when windows tile the input exactly (stride = k, no padding): the
        common 2x2 case, which needs no window view at all."""
        k = self.k
        return self.stride == k and self.padding == 0 and H % k == 0 and W % k == 0

    def _padded(self, name: str, x: np.ndarray, fill: float) -> np.ndarray:
        C, N, H, W = x.shape
        p = self.padding
        if not p:
            return x
        xp = self._buf(name, (C, N, H + 2 * p, W + 2 * p), x.dtype, fill=fill)
        xp[:, :, p:p + H, p:p + W] = x
        return xp

    def _scatter(self, parts, shape, dtype) -> np.ndarray:
        """Sum per-offset gradients parts(i, j): (C, N, H', W') back onto the input."""
        C, N, H, W = shape
        k, s, p = self.k, self.stride, self.padding
        dxp = self._buf("dxp", (C, N, H + 2 * p, W + 2 * p), dtype)
        dxp.fill(0)
        for i in range(k):  # k*k whole-array strided adds, not a loop over pixels
            for j in range(k):
                part = parts(i, j)
                Ho, Wo = part.shape[2], part.shape[3]
                dxp[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += part
        return dxp[:, :, p:p + H, p:p + W]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.k}, stride={self.stride}, padding={self.padding})"


class AvgPool2D(_Pool):
    """Average pooling; zero padding counts in the mean (PyTorch's count_include_pad).

    Shape: x: (N, C, H, W) -> (N, C, H', W'), H' = 1 + (H + 2*padding - k) // stride.
    Backward spreads each output gradient evenly, /k^2, over its window (the seed's
    ``np.kron`` upsampling, done here as strided copies when windows tile).
    Inside a model, when windows tile, the output goes straight into the grid its
    consumer reads and the gradient onto the input's grid (``Planes``).
    """

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray | Planes:
        C, N, H, W = x.shape
        k = self.k
        if not self._tiles(H, W):
            x = _dense(x)
        self._shape, self._grid = x.shape, getattr(x, "grid", None)
        if not self._tiles(H, W):
            return self._fwd_windows(x)
        og = self.consumer.input_grid(N, H // k, W // k) if self.consumer else None
        if og is None:
            y = self._buf("y", (C, N, H // k, W // k), x.dtype)
            self._sum_tiles(self._pixels(x), y)
            y *= 1.0 / (k * k)
            return y
        out = Planes(self._buf("yg", (C, og.size), x.dtype, fill=0), og, zeros=True)
        self._sum_tiles(self._pixels(x), og.interior(out.data)[:, 0, 0])
        body = out.body()
        body *= 1.0 / (k * k)  # contiguous rows; the padding stays zero
        return out

    def bwd(self, dout: np.ndarray | Planes) -> np.ndarray | Planes:
        C, N, H, W = self._shape
        k = self.k
        if not self._tiles(H, W):
            scaled = _dense(dout) * (1.0 / (k * k))
            return self._scatter(lambda i, j: scaled, self._shape, dout.dtype)
        scaled = self._buf("scaled", (C, N, H // k, W // k), dout.dtype)
        np.multiply(self._pixels(dout), 1.0 / (k * k), out=scaled)
        if self._grid is None:
            dx = self._buf("dx", (C, N, H, W), dout.dtype)
        else:
            dg = self._buf("dxg", (C, self._grid.size), dout.dtype, fill=0)
            dx = self._grid.interior(dg)[:, 0, 0]  # its padding stays zero
        dx6 = dx.reshape(C, N, H // k, k, W // k, k)
        # Every pixel of a window gets dout/k^2 (the seed's np.kron upsampling): k*k
        # strided copies, ~3x faster than one 6-D broadcast (measured).
        for i in range(k):
            for j in range(k):
                dx6[:, :, :, i, :, j] = scaled
        return dx if self._grid is None else Planes(dg, self._grid, zeros=True)

    def _pixels(self, x: np.ndarray | Planes) -> np.ndarray:
        """(C, N, H, W) view of x's pixels."""
        return x.grid.interior(x.data)[:, 0, 0] if isinstance(x, Planes) else x

    def _sum_tiles(self, x: np.ndarray, y: np.ndarray) -> None:
        """y = the sum of each k x k tile of x: (C, N, H, W) -> (C, N, H/k, W/k)."""
        C, N, H, W = x.shape
        k = self.k
        # Sum the k rows of each window first (contiguous rows), then the k columns:
        # faster than a reduction over two axes of a 6-D view (measured).
        rows = self._buf("rows", (C, N, H // k, W), x.dtype)
        x5 = x.reshape(C, N, H // k, k, W)
        _sum_into(rows, [x5[:, :, :, i] for i in range(k)])
        _sum_into(y, [rows[..., j::k] for j in range(k)])

    def _fwd_windows(self, x: np.ndarray) -> np.ndarray:
        """Overlapping or padded windows: x (C, N, H, W) dense -> (C, N, H', W')."""
        C, N, H, W = x.shape
        k, s, p = self.k, self.stride, self.padding
        Ho, Wo = out_size(H, k, s, p), out_size(W, k, s, p)
        y = self._buf("y", (C, N, Ho, Wo), x.dtype)
        win = sliding_window_view(self._padded("xp", x, 0), (k, k), axis=(2, 3))
        np.sum(win[:, :, ::s, ::s], axis=(4, 5), out=y)
        y *= 1.0 / (k * k)
        return y


def _sum_into(out: np.ndarray, parts: list[np.ndarray]) -> None:
    """out = the sum of parts, in order, with no separate copy of the first."""
    if len(parts) == 1:
        np.copyto(out, parts[0])
        return
    np.add(parts[0], parts[1], out=out)
    for part in parts[2:]:
        out += part


class MaxPool2D(_Pool):
    """Max pooling; padding is -inf. Shape as AvgPool2D.

    Backward routes each output gradient to the (first, row-major) maximum of its window.
    """

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray:
        x = _dense(x)
        C, N, H, W = x.shape
        k, s = self.k, self.stride
        win = sliding_window_view(self._padded("xp", x, -np.inf), (k, k), axis=(2, 3))
        win = win[:, :, ::s, ::s]  # (C, N, H', W', k, k)
        flat = win.reshape(win.shape[:4] + (k * k,))  # copies: windows overlap in general
        idx = flat.argmax(axis=-1)
        self._idx, self._shape = idx, x.shape
        return np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]

    def bwd(self, dout: np.ndarray | Planes) -> np.ndarray:
        k, dout = self.k, _dense(dout)
        return self._scatter(lambda i, j: dout * (self._idx == i * k + j),
                             self._shape, dout.dtype)


class ReLU(Layer):
    """max(0, x), elementwise; any shape. Caches its output (the mask is output > 0).

    Inside a model, on ``Planes``: in place on the whole buffer (a grid's leftovers
    included: cheaper than picking out its pixels), and the gradient on the same grid.
    """

    # Floats of mask computed at a time in backward: a chunk stays in cache between
    # being written and being read, a whole-batch mask would not.
    CHUNK = 1 << 16

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray | Planes:
        a = x.body() if isinstance(x, Planes) else x
        a2 = a.reshape(a.shape[0], -1)  # (rows, n): a view (Planes' rows are contiguous)
        # In place, against a preallocated row of zeros: much faster than a scalar 0 in
        # NumPy's maximum (measured), and the input buffer is not needed again.
        np.maximum(a2, self._buf("zeros", a2.shape[1:], a.dtype, fill=0), out=a2)
        self._y, self._grid = a2, getattr(x, "grid", None)
        return x

    def bwd(self, dout: np.ndarray | Planes) -> np.ndarray | Planes:
        if self._grid is not None and not isinstance(dout, Planes):
            # a dense gradient for a grid output: onto a zero-padded copy of the grid
            dout = Planes(self._on_grid("doutg", dout, self._grid), self._grid, zeros=True)
        a = dout.body() if isinstance(dout, Planes) else dout
        a2, y = a.reshape(self._y.shape), self._y
        step = max(1, self.CHUNK // y.shape[1])  # rows per chunk
        mask = self._buf("mask", (min(step, len(y)), y.shape[1]), a.dtype)
        for r in range(0, len(y), step):
            m = mask[:min(step, len(y) - r)]
            # The comparison written straight into a float mask: float*float multiplies
            # faster than float*bool (measured).
            np.greater(y[r:r + step], 0, out=m, casting="unsafe")
            np.multiply(a2[r:r + step], m, out=a2[r:r + step])
        return dout


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), elementwise, computed as 0.5 * (1 + tanh(x / 2)) (no overflow)."""

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray:
        y = np.tanh(_dense(x) * 0.5)
        y += 1
        y *= 0.5
        self._y = y
        return y

    def bwd(self, dout: np.ndarray | Planes) -> np.ndarray:
        return _dense(dout) * self._y * (1 - self._y)


class ConvReLUPool(Layer):
    """Conv2D -> ReLU -> 2x2 AvgPool2D as one stage: a model's first layers (the
    convolution's input gradient is not needed), same numbers up to float summation
    order, far fewer passes over memory.

    The convolution's output, the largest activation, is computed a block of images at
    a time as four phase planes (pixels with even/odd row and column: a ``Grid`` with
    phases=2); ReLU follows in place, and the pooling is the sum of the four planes times
    a mask (1/4 on pixels, 0 on the padding), written straight into the grid the next
    layer reads, all while the block is in cache. Training keeps the convolution's
    output (after ReLU) for ReLU's mask if it is small enough to stay in cache
    (``KEEP_FLOATS``: up to C=16 at batch 100), else backward computes each block's
    again; then dz = (z > 0) * dout/4 on every plane and dW = dz @ cols^T, block by
    block (the columns are unfolded again). The three layers keep their own API; a
    model calls this instead.

    Shape: x: (C, N, H, W) channel-major -> (F, N, H/2, W/2) as Planes (or dense when
    the next layer takes no grid). Odd H or W: the three layers one after another.
    """

    # Floats of columns and convolution output per block (2 MiB): the best of 2^17 to
    # 2^21 at C=4 and C=16 (measured; larger blocks mean fewer NumPy calls, smaller
    # ones stay in L2, and two workers share the L3).
    BLOCK_FLOATS = 1 << 19
    # Training keeps the convolution's output for backward when it is at most this many
    # floats (8 MiB); keeping beat computing it again at C=4 and C=16 (measured).
    KEEP_FLOATS = 1 << 21

    def __init__(self, conv: Conv2D, relu: ReLU, pool: AvgPool2D) -> None:
        super().__init__()
        self.conv, self.relu, self.pool = conv, relu, pool

    @staticmethod
    def fits(layers: list[Layer]) -> bool:
        """Whether ``layers`` starts with a convolution this stage can run."""
        if len(layers) < 3:
            return False
        conv, relu, pool = layers[:3]
        return (isinstance(conv, Conv2D) and isinstance(relu, ReLU)
                and isinstance(pool, AvgPool2D) and not conv.needs_dx and conv.stride == 1
                and conv.k == 2 * conv.padding + 1
                and (pool.k, pool.stride, pool.padding) == (2, 2, 0))

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray | Planes:
        C, N, H, W = x.shape
        self._fused = H % 2 == 0 and W % 2 == 0
        if not self._fused:
            for layer in (self.conv, self.relu, self.pool):
                x = layer.fwd(x, train)
            return x
        conv, F = self.conv, self.conv.F
        og = self.consumer.input_grid(N, H // 2, W // 2) if self.consumer else None
        grid = conv_grid(N, H, W, conv.k, conv.padding, phases=2,
                         pad=og.pad if og is not None else 0)
        pooled = Grid(N, H // 2, W // 2, grid.pad)  # one image per plane, no margin
        unf = self._unfold(self._on_grid("xg", x, grid), grid, x.dtype)
        direct = og is not None and (og.phases, og.Wq, og.S) == (1, grid.Wq, grid.S)
        if direct:  # the pooled planes are the next layer's grid: write them there
            out = Planes(self._buf("yg", (F, og.size), x.dtype, fill=0), og, zeros=True)
            y = out.body()
        else:
            y = self._buf("ysum", (F, pooled.size), x.dtype)
        keep = train and F * grid.body <= self.KEEP_FLOATS
        z = self._buf("z", (F, unf.refs[1].shape[1]), x.dtype)
        if keep:
            kept = self._buf("kept", (F, grid.body), x.dtype)
        zeros = self._buf("zeros", z.shape[1:], x.dtype, fill=0)
        mask = self._mask(pooled, x.dtype)
        for i in range(len(unf.blocks)):
            block, a, b = unf.unfold(i)
            zb = kept[:, 4 * a * grid.S:4 * b * grid.S] if keep else z[:, :block.shape[1]]
            np.matmul(conv._mat, block, out=zb)
            np.maximum(zb, zeros[:block.shape[1]], out=zb)
            z4 = zb.reshape(F, 4, -1)  # (F, plane, positions of images a..b)
            yb = y[:, a * grid.S:b * grid.S]
            np.add(z4[:, 0], z4[:, 1], out=yb)
            yb += z4[:, 2]
            yb += z4[:, 3]
            yb *= mask[a * grid.S:b * grid.S]
        self._cache = (unf, pooled, kept if keep else None) if train else None
        if direct:
            return out
        dense = pooled.get(y)
        if og is None:
            return dense
        out = Planes(self._buf("yg", (F, og.size), x.dtype, fill=0), og, zeros=True)
        og.put(out.data, dense)
        return out

    def bwd(self, dout: np.ndarray | Planes) -> None:
        """dout: (F, N, H/2, W/2) or Planes -> fills the convolution's grads; None."""
        if not self._fused:
            for layer in (self.pool, self.relu, self.conv):
                dout = layer.bwd(dout)
            return None
        unf, pooled, kept = self._cache
        conv, S = self.conv, pooled.S
        F = conv.F
        g = self._buf("g", (F, pooled.size), dout.dtype, fill=0)
        if isinstance(dout, Planes) and (dout.grid.phases, dout.grid.Wq, dout.grid.S) == (
                1, pooled.Wq, S):
            np.multiply(dout.body(), self._mask(pooled, dout.dtype), out=g)
        else:  # onto the pixels of g: its padding stays zero
            np.multiply(_dense(dout), 0.25, out=pooled.interior(g)[:, 0, 0])
        z = self._buf("z", (F, unf.refs[1].shape[1]), dout.dtype)
        tmp = self._buf("g_tmp", conv._gmat.shape, dout.dtype)
        for i in range(len(unf.blocks)):
            block, a, b = unf.unfold(i)
            zb = z[:, :block.shape[1]]
            if kept is None:
                np.matmul(conv._mat, block, out=zb)
                np.greater(zb, 0, out=zb, casting="unsafe")
            else:
                np.greater(kept[:, 4 * a * S:4 * b * S], 0, out=zb, casting="unsafe")
            # ReLU's mask (as floats) times dout/4 of the same pooled pixel on every
            # plane: dz, in place of the mask.
            z4 = zb.reshape(F, 4, -1)
            np.multiply(z4, g[:, None, a * S:b * S], out=z4)
            # [dW | db] = dz @ cols^T (the ones row sums dz into db); with F rows this
            # orientation runs faster than cols @ dz^T (measured, F = 4 and 16).
            np.matmul(zb, block.T, out=tmp if i else conv._gmat)
            if i:
                conv._gmat += tmp
        return None

    def _unfold(self, data: np.ndarray, grid: Grid, dtype) -> GridConv:
        conv = self.conv
        rows = conv.C * conv.k * conv.k + 1
        step = min(grid.N, max(1, self.BLOCK_FLOATS // ((rows + conv.F) * 4 * grid.S)))
        # The last row is ones, written on creation: the bias input.
        cols = self._buf("cols", (rows, 4 * step * grid.S), dtype, fill=1)
        return self._unfolding(data, grid, conv.k, conv.padding, cols)

    def _mask(self, g: Grid, dtype) -> np.ndarray:
        return self._cached(("mask", g, np.dtype(dtype).str), lambda: g.mask(0.25, dtype))

    def __repr__(self) -> str:
        return f"ConvReLUPool({self.conv!r}, {self.relu!r}, {self.pool!r})"


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), row-major over (C, H, W) as PyTorch's ``flatten(1)``.

    Inside a model it receives channel-major (C, N, H, W) and does the one transpose
    back to sample-major that the fully connected layers need.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape_nchw = x.shape
        return x.reshape(x.shape[0], -1).copy()

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self._shape_nchw).copy()

    def fwd(self, x: np.ndarray | Planes, train: bool = True) -> np.ndarray:
        C, N, H, W = x.shape
        self._shape = x.shape
        y = self._buf("y", (N, C, H, W), x.dtype)
        np.copyto(y, _dense(x).transpose(1, 0, 2, 3))
        return y.reshape(N, C * H * W)

    def bwd(self, dout: np.ndarray | Planes) -> np.ndarray:
        C, N, H, W = self._shape
        dout = _dense(dout)
        dx = self._buf("dx", (C, N, H, W), dout.dtype)
        np.copyto(dx, dout.reshape(N, C, H, W).transpose(1, 0, 2, 3))
        return dx


class Linear(Layer):
    """Fully connected: y = x @ W + b.

    Shape: x: (N, D_in) -> y: (N, D_out).
    Attributes: params["W"]: (D_in, D_out) from N(0, init_std^2); params["b"]: (D_out,) zeros.
    """

    def __init__(self, in_features: int, out_features: int, init_std: float = 0.01,
                 rng: np.random.Generator | None = None, dtype=np.float32) -> None:
        super().__init__()
        if min(in_features, out_features) < 1:
            raise ValueError("Linear needs in_features, out_features >= 1")
        self.D, self.M, self.dtype = in_features, out_features, np.dtype(dtype)
        self.needs_dx = True
        self.n_params = (self.D + 1) * self.M
        rng = np.random.default_rng() if rng is None else rng
        w = rng.normal(0.0, init_std, size=(self.D, self.M))
        self.bind(np.zeros(self.n_params, self.dtype), np.zeros(self.n_params, self.dtype))
        self.params["W"][...] = w

    def bind(self, p_flat: np.ndarray, g_flat: np.ndarray) -> None:
        old = {k: v.copy() for k, v in self.params.items()}
        p, g = p_flat.reshape(self.D + 1, self.M), g_flat.reshape(self.D + 1, self.M)
        self.params = {"W": p[:-1], "b": p[-1]}  # rows of [W; b]
        self.grads = {"W": g[:-1], "b": g[-1]}
        for k, v in old.items():
            self.params[k][...] = v

    def decay_mask(self) -> np.ndarray:
        m = np.ones((self.D + 1, self.M), self.dtype)
        m[-1] = 0
        return m.ravel()

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        x2 = x.reshape(x.shape[0], -1)
        self._x = x2
        y = self._buf("y", (x2.shape[0], self.M), x2.dtype)
        np.matmul(x2, self.params["W"], out=y)
        y += self.params["b"]
        return y

    def bwd(self, dout: np.ndarray) -> np.ndarray | None:
        np.matmul(self._x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])
        if not self.needs_dx:
            return None
        return dout @ self.params["W"].T

    def __repr__(self) -> str:
        return f"Linear({self.D}, {self.M})"


__all__ = ["Layer", "Planes", "Conv2D", "AvgPool2D", "MaxPool2D", "ReLU", "Sigmoid", "Flatten",
           "Linear", "ConvReLUPool"]
