"""Figures for the report's notebooks: curves per run, feature maps, im2col, timings.

Every function returns a ``Plot``: it displays in a notebook as one inline PNG (rendered
with the Agg canvas, so it needs no GUI backend and never shows twice), and keeps the
matplotlib figure in ``.fig``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from npcnn.sweep import RunResult

DPI = 90
_LABELS = {"test_acc": "test accuracy", "test_loss": "test loss", "val_acc": "validation "
           "accuracy", "val_loss": "validation loss", "train_loss": "training loss",
           "train_acc": "training accuracy", "lr": "learning rate", "seconds": "seconds"}


class Plot:
    """A finished figure; ``_repr_png_`` makes it an inline image in notebooks."""

    def __init__(self, fig: Figure) -> None:
        self.fig = fig

    def _repr_png_(self) -> bytes:
        FigureCanvasAgg(self.fig)
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
        return buf.getvalue()

    def __repr__(self) -> str:
        return f"<Plot: {self.fig.axes[0].get_title() if self.fig.axes else ''}>"


def _figure(w: float, h: float, rows: int = 1, cols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=(w, h), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


# -- curves ---------------------------------------------------------------------------


def curves(results: Sequence[RunResult], metric: str = "test_acc", title: str = "") -> Plot:
    """``metric`` per epoch, one line per run.

    Accuracies get a second panel zoomed on the top of the range, where the runs differ;
    losses use a log axis. Diverged, collapsed or failed runs are marked in the legend.
    Runs of different lengths (a 15-epoch sweep beside 100-epoch runs) get a row each,
    so the short ones are not squeezed into a corner. Colours follow the run's position.
    """
    acc = metric.endswith("acc")
    lengths = sorted({r.config.epochs for r in results})
    fig, axes = _figure(11 if acc else 6.5, 4 * len(lengths), len(lengths), 2 if acc else 1)
    name = _LABELS.get(metric, metric)
    for row, n in zip(axes, lengths, strict=True):
        group = [(i, r) for i, r in enumerate(results) if r.config.epochs == n]
        for ax in row:
            for i, r in group:
                y = r.series(metric)
                label = r.label if r.status == "completed" else f"{r.label} ({r.status})"
                ax.plot(np.arange(1, y.size + 1), y, marker="." if y.size < 30 else None,
                        label=label, color=f"C{i % 10}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        each = f" ({n} epochs)" if len(lengths) > 1 else ""
        row[0].set_title((title or f"{name} per epoch") + each)
        runs_ = [r for _, r in group]
        if acc:
            row[1].set_ylim(*_zoom(runs_, metric))
            row[1].set_title("zoomed on the top" + each)
        elif all(np.nanmin(r.series(metric), initial=np.inf) > 0 for r in runs_ if r.epochs):
            row[0].set_yscale("log")
        row[-1].legend(fontsize=8, loc="best")
    return Plot(fig)


def _zoom(results: Sequence[RunResult], metric: str) -> tuple[float, float]:
    """Y range covering the second half of every run that learned (above 0.5)."""
    tops = [r.series(metric)[len(r.epochs) // 2:] for r in results if r.epochs]
    vals = np.concatenate([t[t > 0.5] for t in tops] or [np.array([0.9, 1.0])])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    pad = max(0.002, 0.1 * (hi - lo))
    return lo - pad, min(1.0, hi + pad)


def iter_loss(results: Sequence[RunResult], window: int = 50, title: str = "") -> Plot:
    """Per-iteration training loss: raw (faint) and its moving average over ``window``.

    One panel per run, since different losses live on different scales.
    """
    fig, axes = _figure(5.5 * len(results), 3.6, 1, len(results))
    for ax, r in zip(axes[0], results, strict=True):
        loss = np.asarray(r.history.get("iter_loss", []), dtype=float)
        per_epoch = max(1, len(loss) // max(1, len(r.epochs)))
        x = np.arange(1, loss.size + 1) / per_epoch
        ax.plot(x, loss, alpha=0.25, lw=0.5, color="C0", label="per iteration")
        if loss.size >= window:
            smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
            ax.plot(x[window - 1:], smooth, color="C1", label=f"mean of {window}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        ax.set_title(r.label)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return Plot(fig)


def lr_curves(results: Sequence[RunResult]) -> Plot:
    """The learning rate each epoch used (shows where the plateau rule cut it)."""
    fig, axes = _figure(6.5, 3.2)
    ax = axes[0][0]
    for r in results:
        y = r.series("lr")
        ax.step(np.arange(1, y.size + 1), y, where="mid", label=r.label)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate per epoch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return Plot(fig)


def lines(x: Sequence[Any], series: dict[str, Sequence[float]], xlabel: str, ylabel: str,
          title: str = "", logy: bool = False) -> Plot:
    """Generic line plot: one line per entry of ``series`` over ``x``."""
    fig, axes = _figure(6, 3.6)
    ax = axes[0][0]
    for name, y in series.items():
        ax.plot(list(x), list(y), marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        _log_plain(ax, minor=True)
    ax.set_xticks(list(x))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return Plot(fig)


def bars(labels: Sequence[str], series: dict[str, Sequence[float]], ylabel: str,
         title: str = "", logy: bool = True) -> Plot:
    """Grouped bars: one group per label, one bar per entry of ``series``."""
    fig, axes = _figure(min(11.0, max(6.0, 0.9 * len(labels) * len(series))), 3.8)
    ax = axes[0][0]
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for i, (name, y) in enumerate(series.items()):
        vals = np.array([np.nan if v is None else v for v in y], dtype=float)
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=name)
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        _log_plain(ax)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return Plot(fig)


def _log_plain(ax: Any, minor: bool = False) -> None:
    """Log y axis with plain numbers (0.1, 10) instead of powers of ten; ``minor`` also
    labels the ticks between decades (for ranges within about one decade)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    if minor:
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))


