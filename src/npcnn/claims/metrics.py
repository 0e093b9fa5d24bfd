"""What the clauses measure on a run, and the margins of practical difference they are
read against.

"Late" accuracy is the mean test accuracy over the last third of a run's epochs, its
"late std" the standard deviation over those epochs (stability across epochs). Margins
(``Margin``) are stated with their reason; those on test accuracy are counted in test
images, so they mean the same on every dataset of 10,000 test images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from npcnn import datasets
from npcnn.sweep.results import RunResult

Metric = str | Callable[[RunResult], float]

SPREAD_BAND = 4.0  # variance ratio within 1/4..4 (sd within a factor 2): the same spread
STEADY_DROP = 0.005  # claim 6: a steady climb has no epoch-to-epoch drop larger than this
SIMILAR_GAP = 0.01  # claim 7: "similar best accuracy" = CNN minus MLP within this
PARAM_SHARE = 0.05  # claim 7: the CNN's parameters as a share of the MLP's (original: 2.5%)
REACH_EPOCHS = 10  # claim 7: "about 0.98 within 10 epochs"
SLOWER = 3.0  # claims 2 and 7: "several-fold", "far slower": at least this ratio of time
SHAPE_CORR = 0.5  # claim 8: a map "shows the digit" when it correlates above this
EDGE_CORR = 0.3  # claim 8: a map "shows edges" above this, and more than the digit


@dataclass(frozen=True)
class Margin:
    """A margin of practical difference ``delta`` (0: none, the clause's bound is the
    claim's own) and why it is that size; ``unit``: the forest plot's scale where there
    is no margin."""

    delta: float
    why: str
    unit: float = 0.0

    @property
    def scale(self) -> float:
        return self.delta or self.unit or 1.0


def acc_margin(dataset: str) -> Margin:
    """0.002 test accuracy on 10,000 test images: 20 images."""
    n = datasets.get(dataset).n_test
    return Margin(20 / n, f"20 of the {n:,} test images")


def wobble_margin(dataset: str) -> Margin:
    n = datasets.get(dataset).n_test
    return Margin(10 / n, f"10 of the {n:,} test images from epoch to epoch")


def epochs_margin(dataset: str) -> Margin:
    return Margin(1.0, "one epoch, what an epoch count can resolve")


def noise_margin(dataset: str) -> Margin:
    return Margin(0.05, "5% of the loss's mean")


def bound(unit: float, why: str) -> Callable[[str], Margin]:
    """No margin: the clause's null value is the claim's own bound (3-fold, r = 0.5)."""
    return lambda dataset: Margin(0.0, why, unit)


# -- metrics of one run ---------------------------------------------------------------


def get(r: RunResult, metric: Metric) -> float:
    return float(metric(r) if callable(metric) else getattr(r, metric))


def metric_name(metric: Metric) -> str:
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")


def mean_drop(r: RunResult) -> float:
    """Mean fall of test accuracy from one epoch to the next (rises count as 0)."""
    acc = r.acc()
    if acc.size < 2:
        return float("nan")
    return float(np.mean(np.maximum(0.0, acc[:-1] - acc[1:])))


def largest_drop(r: RunResult) -> float:
    """The largest fall of test accuracy from one epoch to the next (0 if none)."""
    acc = r.acc()
    return float(max(0.0, np.max(acc[:-1] - acc[1:]))) if acc.size > 1 else 0.0


def loss_noise(r: RunResult) -> float:
    """Relative noise of the per-iteration training loss over the last third of the
    iterations: std / mean (scale-free, so two different losses compare)."""
    loss = np.asarray(r.history.get("iter_loss", []), dtype=float)
    loss = loss[-max(1, len(loss) // 3):]
    if loss.size < 2 or not np.all(np.isfinite(loss)) or loss.mean() <= 0:
        return float("nan")
    return float(loss.std() / loss.mean())


def log_seconds(r: RunResult) -> float:
    """log of the median seconds per epoch: a difference of two is the log of a ratio."""
    return math.log(r.seconds_per_epoch)


def epochs_to(r: RunResult) -> float:
    """Epochs to reach the dataset's converged accuracy, "never" counted as one past the
    last epoch (censored: an exact test only)."""
    return float(r.epochs_to())


def shape_score(s: dict) -> float:
    """Claim 8, one seed's maps (``npcnn.probe.map_stats``): the largest correlation of a
    first-layer channel's map with the input image."""
    return float(np.max(np.asarray(s["corr_image"], dtype=float)))


def edge_score(s: dict) -> float:
    """Claim 8, one seed's maps: by how much the best channel meets "correlates with the
    image's edge strength above ``EDGE_CORR`` and more than with the image itself":
    max over channels of min(r_edges - EDGE_CORR, r_edges - r_image); > 0 when one does."""
    img, edge = (np.asarray(s[k], dtype=float) for k in ("corr_image", "corr_edges"))
    return float(np.max(np.minimum(edge - EDGE_CORR, edge - img)))


__all__ = ["Metric", "Margin", "SPREAD_BAND", "STEADY_DROP", "SIMILAR_GAP", "PARAM_SHARE",
           "REACH_EPOCHS", "SLOWER", "SHAPE_CORR", "EDGE_CORR", "acc_margin",
           "wobble_margin", "epochs_margin", "noise_margin", "bound", "get", "metric_name",
           "mean_drop", "largest_drop", "loss_noise", "log_seconds", "epochs_to",
           "shape_score", "edge_score"]
