"""Figures of what a network learned (feature maps, filters, errors on the test set)
and of how im2col turns a convolution into one matrix product."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from npcnn.plots.base import Plot, figure
from npcnn.probe import relu_maps


def feature_maps(model: Any, x: np.ndarray, layer: int = 0, title: str = "") -> Plot:
    """For each image of ``x: (N, 1, H, W)`` (a row): the image, then the ReLU output of
    conv layer ``layer`` (0 = first) for every channel (the columns)."""
    maps = relu_maps(model, x, layer)  # (N, C, H, W)
    n, c = maps.shape[:2]
    cols = min(c, 16)
    fig, axes = figure(1.1 * (cols + 1), 1.15 * n, n, cols + 1)
    for i in range(n):
        axes[i][0].imshow(x[i, 0], cmap="gray_r")
        for j in range(cols):
            axes[i][j + 1].imshow(maps[i, j], cmap="viridis")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_title("input", fontsize=8)
    for j in range(cols):
        axes[0][j + 1].set_title(f"ch {j}", fontsize=8)
    shown = "" if cols == c else f" (first {cols} of {c} channels)"
    fig.suptitle(title or f"conv layer {layer + 1} after ReLU{shown}")
    return Plot(fig)


def filters(model: Any, title: str = "") -> Plot:
    """The first conv layer's learned filters, W[f, 0]: one k x k image per channel
    (red positive, blue negative, a symmetric colour scale per filter)."""
    W = model.layers[0].params["W"][:, 0]  # (F, k, k)
    cols = min(len(W), 8)
    rows = int(np.ceil(len(W) / cols))
    fig, axes = figure(1.2 * cols, 1.3 * rows, rows, cols)
    for f, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if f < len(W):
            m = float(np.abs(W[f]).max()) or 1.0
            ax.imshow(W[f], cmap="RdBu_r", vmin=-m, vmax=m)
            ax.set_title(f"ch {f}", fontsize=8)
        else:
            ax.axis("off")
    fig.suptitle(title or "first conv layer's filters")
    return Plot(fig)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str],
              title: str = "") -> Plot:
    """Confusion matrix of the test set: counts, rows = true class, columns = predicted;
    ``classes`` names the labels 0, 1, ..."""
    K = len(classes)
    m = np.zeros((K, K), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    fig, axes = figure(5.5 + 0.15 * max(len(c) for c in classes), 5)
    ax = axes[0][0]
    ax.imshow(np.log1p(m), cmap="Blues")
    for i in range(K):
        for j in range(K):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xticks(range(K), classes, rotation=45 if max(map(len, classes)) > 2 else 0,
                  ha="right" if max(map(len, classes)) > 2 else "center", fontsize=8)
    ax.set_yticks(range(K), classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = float(np.mean(y_true == y_pred))
    ax.set_title(title or f"confusion matrix, {len(y_true):,} test images (acc {acc:.4f})")
    return Plot(fig)


def misclassified(x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                  classes: Sequence[str], n: int = 12) -> Plot:
    """The first ``n`` misclassified test images, titled "true → predicted"."""
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    cols = min(max(len(wrong), 1), 12)
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = figure(1.1 * cols, 1.35 * rows, rows, cols)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong, strict=False):
        ax.imshow(x[i, 0], cmap="gray_r")
        ax.set_title(f"{classes[y_true[i]]} → {classes[y_pred[i]]}", fontsize=7)
    fig.suptitle(f"misclassified: {int(np.sum(y_true != y_pred))} of {len(y_true):,}; "
                 "true → predicted")
    return Plot(fig)


def im2col_figure(size: int = 4, k: int = 3) -> Plot:
    """How im2col turns a convolution into one matrix product, on a tiny example.

    A 1-channel ``size x size`` input (values 1, 2, ...) and one k x k filter: each
    window becomes a column of ``cols: (k*k, H'*W')``; the filter becomes a row
    ``(1, k*k)``; the product ``(1, H'*W')`` reshaped is the output map.
    """
    from npcnn.im2col import im2col

    x = np.random.default_rng(3).integers(0, 10, (1, 1, size, size)).astype(float)
    w = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)[:k, :k]
    cols = im2col(x, k)  # (k*k, H'*W')
    out = (w.reshape(1, -1) @ cols)
    ho = size - k + 1
    fig, axes = figure(13, 3.6, 1, 4, gridspec_kw={"width_ratios": [size, k, cols.shape[1] + 1,
                                                                     ho + 1]})
    panels = [(x[0, 0], f"input x ({size}x{size}), first window boxed"), (w, f"filter W ({k}x{k})"),
              (cols, f"cols = im2col(x): ({k * k}, {cols.shape[1]}),\none column per window"),
              (out.reshape(ho, ho), f"W.reshape(1, {k * k}) @ cols\n→ reshape ({ho}x{ho})")]
    for ax, (a, t) in zip(axes[0], panels, strict=True):
        ax.imshow(a, cmap="Blues" if a is not w else "RdBu_r", aspect="equal")
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8)
        ax.set_title(t, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    from matplotlib.patches import Rectangle

    axes[0][0].add_patch(Rectangle((-0.5, -0.5), k, k, fill=False, ec="red", lw=2))
    axes[0][2].add_patch(Rectangle((-0.5, -0.5), 1, k * k, fill=False, ec="red", lw=2))
    axes[0][3].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="red", lw=2))
    return Plot(fig)


__all__ = ["feature_maps", "filters", "confusion", "misclassified", "im2col_figure"]
