"""Numerical gradients by centered differences, and the relative error used to compare."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray | float],
    x: np.ndarray,
    dout: np.ndarray | float,
    h: float = 1e-6,
) -> np.ndarray:
    """d/dx of the scalar ``sum(f(x) * dout)`` by centered differences.

    dx[idx] = (g(x + h e_idx) - g(x - h e_idx)) / (2h),   g(x) = sum(f(x) * dout)
    ``x`` (any shape, float64) is perturbed in place one entry at a time and restored,
    so ``f`` must read ``x`` afresh on each call; ``dout`` has ``f(x)``'s shape (or
    broadcasts to it: a scalar for a scalar ``f``). Returns ``dx`` with ``x``'s shape.
    The truncation error is O(h^2) and the round-off O(eps * |g| / h), ~1e-10 relative
    at h = 1e-6, which is why float32 is refused: its round-off would be ~0.1.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 x, got {x.dtype}")
    dx = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        try:
            x[idx] = old + h
            g_plus = np.sum(f(x) * dout)
            x[idx] = old - h
            g_minus = np.sum(f(x) * dout)
        finally:
            x[idx] = old
        dx[idx] = (g_plus - g_minus) / (2 * h)
    return dx


def rel_error(a: np.ndarray | float, b: np.ndarray | float) -> float:
    """max|a - b| / max(1e-12, max(|a| + |b|)): the worst error relative to the largest
    entry, so tiny entries of a large gradient do not blow it up; 0 when both are 0."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-12, float(np.max(np.abs(a) + np.abs(b)))))


__all__ = ["numerical_gradient", "rel_error"]
