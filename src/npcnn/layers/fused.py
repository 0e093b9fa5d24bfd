"""``ConvReLUPool``: a model's first Conv2D -> ReLU -> 2x2 AvgPool2D as one stage, a block
of images at a time on phase planes (even/odd rows and columns), so that the convolution's
output, the largest activation, never leaves the cache."""

from __future__ import annotations

import numpy as np

from npcnn import thin
from npcnn.im2col import Grid, GridConv, conv_grid
from npcnn.layers.base import GridBatch, Layer, as_array
from npcnn.layers.conv import Conv2D
from npcnn.layers.pointwise import ReLU
from npcnn.layers.pool import AvgPool2D


class ConvReLUPool(Layer):
    """Conv2D -> ReLU -> 2x2 AvgPool2D as one stage: a model's first layers (the
    convolution's input gradient is not needed), same numbers up to float summation
    order, far fewer passes over memory. The convolution alone, readable:
    ``npcnn.layers.readable.ReadableConv2D``; fast: ``Conv2D``.

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

    Shape: x: (C, N, H, W) channel-major -> (F, N, H/2, W/2) as a GridBatch (or a plain
    array when the next layer takes no grid). Odd H or W: the three layers one after
    another.
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

    def forward_cm(self, x: np.ndarray | GridBatch, train: bool = True) -> np.ndarray | GridBatch:
        C, N, H, W = x.shape
        self._fused = H % 2 == 0 and W % 2 == 0
        if not self._fused:
            for layer in (self.conv, self.relu, self.pool):
                x = layer.forward_cm(x, train)
            return x
        conv, F = self.conv, self.conv.F
        og = self.consumer.input_grid(N, H // 2, W // 2) if self.consumer else None
        grid = conv_grid(N, H, W, conv.k, conv.padding, phases=2,
                         pad=og.pad if og is not None else 0)
        pooled = Grid(N, H // 2, W // 2, grid.pad)  # one image per plane, no margin
        unf = self._unfold(self._on_grid("xg", x, grid), grid, x.dtype)
        direct = og is not None and (og.phases, og.Wq, og.S) == (1, grid.Wq, grid.S)
        if direct:  # the pooled planes are the next layer's grid: write them there
            out = GridBatch(self._buf("yg", (F, og.size), x.dtype, fill=0), og, zeros=True)
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
        pixels = pooled.get(y)
        if og is None:
            return pixels
        out = GridBatch(self._buf("yg", (F, og.size), x.dtype, fill=0), og, zeros=True)
        og.put(out.data, pixels)
        return out

    def backward_cm(self, dout: np.ndarray | GridBatch) -> None:
        """dout: (F, N, H/2, W/2) or GridBatch -> fills the convolution's grads; None."""
        if not self._fused:
            for layer in (self.pool, self.relu, self.conv):
                dout = layer.backward_cm(dout)
            return None
        unf, pooled, kept = self._cache
        conv, S = self.conv, pooled.S
        F = conv.F
        g = self._buf("g", (F, pooled.size), dout.dtype, fill=0)
        if isinstance(dout, GridBatch) and (dout.grid.phases, dout.grid.Wq, dout.grid.S) == (
                1, pooled.Wq, S):
            np.multiply(dout.body(), self._mask(pooled, dout.dtype), out=g)
        else:  # onto the pixels of g: its padding stays zero
            np.multiply(as_array(dout), 0.25, out=pooled.interior(g)[:, 0, 0])
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
            # orientation runs faster than cols @ dz^T (measured, F = 4 and 16; with
            # OpenBLAS's Haswell kernels on AMD EPYC too: 14 vs 12 GFLOP/s at F=4, 34 vs
            # 28 at F=32). A thin product: in pieces where the BLAS has a kernel for them.
            thin.matmul(zb, block.T, conv._gmat, tmp, add=bool(i))
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


__all__ = ["ConvReLUPool"]
