"""The readable convolution: im2col by strides, ONE matmul, col2im, forward and backward
side by side. The middle of three tiers a reader can walk: ``npcnn.reference`` (loops, the
definition), this (the idea of the fast layer in about 40 lines), ``Conv2D`` (fast: grids,
blocks, reused buffers, the channel-major path a model runs on)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


class ReadableConv2D:
    """2-D cross-correlation (as PyTorch's ``Conv2d``: no kernel flip), any stride and
    padding, as im2col + one matmul. Same numbers and parameters as ``Conv2D``.

    Shape:
        x: (N, C, H, W)  ->  out: (N, F, H', W'),   H' = 1 + (H + 2*padding - k) // stride
        (W' likewise; a window that would run past the padded edge is dropped).
    Attributes:
        params["W"]: (F, C, k, k) from N(0, init_std^2);  params["b"]: (F,) zeros.
        grads: the same keys and shapes, filled by ``backward``.
    Inside:
        xp:   (N, C, H + 2p, W + 2p)   x with ``padding`` zeros on each side
        cols: (N*H'*W', C*k*k)         one row per output pixel: its window, as (c, i, j)
        out = cols @ W.reshape(F, C*k*k).T + b: (N*H'*W', F)
        dout: (N, F, H', W') -> d: (N*H'*W', F), the same row order as cols
        dW = d.T @ cols,  db = d summed over rows,  dcols = d @ W.reshape(F, C*k*k)
        dx: each dcols entry added back onto the pixel its window read (col2im).

    Example:
        >>> conv = ReadableConv2D(1, 4, 3, padding=1, rng=np.random.default_rng(0))
        >>> conv.forward(np.zeros((2, 1, 28, 28), np.float32)).shape
        (2, 4, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, init_std: float = 0.01,
                 rng: np.random.Generator | None = None, dtype=np.float32) -> None:
        rng = np.random.default_rng() if rng is None else rng
        F, C, k = out_channels, in_channels, kernel_size
        self.k, self.stride, self.padding = k, stride, padding
        # The same draw as Conv2D's, so that one rng gives both layers the same weights.
        W = rng.normal(0.0, init_std, size=(F, C, k, k)).astype(dtype)
        self.params = {"W": W, "b": np.zeros(F, dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> out: (N, F, H', W')."""
        N, C, H, W = x.shape
        k, s, p = self.k, self.stride, self.padding
        Ho, Wo = 1 + (H + 2 * p - k) // s, 1 + (W + 2 * p - k) // s
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))  # a new, contiguous array
        sN, sC, sH, sW = xp.strides
        # Window (n, h', w') starts at row h'*s, column w'*s of image n: a view of every
        # window's every pixel, no copy; the reshape then copies it into cols.
        windows = as_strided(xp, (N, Ho, Wo, C, k, k), (sN, s * sH, s * sW, sC, sH, sW))
        cols = windows.reshape(N * Ho * Wo, C * k * k)
        F = self.params["W"].shape[0]
        out = cols @ self.params["W"].reshape(F, -1).T + self.params["b"]
        # Backward needs cols (for dW) and x's shape (for dx): cols is k*k times the size
        # of x, the price of a backward that is one matmul too.
        self.cache = cols, x.shape
        return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, F, H', W') -> dx: (N, C, H, W); fills grads["W"], grads["b"]."""
        cols, (N, C, H, W) = self.cache
        k, s, p = self.k, self.stride, self.padding
        F, Ho, Wo = dout.shape[1:]
        d = dout.transpose(0, 2, 3, 1).reshape(-1, F)  # (N*H'*W', F), rows as in cols
        self.grads["W"][...] = (d.T @ cols).reshape(F, C, k, k)
        self.grads["b"][...] = d.sum(axis=0)
        dcols = d @ self.params["W"].reshape(F, -1)  # (N*H'*W', C*k*k), as cols
        # col2im, cols' adjoint: kernel offset (i, j) of the windows read the pixels
        # (h'*s + i, w'*s + j), one strided slice of xp; windows overlap when s < k, so
        # each slice is ADDED. (For stride 1 this sums to the full convolution of dout
        # with W rotated 180 degrees, the form the fast Conv2D computes.)
        dcols = dcols.reshape(N, Ho, Wo, C, k, k).transpose(0, 3, 4, 5, 1, 2)
        dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dcols.dtype)
        for i in range(k):
            for j in range(k):
                dxp[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += dcols[:, :, i, j]
        return dxp[:, :, p:p + H, p:p + W]  # gradient that lands on the padding is dropped

    def __repr__(self) -> str:
        F, C, k, _ = self.params["W"].shape
        return (f"ReadableConv2D({C}, {F}, kernel_size={k}, stride={self.stride}, "
                f"padding={self.padding})")


__all__ = ["ReadableConv2D"]
