"""Curves of a study: a metric per epoch for every point, each trained seed thin and
their mean bold, each collapsed seed dashed and grey (apart from the mean); learning
rates; per-iteration losses; small thumbnails for the report's index; and generic lines
and bars for the speed page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from npcnn.plots.base import LABELS, Plot, figure, log_plain
from npcnn.sweep.results import PointResult, RunResult


def _series(r: RunResult, metric: str) -> np.ndarray:
    # Test accuracy as compared (a diverged run at chance to the end); others as recorded.
    return r.acc() if metric == "test_acc" else r.series(metric)


def seed_mean(p: PointResult, metric: str) -> np.ndarray:
    """Mean over the trained seeds of ``metric`` per epoch (over the seeds that have the
    epoch); the collapsed ones are left out, as in every summary."""
    ys = [_series(r, metric) for r in p.trained]
    if not ys:
        return np.zeros(0)
    out = np.full((len(ys), max(map(len, ys))), np.nan)
    for i, y in enumerate(ys):
        out[i, :len(y)] = y
    with np.errstate(invalid="ignore"):
        return np.nanmean(out, axis=0)


COLLAPSED = "0.55"  # the grey of a collapsed seed's curve


def _legend(p: PointResult) -> str:
    bad = [r for r in p.runs if r.status != "completed"]
    if not bad:
        return p.label
    kinds = sorted({r.status for r in bad})
    apart = " (dashed grey)" if any(r.collapsed for r in bad) else ""
    return f"{p.label}: {', '.join(kinds)} {len(bad)} of {p.n}{apart}"


def _draw(ax: Any, p: PointResult, metric: str, color: str, label: bool = True) -> None:
    for r in p.finished:
        y = _series(r, metric)
        if r.collapsed:  # apart from the mean: a run that did not learn
            ax.plot(np.arange(1, y.size + 1), y, color=COLLAPSED, lw=0.9, ls="--", alpha=0.8)
        elif p.n > 1:
            ax.plot(np.arange(1, y.size + 1), y, color=color, lw=0.7, alpha=0.35)
    m = seed_mean(p, metric)
    ax.plot(np.arange(1, m.size + 1), m, color=color, lw=2 if p.n > 1 else 1.5,
            marker="." if m.size < 30 else None, label=_legend(p) if label else None)


def curves(results: Sequence[PointResult], metric: str = "test_acc", title: str = "") -> Plot:
    """``metric`` per epoch, one colour per point: each seed thin, their mean bold.

    Accuracies get a second panel zoomed on the top of the range, where the points differ;
    losses use a log axis. Points of different lengths (a 15-epoch sweep beside 100-epoch
    runs) get a row each, so the short ones are not squeezed into a corner.
    """
    acc = metric.endswith("acc")
    lengths = sorted({p.config.epochs for p in results})
    fig, axes = figure(11 if acc else 6.5, 4 * len(lengths), len(lengths), 2 if acc else 1)
    name = LABELS.get(metric, metric)
    n = max((p.n for p in results), default=1)
    for row, length in zip(axes, lengths, strict=True):
        group = [(i, p) for i, p in enumerate(results) if p.config.epochs == length]
        for ax in row:
            for i, p in group:
                _draw(ax, p, metric, f"C{i % 10}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        each = f" ({length} epochs)" if len(lengths) > 1 else ""
        seeds = f", {n} seeds (thin) and the trained ones' mean (bold)" if n > 1 else ""
        row[0].set_title((title or f"{name} per epoch") + each + seeds, fontsize=10)
        points = [p for _, p in group]
        if acc:
            row[1].set_ylim(*_zoom(points, metric))
            row[1].set_title("zoomed on the top" + each, fontsize=10)
        elif all(np.nanmin(_series(r, metric), initial=np.inf) > 0
                 for p in points for r in p.finished):
            row[0].set_yscale("log")
        row[-1].legend(fontsize=8, loc="best")
    return Plot(fig)


def _zoom(results: Sequence[PointResult], metric: str) -> tuple[float, float]:
    """Y range covering the second half of every seed mean that learned (above 0.5)."""
    tops = [seed_mean(p, metric) for p in results]
    tops = [t[len(t) // 2:] for t in tops if t.size]
    vals = np.concatenate([t[t > 0.5] for t in tops] or [np.array([0.9, 1.0])])
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    pad = max(0.002, 0.1 * (hi - lo))
    return lo - pad, min(1.0, hi + pad)


def thumbnail(results: Sequence[PointResult], metric: str = "test_acc") -> Plot:
    """A small panel for the report's index: the seed means of ``metric``, zoomed on the
    top of the range, with a compact legend."""
    fig, axes = figure(3.6, 2.4)
    ax = axes[0][0]
    for i, p in enumerate(results):
        m = seed_mean(p, metric)
        ax.plot(np.arange(1, m.size + 1), m, color=f"C{i % 10}", lw=1.4, label=p.label)
    ax.set_ylim(*_zoom(results, metric))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("epoch", fontsize=7)
    ax.set_ylabel(LABELS.get(metric, metric), fontsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    return Plot(fig)


def iter_loss(results: Sequence[PointResult], window: int = 50, title: str = "") -> Plot:
    """Per-iteration training loss of each point's first trained seed (else its first):
    raw (faint) and its moving average over ``window``. One panel per point: the losses'
    scales differ."""
    fig, axes = figure(5.5 * len(results), 3.6, 1, len(results))
    for ax, p in zip(axes[0], results, strict=True):
        r = (p.trained or p.runs)[0]
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
        ax.set_title(f"{p.label} (seed {r.seed})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return Plot(fig)


def lr_curves(results: Sequence[PointResult]) -> Plot:
    """The learning rate each epoch used, per point and seed (shows where the plateau
    rule cut it; seeds may cut at different epochs)."""
    fig, axes = figure(6.5, 3.2)
    ax = axes[0][0]
    for i, p in enumerate(results):
        for j, r in enumerate(p.finished):
            y = r.series("lr")
            ax.step(np.arange(1, y.size + 1), y, where="mid", color=f"C{i % 10}",
                    alpha=1.0 if j == 0 else 0.4, lw=1.2 if j == 0 else 0.8,
                    label=p.label if j == 0 else None)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate per epoch (each seed)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return Plot(fig)


def lines(x: Sequence[Any], series: dict[str, Sequence[float]], xlabel: str, ylabel: str,
          title: str = "", logy: bool = False) -> Plot:
    """Generic line plot: one line per entry of ``series`` over ``x``."""
    fig, axes = figure(6, 3.6)
    ax = axes[0][0]
    for name, y in series.items():
        ax.plot(list(x), list(y), marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        log_plain(ax, minor=True)
    ax.set_xticks(list(x))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return Plot(fig)


def bars(labels: Sequence[str], series: dict[str, Sequence[float]], ylabel: str,
         title: str = "", logy: bool = True) -> Plot:
    """Grouped bars: one group per label, one bar per entry of ``series``."""
    fig, axes = figure(min(11.0, max(6.0, 0.9 * len(labels) * len(series))), 3.8)
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
        log_plain(ax)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return Plot(fig)


__all__ = ["seed_mean", "curves", "thumbnail", "iter_loss", "lr_curves", "lines", "bars"]
