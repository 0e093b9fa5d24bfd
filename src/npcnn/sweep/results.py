"""What a study measured: one ``RunResult`` per run (a point under one seed), grouped by
point into ``PointResult``s whose numbers are summaries over the seeds.

Statuses: a history's own ("completed", "diverged", ...), "collapsed" for a run that
finished without a NaN but near chance (final test accuracy below ``COLLAPSE_FACTOR``
times chance), "failed" when training raised. A run that collapsed or diverged failed to
learn: it is counted apart (``PointResult.collapsed``, with an exact binomial interval)
and never averaged in: every mean, sd and accuracy comparison is over the *trained*
seeds, those whose run finished and learned. Accuracy per epoch of a diverged run counts
as chance from the epoch it failed to the last, so every finished run has an accuracy
for every epoch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from npcnn import datasets, store
from npcnn.config import TrainConfig
from npcnn.stats import Rate, Summary
from npcnn.sweep.plan import Run

# A run that trains without a NaN but whose final test accuracy stays below this many
# times chance (0.2 for ten classes) is "collapsed": stuck near chance.
COLLAPSE_FACTOR = 2.0
DEAD_RELU_IMAGES = 1000  # test images pushed through a collapsed run to count dead units
LATE_FRACTION = 1 / 3  # "late" epochs: the last third of a run (at least one epoch)


def collapse_acc(dataset: str = datasets.DEFAULT) -> float:
    """Final test accuracy below which a run that finished counts as collapsed."""
    return COLLAPSE_FACTOR * datasets.get(dataset).chance_acc


def converged_acc(dataset: str = datasets.DEFAULT) -> float:
    """The test accuracy that counts as converged on ``dataset`` (MNIST: the original's 0.98)."""
    return datasets.get(dataset).converged_acc


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
            chance = datasets.get(self.config.dataset).chance_acc
            a = np.concatenate([a, np.full(max(0, self.config.epochs - a.size), chance)])
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
    def best_val_epoch(self) -> int | None:
        """The epoch (1-based) of highest validation accuracy, the first of ties: the
        epoch a run is judged at without looking at the test set."""
        val = self.series("val_acc")
        if not val.size or np.all(np.isnan(val)):
            return None
        return int(np.nanargmax(val)) + 1

    @property
    def best_val_acc(self) -> float:
        """The highest validation accuracy over the epochs (what picks a network)."""
        e = self.best_val_epoch
        return float("nan") if e is None else float(self.series("val_acc")[e - 1])

    @property
    def acc_at_best_val(self) -> float:
        """Test accuracy at the epoch of highest validation accuracy: an honest "best
        epoch" (the choice is made without looking at the test set)."""
        e = self.best_val_epoch
        a = self.acc()
        return float("nan") if e is None or e > a.size else float(a[e - 1])

    def epoch_reaching(self, target: float | None = None) -> int | None:
        """First epoch (1-based) whose test accuracy is >= ``target`` (default: the
        dataset's ``converged_acc``); None if none."""
        target = converged_acc(self.config.dataset) if target is None else target
        hits = np.flatnonzero(self.acc() >= target)
        return int(hits[0]) + 1 if hits.size else None

    def epochs_to(self, target: float | None = None) -> int:
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
    def finished(self) -> bool:
        """True when the run finished and has numbers: completed, collapsed, or diverged
        (at chance from its failed epoch); not missing, failed or unfinished."""
        return self.status in ("completed", "collapsed", "diverged")

    @property
    def collapsed(self) -> bool:
        """True when the run finished without learning: collapsed or diverged."""
        return self.status in ("collapsed", "diverged")

    @property
    def trained(self) -> bool:
        """True when the run finished and learned: what means and comparisons use."""
        return self.finished and not self.collapsed


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
        return [r.seed for r in self.runs if r.collapsed]

    @property
    def finished(self) -> list[RunResult]:
        """The runs that finished (trained or collapsed), in seed order."""
        return [r for r in self.runs if r.finished]

    @property
    def trained(self) -> list[RunResult]:
        """The runs that finished and learned, in seed order: what summaries use."""
        return [r for r in self.runs if r.trained]

    @property
    def complete(self) -> bool:
        """True when every run finished (none missing or failed)."""
        return all(r.finished for r in self.runs)

    def collapse(self) -> Rate:
        """Collapsed (or diverged) k of the n finished runs, with its exact interval."""
        return Rate(len(self.collapsed), len(self.finished))

    def summary(self, metric: str) -> Summary:
        """``metric`` (a ``RunResult`` attribute, e.g. "final_acc") over the trained seeds
        that have it (a run that diverged in its first epoch has no seconds per epoch)."""
        return Summary.of([v for r in self.trained
                           if not math.isnan(v := float(getattr(r, metric)))])

    def values(self, metric: str, runs: str = "trained") -> list[float]:
        """``metric`` of the ``runs`` ("trained", "finished" or "all"), in seed order."""
        rs = {"trained": self.trained, "finished": self.finished, "all": self.runs}[runs]
        return [float(getattr(r, metric)) for r in rs]

    def by_seed(self) -> dict[int, RunResult]:
        return {r.seed: r for r in self.runs}


def read_run(run: Run, root: Any = None, error: str = "") -> RunResult:
    """The ``RunResult`` of ``run`` (a point under one seed) from the store (status
    "failed" with ``error`` when its training raised)."""
    from npcnn.data import load
    from npcnn.probe import dead_relu_fraction

    config, point = run.config, run.point
    history = store.run_history(config, root) or {}
    status = str(history.get("status", "missing"))
    r = RunResult(point.label, config, point.value, status, history, error)
    if error and status not in store.FINISHED:
        r.status = "failed"
    elif status == "completed" and r.final_acc < collapse_acc(config.dataset):
        r.status = "collapsed"
        with contextlib.suppress(FileNotFoundError):
            x = load(config.dataset, config.data_dir or None)[2][:DEAD_RELU_IMAGES]
            r.dead_relu = dead_relu_fraction(store.load_model(config, root), x)
    return r


def load_models(p: PointResult, root: Any = None) -> list[Any]:
    """The trained model of each of the point's runs, in seed order (from the store)."""
    return [store.load_model(r.config, root) for r in p.runs]


def paired(a: PointResult, b: PointResult, metric: str | Callable[[RunResult], float],
           ) -> tuple[list[int], list[float], list[float], list[int]]:
    """``metric`` (an attribute name or a function of a run) of the seeds in which both
    points trained, in seed order: ``(seeds, values of a, values of b, excluded)``, the
    excluded being the seeds both finished but one of them collapsed in."""
    get = metric if callable(metric) else (lambda r: getattr(r, metric))
    ra, rb = a.by_seed(), b.by_seed()
    both = [s for s in ra if s in rb and ra[s].finished and rb[s].finished]
    seeds = [s for s in both if ra[s].trained and rb[s].trained]
    excluded = [s for s in both if s not in seeds]
    return (seeds, [float(get(ra[s])) for s in seeds], [float(get(rb[s])) for s in seeds],
            excluded)


__all__ = ["COLLAPSE_FACTOR", "DEAD_RELU_IMAGES", "LATE_FRACTION", "collapse_acc",
           "converged_acc", "RunResult", "PointResult", "read_run", "load_models", "paired"]
