"""Layers that act on each value alone: ``ReLU`` and ``Sigmoid``."""

from __future__ import annotations

import numpy as np

from npcnn.layers.base import GridBatch, Layer, as_array


class ReLU(Layer):
    """max(0, x), elementwise; any shape. Caches its output (the mask is output > 0).

    Inside a model, on ``GridBatch``: in place on the whole buffer (a grid's leftovers
    included: cheaper than picking out its pixels), and the gradient on the same grid.
    """

    # Floats of mask computed at a time in backward: a chunk stays in cache between
    # being written and being read, a whole-batch mask would not.
    CHUNK = 1 << 16

    def forward_cm(self, x: np.ndarray | GridBatch, train: bool = True) -> np.ndarray | GridBatch:
        a = x.body() if isinstance(x, GridBatch) else x
        a2 = a.reshape(a.shape[0], -1)  # (rows, n): a view (a GridBatch's rows are contiguous)
        # In place, against a preallocated row of zeros: much faster than a scalar 0 in
        # NumPy's maximum (measured), and the input buffer is not needed again.
        np.maximum(a2, self._buf("zeros", a2.shape[1:], a.dtype, fill=0), out=a2)
        self._y, self._grid = a2, getattr(x, "grid", None)
        return x

    def backward_cm(self, dout: np.ndarray | GridBatch) -> np.ndarray | GridBatch:
        if self._grid is not None and not isinstance(dout, GridBatch):
            # a plain-array gradient for a grid output: onto a zero-padded copy of the grid
            dout = GridBatch(self._on_grid("doutg", dout, self._grid), self._grid, zeros=True)
        a = dout.body() if isinstance(dout, GridBatch) else dout
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

    def forward_cm(self, x: np.ndarray | GridBatch, train: bool = True) -> np.ndarray:
        y = np.tanh(as_array(x) * 0.5)
        y += 1
        y *= 0.5
        self._y = y
        return y

    def backward_cm(self, dout: np.ndarray | GridBatch) -> np.ndarray:
        return as_array(dout) * self._y * (1 - self._y)


__all__ = ["ReLU", "Sigmoid"]
