"""Convolution: ``Conv2D``, im2col and one matmul, on grids for stride 1."""

from __future__ import annotations

import numpy as np

from npcnn.im2col import (
    Grid,
    block_images,
    col2im_cm,
    conv_cm,
    conv_grid,
    grid_conv_backward,
    out_size,
)
from npcnn.layers.base import GridBatch, Spatial, as_array


class Conv2D(Spatial):
    """2-D cross-correlation (as PyTorch's ``Conv2d``) computed by im2col + one matmul.

    The idea without the speed, in about 40 lines: ``npcnn.layers.readable.ReadableConv2D``
    (same parameters, same numbers); read it first. This one adds grids, blocks of
    images, reused buffers and the channel-major path a model runs on.

    Shape:
        x: (N, C, H, W)  ->  out: (N, F, H', W'),  H' = 1 + (H + 2*padding - k) // stride
    Attributes:
        params["W"]: (F, C, k, k) drawn from N(0, init_std^2);  params["b"]: (F,) zeros.
        Both are views into one (F, C*k*k + 1) matrix ``[W | b]`` so the bias rides in
        the matmul against a row of ones.
    Backward: ``dW, db`` from one matmul ``cols @ dout.T``; ``dx`` (stride 1) as the original
    did it: a convolution of the padded ``dout`` with the filters rotated 180 degrees and
    the channel axes swapped, i.e. im2col(dout) times the flipped weight matrix; other
    strides scatter the columns back with col2im.

    Stride 1 with ``padding <= k - 1`` (every network here) runs on a grid
    (``input_grid``): input, output and both gradients share one grid geometry, the
    output and ``dx`` come back as a ``GridBatch``.

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

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        C, H, W = shape
        if C != self.C:
            raise ValueError(f"{self!r} takes {self.C} channels, got {C}")
        k, s, p = self.k, self.stride, self.padding
        return (self.F, out_size(H, k, s, p), out_size(W, k, s, p))

    def macs(self, shape: tuple[int, ...]) -> int:
        F, Ho, Wo = self.out_shape(shape)
        return F * Ho * Wo * self.C * self.k * self.k

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

    def forward_cm(self, x: np.ndarray | GridBatch, train: bool = True) -> np.ndarray | GridBatch:
        """x: (C, N, H, W) channel-major or GridBatch -> (F, N, H', W'), GridBatch on a grid."""
        C, N, H, W = x.shape
        grid = self.input_grid(N, H, W)
        if grid is None:
            return self._forward_plain(as_array(x), train)
        data = self._on_grid("xg", x, grid)
        out = self._buf("out", (self.F, grid.size), x.dtype, fill=0)
        self._unfolding(data, grid, self.k, self.padding, self._cols(grid, x.dtype)
                        ).forward(self._mat, out)
        self._cache = ("grid", data, grid) if train else None
        return GridBatch(out, self._out_grid(grid), zeros=False)

    def backward_cm(self, dout: np.ndarray | GridBatch) -> np.ndarray | GridBatch | None:
        """dout: (F, N, H', W') or GridBatch -> dx: GridBatch, (C, N, H, W) on the input's grid
        (None when ``needs_dx`` is False)."""
        if self._cache[0] == "plain":
            return self._backward_plain(as_array(dout))
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
        return GridBatch(dx, grid, zeros=False)

    def _cols(self, grid: Grid, dtype) -> np.ndarray:
        """Scratch columns for a block of images; the last row is ones, written on
        creation: the bias input. Blocks are sized for the larger of the two unfoldings
        (input and, in backward, dout) so that both use the same blocks."""
        F, C, k = self.F, self.C, self.k
        rows = C * k * k + 1
        step = min(grid.N, block_images(max(rows, F * k * k * self.needs_dx), grid.S))
        return self._buf("cols", (rows, step * grid.S), dtype, fill=1)

    def _forward_plain(self, x: np.ndarray, train: bool) -> np.ndarray:
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
        self._cache = ("plain", cols, x.shape) if train else None
        return out.reshape(F, N, Ho, Wo)

    def _backward_plain(self, dout: np.ndarray) -> np.ndarray | None:
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


__all__ = ["Conv2D"]
