"""What every figure shares: ``Plot`` (an inline PNG in a notebook, rendered with the Agg
canvas, so it needs no GUI backend and never shows twice), the figure factory, axes."""

from __future__ import annotations

import base64
import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

DPI = 90
LABELS = {"test_acc": "test accuracy", "test_loss": "test loss", "val_acc": "validation "
          "accuracy", "val_loss": "validation loss", "train_loss": "training loss",
          "train_acc": "training accuracy", "lr": "learning rate", "seconds": "seconds"}


class Plot:
    """A finished figure; ``_repr_png_`` makes it an inline image in notebooks."""

    def __init__(self, fig: Figure) -> None:
        self.fig = fig

    def png(self, dpi: int = DPI) -> bytes:
        FigureCanvasAgg(self.fig)
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        return buf.getvalue()

    def b64(self, dpi: int = DPI) -> str:
        """The PNG as base64, for an inline ``<img>`` in a page."""
        return base64.b64encode(self.png(dpi)).decode()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __repr__(self) -> str:
        return f"<Plot: {self.fig.axes[0].get_title() if self.fig.axes else ''}>"


def figure(w: float, h: float, rows: int = 1, cols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    """A constrained-layout figure of ``w`` x ``h`` inches and its axes, always 2-D."""
    fig = Figure(figsize=(w, h), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def log_plain(ax: Any, minor: bool = False) -> None:
    """Log y axis with plain numbers (0.1, 10) instead of powers of ten; ``minor`` also
    labels the ticks between decades (for ranges within about one decade)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    if minor:
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))


__all__ = ["DPI", "LABELS", "Plot", "figure", "log_plain"]