# -- what the network learned ----------------------------------------------------------


def activations(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """Output of every layer of ``model`` for ``x: (N, 1, 28, 28)``, layer by layer
    (each layer's public ``forward``: (N, C, H, W) for the conv part)."""
    outs, h = [], x
    for layer in model.layers:
        h = layer.forward(h)
        outs.append(h)
    return outs


def _relu_maps(model: Any, x: np.ndarray, which: int) -> np.ndarray:
    from npcnn.layers import ReLU

    outs = activations(model, x)
    relu = [o for layer, o in zip(model.layers, outs, strict=True) if isinstance(layer, ReLU)]
    return relu[which]


def feature_maps(model: Any, x: np.ndarray, layer: int = 0, title: str = "") -> Plot:
    """For each digit of ``x: (N, 1, 28, 28)`` (a row): the digit, then the ReLU output of
    conv layer ``layer`` (0 = first) for every channel (the columns)."""
    maps = _relu_maps(model, x, layer)  # (N, C, H, W)
    n, c = maps.shape[:2]
    cols = min(c, 16)
    fig, axes = _figure(1.1 * (cols + 1), 1.15 * n, n, cols + 1)
    for i in range(n):
        axes[i][0].imshow(x[i, 0], cmap="gray_r")
        for j in range(cols):
            axes[i][j + 1].imshow(maps[i, j], cmap="viridis")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_title("digit", fontsize=8)
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
    fig, axes = _figure(1.2 * cols, 1.3 * rows, rows, cols)
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


def map_stats(model: Any, x: np.ndarray) -> dict:
    """Per channel of the first conv layer after ReLU, averaged over the digits of
    ``x: (N, 1, 28, 28)``: correlation of the map with the digit (``corr_image``) and
    with the digit's edge strength |grad x| (``corr_edges``). Pearson r; a constant map
    counts as 0."""
    maps = _relu_maps(model, x, 0)  # (N, C, 28, 28)
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


def one_per_digit(y: np.ndarray, n: int = 10) -> np.ndarray:
    """Indices of the first test image of each digit 0, 1, ..., n-1 (n <= 10)."""
    return np.array([int(np.flatnonzero(y == d)[0]) for d in range(min(n, 10))])


def predictions(model: Any, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Predicted class of every image of ``x: (N, 1, 28, 28)``, shape (N,)."""
    return np.concatenate([model.forward(x[i:i + batch], train=False).argmax(1)
                           for i in range(0, len(x), batch)])


def confusion(y_true: np.ndarray, y_pred: np.ndarray, title: str = "") -> Plot:
    """Confusion matrix of the test set: counts, rows = true digit, columns = predicted."""
    m = np.zeros((10, 10), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    fig, axes = _figure(5.5, 5)
    ax = axes[0][0]
    ax.imshow(np.log1p(m), cmap="Blues")
    for i in range(10):
        for j in range(10):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    acc = float(np.mean(y_true == y_pred))
    ax.set_title(title or f"confusion matrix, {len(y_true):,} test images (acc {acc:.4f})")
    return Plot(fig)


def misclassified(x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, n: int = 12) -> Plot:
    """The first ``n`` misclassified test digits, titled "true → predicted"."""
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    cols = min(max(len(wrong), 1), 12)
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = _figure(1.1 * cols, 1.35 * rows, rows, cols)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong, strict=False):
        ax.imshow(x[i, 0], cmap="gray_r")
        ax.set_title(f"{y_true[i]} → {y_pred[i]}", fontsize=9)
    fig.suptitle(f"misclassified: {int(np.sum(y_true != y_pred))} of {len(y_true):,}; "
                 "true → predicted")
    return Plot(fig)


# -- im2col ---------------------------------------------------------------------------


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
    fig, axes = _figure(13, 3.6, 1, 4, gridspec_kw={"width_ratios": [size, k, cols.shape[1] + 1,
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


__all__ = ["Plot", "curves", "iter_loss", "lr_curves", "lines", "bars", "activations",
           "feature_maps", "filters", "map_stats", "one_per_digit", "predictions", "confusion",
           "misclassified", "im2col_figure"]
