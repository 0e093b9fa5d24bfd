"""Looking inside a trained model: layer outputs, ReLU maps and what they correlate with,
dead units, predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from npcnn.layers import ReLU


def activations(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """Output of every layer of ``model`` for ``x: (N, C, H, W)``, layer by layer
    (each layer's public ``forward``: (N, C, H, W) for the conv part)."""
    outs, h = [], x
    for layer in model.layers:
        h = layer.forward(h)
        outs.append(h)
    return outs


def relu_maps(model: Any, x: np.ndarray, which: int = 0) -> np.ndarray:
    """The output of the model's ReLU number ``which`` (0 = first) for ``x``:
    (N, C, H, W) after a conv layer, (N, D) in an MLP."""
    h = x
    seen = 0
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, ReLU):
            if seen == which:
                return h
            seen += 1
    raise ValueError(f"the model has {seen} ReLU layers, asked for number {which}")


def dead_relu_fraction(model: Any, x: np.ndarray) -> float:
    """Fraction of the first ReLU's output units that are 0 for every image of ``x``.

    A unit is one (channel, row, column) position of a conv layer's map, or one hidden
    unit of an MLP. A unit that is 0 for every input passes no gradient: it is dead.
    """
    return float(np.mean(np.all(relu_maps(model, x, 0) <= 0, axis=0)))


def map_stats(model: Any, x: np.ndarray) -> dict[str, list[float]]:
    """Per channel of the first conv layer after ReLU, averaged over the images of
    ``x: (N, 1, H, W)``: Pearson r of the map with the image (``corr_image``) and with
    the image's edge strength |grad x| (``corr_edges``). A constant map counts as 0."""
    maps = relu_maps(model, x, 0)  # (N, F, H, W): padding k//2 keeps the image's size
    img = x[:, 0].astype(float)
    gy, gx = np.gradient(img, axis=(1, 2))
    edges = np.hypot(gx, gy)

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
        d = np.sqrt((a @ a) * (b @ b))
        return float(a @ b / d) if d > 0 else 0.0

    n, c = maps.shape[:2]
    ci = [np.mean([corr(maps[i, j], img[i]) for i in range(n)]) for j in range(c)]
    ce = [np.mean([corr(maps[i, j], edges[i]) for i in range(n)]) for j in range(c)]
    return {"corr_image": [float(v) for v in ci], "corr_edges": [float(v) for v in ce]}


def map_stats_each(models: list[Any], x: np.ndarray,
                   seeds: list[int] | None = None) -> list[dict[str, Any]]:
    """``map_stats`` of every model (one per seed: ``seeds``, default 0, 1, ...) on the
    same images ``x``, each with its ``seed``."""
    seeds = list(range(len(models))) if seeds is None else seeds
    return [{"seed": s, **map_stats(m, x)} for m, s in zip(models, seeds, strict=True)]


def predictions(model: Any, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Predicted class of every image of ``x: (N, C, H, W)``, shape (N,)."""
    return np.concatenate([model.forward(x[i:i + batch], train=False).argmax(1)
                           for i in range(0, len(x), batch)])


def one_per_class(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first image of each class 0, 1, ..., n-1 in labels ``y: (N,)``
    (the classes ``y`` holds, if fewer)."""
    classes = [c for c in range(n) if np.any(y == c)]
    return np.array([int(np.flatnonzero(y == c)[0]) for c in classes])


__all__ = ["activations", "relu_maps", "dead_relu_fraction", "map_stats", "map_stats_each",
           "predictions", "one_per_class"]
