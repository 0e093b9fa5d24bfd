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
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .im2col import block_images, col2im_cm, conv_cm, out_size


class Layer:
    """Base class. Subclasses implement ``fwd(x, train)`` and ``bwd(dout)``."""

    n_params = 0

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

    def _buf(self, name: str, shape: tuple, dtype, fill: float | None = None) -> np.ndarray:
        """A work array reused across batches of the same shape (``fill`` on creation)."""
        key = (name, shape, np.dtype(dtype).str)
        a = self._bufs.get(key)
        if a is None:
            if len(self._bufs) > 24:  # train, eval and last-batch shapes; bound the rest
                self._bufs.clear()
            a = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
            self._bufs[key] = a
        return a

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


def _from_cm(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3))  # (C, N, H, W) -> (N, C, H, W)


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
    Backward: ``dW, db`` from one matmul ``dout @ cols.T``; ``dx`` (stride 1) as the seed
    did it: a convolution of the padded ``dout`` with the filters rotated 180 degrees and
    the channel axes swapped, i.e. im2col(dout) times the flipped weight matrix; other
    strides scatter the columns back with col2im.

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

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """x: (C, N, H, W) channel-major -> (F, N, H', W')."""
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
        self._cache = (cols, x.shape) if train else None
        return out.reshape(F, N, Ho, Wo)

    def bwd(self, dout: np.ndarray) -> np.ndarray | None:
        """dout: (F, N, H', W') -> dx: (C, N, H, W) (None when ``needs_dx`` is False)."""
        cols, (C, N, H, W) = self._cache
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
    ``np.kron`` upsampling, done here as one broadcast copy when windows tile).
    """

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        C, N, H, W = x.shape
        k, s, p = self.k, self.stride, self.padding
        Ho, Wo = out_size(H, k, s, p), out_size(W, k, s, p)
        self._shape = x.shape
        y = self._buf("y", (C, N, Ho, Wo), x.dtype)
        if self._tiles(H, W):
            # Sum the k rows of each window first (contiguous rows), then the k columns:
            # faster than a reduction over two axes of a 6-D view (measured).
            rows = self._buf("rows", (C, N, Ho, W), x.dtype)
            x5 = x.reshape(C, N, Ho, k, W)
            np.copyto(rows, x5[:, :, :, 0])
            for i in range(1, k):
                rows += x5[:, :, :, i]
            np.copyto(y, rows[..., 0::k])
            for j in range(1, k):
                y += rows[..., j::k]
        else:
            win = sliding_window_view(self._padded("xp", x, 0), (k, k), axis=(2, 3))
            np.sum(win[:, :, ::s, ::s], axis=(4, 5), out=y)
        y *= 1.0 / (k * k)
        return y

    def bwd(self, dout: np.ndarray) -> np.ndarray:
        C, N, H, W = self._shape
        k = self.k
        if self._tiles(H, W):
            dx = self._buf("dx", (C, N, H, W), dout.dtype)
            dx6 = dx.reshape(C, N, H // k, k, W // k, k)
            # Every pixel of a window gets dout/k^2 (the seed's np.kron upsampling): k*k
            # strided copies, ~3x faster than one 6-D broadcast (measured).
            scaled = np.multiply(dout, 1.0 / (k * k), out=self._buf("scaled", dout.shape,
                                                                     dout.dtype))
            for i in range(k):
                for j in range(k):
                    dx6[:, :, :, i, :, j] = scaled
            return dx
        scaled = dout * (1.0 / (k * k))
        return self._scatter(lambda i, j: scaled, self._shape, dout.dtype)


class MaxPool2D(_Pool):
    """Max pooling; padding is -inf. Shape as AvgPool2D.

    Backward routes each output gradient to the (first, row-major) maximum of its window.
    """

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        C, N, H, W = x.shape
        k, s = self.k, self.stride
        win = sliding_window_view(self._padded("xp", x, -np.inf), (k, k), axis=(2, 3))
        win = win[:, :, ::s, ::s]  # (C, N, H', W', k, k)
        flat = win.reshape(win.shape[:4] + (k * k,))  # copies: windows overlap in general
        idx = flat.argmax(axis=-1)
        self._idx, self._shape = idx, x.shape
        return np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]

    def bwd(self, dout: np.ndarray) -> np.ndarray:
        k = self.k
        return self._scatter(lambda i, j: dout * (self._idx == i * k + j),
                             self._shape, dout.dtype)


class ReLU(Layer):
    """max(0, x), elementwise; any shape. Caches its output (the mask is output > 0)."""

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        # In place, against a preallocated zero array: much faster than a scalar 0
        # in NumPy's maximum (measured), and the input buffer is not needed again.
        np.maximum(x, self._buf("zeros", x.shape, x.dtype, fill=0), out=x)
        self._y = x
        return x

    def bwd(self, dout: np.ndarray) -> np.ndarray:
        # The comparison written straight into a float mask: float*float multiplies
        # faster than float*bool (measured).
        mask = self._buf("mask", dout.shape, dout.dtype)
        np.greater(self._y, 0, out=mask, casting="unsafe")
        np.multiply(dout, mask, out=dout)
        return dout


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), elementwise, computed as 0.5 * (1 + tanh(x / 2)) (no overflow)."""

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        y = np.tanh(x * 0.5)
        y += 1
        y *= 0.5
        self._y = y
        return y

    def bwd(self, dout: np.ndarray) -> np.ndarray:
        return dout * self._y * (1 - self._y)


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

    def fwd(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        C, N, H, W = x.shape
        self._shape = x.shape
        y = self._buf("y", (N, C, H, W), x.dtype)
        np.copyto(y, x.transpose(1, 0, 2, 3))
        return y.reshape(N, C * H * W)

    def bwd(self, dout: np.ndarray) -> np.ndarray:
        C, N, H, W = self._shape
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


__all__ = ["Layer", "Conv2D", "AvgPool2D", "MaxPool2D", "ReLU", "Sigmoid", "Flatten", "Linear"]
