"""What a study measured: one ``RunResult`` per run (a point under one seed), grouped by
point into ``PointResult``s whose numbers are summaries over the seeds.

Statuses: a history's own ("completed", "diverged", ...), "collapsed" for a run that
finished without a NaN but at chance (final test accuracy below ``COLLAPSE_ACC``),
"failed" when training raised. Accuracy as compared: a run that diverged counts as at
chance (``CHANCE_ACC``) from the epoch it failed to the last, so every run of a study has
an accuracy for every epoch and seeds can be paired.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from npcnn import store
from npcnn.config import TrainConfig
from npcnn.stats import Summary
from npcnn.sweep.plan import Point

# A run that trains without a NaN but whose final test accuracy stays below this is
# "collapsed": stuck near chance.
COLLAPSE_ACC = 0.2
CHANCE_ACC = 0.1  # ten classes
DEAD_RELU_IMAGES = 1000  # test images pushed through a collapsed run to count dead units
TARGET_ACC = 0.98  # the seed's "reached 0.98" milestone
LATE_FRACTION = 1 / 3  # "late" epochs: the last third of a run (at least one epoch)


@dataclass
class RunResult:
    """One run as read from the store, with the numbers tables and claims need.

    ``dead_relu`` is, for collapsed runs, the fraction of the first ReLU's units that
    output 0 for every one of ``DEAD_RELU_IMAGES`` test images.
    """

    label: str
    config: TrainConfig
    value: Any = None
    status: str = "missing"
    history: dict = field(default_factory=dict)
    error: str = ""
    dead_relu: float | None = None

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def epochs(self) -> list[dict]:
        return list(self.history.get("epochs", []))

    def series(self, metric: str) -> np.ndarray:
        """Per-epoch values of ``metric`` as recorded (e.g. "val_loss"), shape (E,)."""
        return np.array([np.nan if e.get(metric) is None else e[metric] for e in self.epochs],
                        dtype=float)

    def acc(self) -> np.ndarray:
        """Test accuracy per epoch as compared, shape (config.epochs,) for a diverged run
        (chance from its failed epoch on), else (E,)."""
        a = self.series("test_acc")
        if self.status == "diverged":
            a = np.concatenate([a, np.full(max(0, self.config.epochs - a.size), CHANCE_ACC)])
        return a

    @property
    def final_acc(self) -> float:
        a = self.acc()
        return float(a[-1]) if a.size else float("nan")

    @property
    def best_acc(self) -> float:
        a = self.acc()
        return float(np.nanmax(a)) if a.size else float("nan")

    @property
    def best_epoch(self) -> int | None:
        a = self.acc()
        return int(np.nanargmax(a)) + 1 if a.size else None

    @property
    def first_acc(self) -> float:
        """Test accuracy after epoch 1."""
        a = self.acc()
        return float(a[0]) if a.size else float("nan")

    @property
    def acc_at_best_val(self) -> float:
        """Test accuracy at the epoch of lowest validation loss: an honest "best epoch"
        (the choice is made without looking at the test set)."""
        val = self.series("val_loss")
        if not val.size or np.all(np.isnan(val)):
            return float("nan")
        return float(self.acc()[int(np.nanargmin(val))])

    def epoch_reaching(self, target: float = TARGET_ACC) -> int | None:
        """First epoch (1-based) whose test accuracy is >= ``target``; None if none."""
        hits = np.flatnonzero(self.acc() >= target)
        return int(hits[0]) + 1 if hits.size else None

    def epochs_to(self, target: float = TARGET_ACC) -> int:
        """``epoch_reaching``, counting "never" as one epoch past the run's end."""
        e = self.epoch_reaching(target)
        return self.config.epochs + 1 if e is None else e

    @property
    def seconds_per_epoch(self) -> float:
        """Median wall seconds of an epoch (training + evaluation of 15,000 images)."""
        s = self.series("seconds")
        return float(np.median(s)) if s.size else float("nan")

    def late(self) -> np.ndarray:
        """Test accuracy over the last third of the epochs (at least one): where a run's
        "late" accuracy and its stability across epochs are read."""
        a = self.acc()
        return a[-max(1, int(len(a) * LATE_FRACTION)):] if a.size else a

    @property
    def late_mean(self) -> float:
        s = self.late()
        return float(np.mean(s)) if s.size else float("nan")

    @property
    def late_std(self) -> float:
        s = self.late()
        return float(np.std(s)) if s.size else float("nan")

    @property
    def trained(self) -> bool:
        """True when the run finished and has numbers to compare: completed, collapsed, or
        diverged (at chance from its failed epoch); not missing, failed or unfinished."""
        return self.status in ("completed", "collapsed", "diverged")


