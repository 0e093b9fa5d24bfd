"""Layers on flat features: ``Flatten`` ((C, N, H, W) -> (N, D)) and ``Linear``."""

from __future__ import annotations

import numpy as np

from npcnn.layers.base import GridBatch, Layer, as_array


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), row-major over (C, H, W) as PyTorch's ``flatten(1)``.

    Inside a model it receives channel-major (C, N, H, W) and does the one transpose
    back to sample-major that the fully connected layers need.
    """

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int]:
        return (int(np.prod(shape)),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape_nchw = x.shape
        return x.reshape(x.shape[0], -1).copy()

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self._shape_nchw).copy()

    def forward_cm(self, x: np.ndarray | GridBatch, train: bool = True) -> np.ndarray:
        C, N, H, W = x.shape
        self._shape = x.shape
        y = self._buf("y", (N, C, H, W), x.dtype)
        np.copyto(y, as_array(x).transpose(1, 0, 2, 3))
        return y.reshape(N, C * H * W)

    def backward_cm(self, dout: np.ndarray | GridBatch) -> np.ndarray:
        C, N, H, W = self._shape
        dout = as_array(dout)
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

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int]:
        if tuple(shape) != (self.D,):
            raise ValueError(f"{self!r} takes {self.D} features, got shape {tuple(shape)}")
        return (self.M,)

    def macs(self, shape: tuple[int, ...]) -> int:
        self.out_shape(shape)  # checks that the input fits
        return self.D * self.M

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

    def forward_cm(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        x2 = x.reshape(x.shape[0], -1)
        self._x = x2
        y = self._buf("y", (x2.shape[0], self.M), x2.dtype)
        np.matmul(x2, self.params["W"], out=y)
        y += self.params["b"]
        return y

    def backward_cm(self, dout: np.ndarray) -> np.ndarray | None:
        np.matmul(self._x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])
        if not self.needs_dx:
            return None
        return dout @ self.params["W"].T

    def __repr__(self) -> str:
        return f"Linear({self.D}, {self.M})"


__all__ = ["Flatten", "Linear"]
