"""SGD with momentum and L2 weight decay on one flat parameter vector.

The model keeps every parameter as a view into one flat buffer, so one in-place update
of ``params: (P,)`` moves all layers at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SGD:
    """Stochastic gradient descent, velocity form, L2 decay on weights only.

    With ``params, grads, decay_mask, v: (P,)``, each ``step`` does
        g = grads + weight_decay * decay_mask * params
        v = momentum * v - lr * g
        params += v
    ``decay_mask`` is 1.0 at weights and 0.0 at biases (``None`` decays everything);
    ``v`` starts at zero. ``lr`` and ``momentum`` are plain attributes: the trainer
    sets them from the schedules before each epoch.
    """

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.velocity: np.ndarray | None = None  # v: (P,), params' dtype, allocated lazily
        self._scratch: np.ndarray | None = None  # holds g, so a step allocates nothing

    def step(
        self, params: np.ndarray, grads: np.ndarray, decay_mask: np.ndarray | None = None
    ) -> None:
        """Update ``params: (P,)`` in place from ``grads: (P,)``; ``decay_mask: (P,)``."""
        if grads.shape != params.shape:
            raise ValueError(f"grads shape {grads.shape} != params shape {params.shape}")
        if decay_mask is not None and decay_mask.shape != params.shape:
            raise ValueError(f"decay_mask shape {decay_mask.shape} != params shape {params.shape}")
        v, g = self._buffers(params)
        if self.weight_decay:
            np.multiply(params, self.weight_decay, out=g)
            if decay_mask is not None:
                np.multiply(g, decay_mask, out=g)
            np.add(g, grads, out=g)
        else:
            np.copyto(g, grads)
        np.multiply(v, self.momentum, out=v)
        np.multiply(g, self.lr, out=g)
        np.subtract(v, g, out=v)
        np.add(params, v, out=params)

    def _buffers(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = self.velocity
        if v is None:
            v = self.velocity = np.zeros_like(params)
        elif v.shape != params.shape:
            # A velocity from another model (e.g. a wrong checkpoint) must not be broadcast.
            raise ValueError(f"velocity shape {v.shape} != params shape {params.shape}")
        elif v.dtype != params.dtype:
            v = self.velocity = v.astype(params.dtype)
        g = self._scratch
        if g is None or g.shape != params.shape or g.dtype != params.dtype:
            g = self._scratch = np.empty_like(params)
        return v, g

    def state_dict(self) -> dict[str, Any]:
        """``lr``, ``momentum``, ``weight_decay`` and a copy of ``velocity: (P,)`` (or None)."""
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "velocity": None if self.velocity is None else self.velocity.copy(),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned; the next ``step`` continues identically."""
        self.lr = float(d["lr"])
        self.momentum = float(d["momentum"])
        self.weight_decay = float(d["weight_decay"])
        v = d["velocity"]
        self.velocity = None if v is None else np.array(v, copy=True)


__all__ = ["SGD"]