@dataclass
class PointResult:
    """A point of a study trained under several seeds: its runs, in seed order."""

    label: str
    value: Any
    runs: list[RunResult]

    @property
    def config(self) -> TrainConfig:
        """The point's configuration (with its first seed)."""
        return self.runs[0].config

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def collapsed(self) -> list[int]:
        """Seeds whose run collapsed or diverged: training that failed to learn."""
        return [r.seed for r in self.runs if r.status in ("collapsed", "diverged")]

    @property
    def trained(self) -> bool:
        return all(r.trained for r in self.runs)

    def summary(self, metric: str, without_collapsed: bool = False) -> Summary:
        """``metric`` (a ``RunResult`` attribute, e.g. "final_acc") over the seeds that
        have it (a run that diverged in its first epoch has no seconds per epoch)."""
        rs = [r for r in self.runs if r.trained
              and not (without_collapsed and r.seed in self.collapsed)]
        return Summary.of([v for r in rs if not math.isnan(v := float(getattr(r, metric)))])

    def values(self, metric: str) -> list[float]:
        """``metric`` of every run, in seed order."""
        return [float(getattr(r, metric)) for r in self.runs]

    def by_seed(self) -> dict[int, RunResult]:
        return {r.seed: r for r in self.runs}


def read_run(point: Point, seed: int, root: Any = None, error: str = "") -> RunResult:
    """The ``RunResult`` of ``point`` under ``seed`` from the store (status "failed" with
    ``error`` when its training raised)."""
    from npcnn.activations import dead_relu_fraction
    from npcnn.data import load_mnist

    config = point.config.replace(seed=seed)
    history = store.read_history(config, root) or {}
    status = str(history.get("status", "missing"))
    r = RunResult(point.label, config, point.value, status, history, error)
    if error and status not in store.FINISHED:
        r.status = "failed"
    elif status == "completed" and r.final_acc < COLLAPSE_ACC:
        r.status = "collapsed"
        with contextlib.suppress(FileNotFoundError):
            x = load_mnist(config.data_dir or None)[2][:DEAD_RELU_IMAGES]
            r.dead_relu = dead_relu_fraction(store.load_model(config, root), x)
    return r


def load_models(p: PointResult, root: Any = None) -> list[Any]:
    """The trained model of each of the point's runs, in seed order (from the store)."""
    return [store.load_model(r.config, root) for r in p.runs]


def paired(a: PointResult, b: PointResult,
           metric: str | Callable[[RunResult], float]) -> tuple[list[float], list[float]]:
    """``metric`` (an attribute name or a function of a run) of the seeds both points
    trained, in the same order: for ``stats.Paired.of``."""
    get = metric if callable(metric) else (lambda r: getattr(r, metric))
    ra, rb = a.by_seed(), b.by_seed()
    seeds = [s for s in ra if s in rb and ra[s].trained and rb[s].trained]
    return [float(get(ra[s])) for s in seeds], [float(get(rb[s])) for s in seeds]


__all__ = ["COLLAPSE_ACC", "CHANCE_ACC", "DEAD_RELU_IMAGES", "TARGET_ACC", "LATE_FRACTION",
           "RunResult", "PointResult", "read_run", "load_models", "paired"]
