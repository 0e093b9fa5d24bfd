"""Progress of a sweep, the same for every backend (``npcnn.sweep.backend``): each run's
state, the work done and left, and the line printed about it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from npcnn import store
from npcnn.config import TrainConfig
from npcnn.sweep.plan import estimate_seconds
from npcnn.text import clock


@dataclass
class Progress:
    """State of a running sweep, passed to the ``progress`` callback of a sweep."""

    runs_done: int
    runs_total: int
    epochs_done: int
    epochs_total: int
    work_done: float  # estimated seconds of finished work (``estimate_seconds`` units)
    work_total: float
    elapsed: float  # wall seconds since the sweep started
    running: list[str]  # labels of the runs in progress
    finished: str = ""  # label of the run that just finished, if any
    failed: list[str] = field(default_factory=list)  # labels of the runs that failed

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before anything measurable was done."""
        if self.work_done <= 0 or self.elapsed <= 1:
            return None
        return (self.work_total - self.work_done) * self.elapsed / self.work_done


class Tracker:
    """What a sweep's ``Progress`` needs: each run's state ("queued", "running", "done"
    or "failed"), its estimated cost, and the epochs it held before this sweep."""

    def __init__(self, configs: Sequence[TrainConfig], root: Any,
                 labels: dict[str, str]) -> None:
        self.configs = {c.key(): c for c in configs}
        self.root, self.labels = root, labels
        self.state = dict.fromkeys(self.configs, "queued")
        self.cost = {k: estimate_seconds(c) for k, c in self.configs.items()}
        # Epochs a killed run already holds are not work of this sweep: keep them out of
        # the rate, or the time left would look shorter than it is.
        self.initial = {k: store.epochs_done(c, root) for k, c in self.configs.items()}
        self.start = time.perf_counter()

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def progress(self, finished: str = "") -> Progress:
        epochs_done = work_done = work_total = 0.0
        for key, c in self.configs.items():
            state, n0 = self.state[key], self.initial[key]
            n = c.epochs if state == "done" else max(n0, store.epochs_done(c, self.root))
            epochs_done += n - n0
            work_done += self.cost[key] * (n - n0) / c.epochs
            work_total += self.cost[key] * (c.epochs - n0) / c.epochs
        by_state = {s: [self.label(k) for k, v in self.state.items() if v == s]
                    for s in ("running", "failed")}
        return Progress(
            runs_done=sum(v in ("done", "failed") for v in self.state.values()),
            runs_total=len(self.configs), epochs_done=int(epochs_done),
            epochs_total=sum(c.epochs - self.initial[k] for k, c in self.configs.items()),
            work_done=work_done, work_total=work_total,
            elapsed=time.perf_counter() - self.start, running=by_state["running"],
            finished=finished, failed=by_state["failed"],
        )


class ProgressPrinter:
    """A ``progress`` callback writing one line when a run finishes or fails, and at
    most one every ``every`` seconds otherwise: runs and epochs done, time elapsed and
    left, what finished, failed and is running (the first ``show``). ``prefix`` starts
    each line; ``emit`` writes it (default: print, flushed)."""

    def __init__(self, every: float = 60.0, prefix: str = "",
                 emit: Callable[[str], None] | None = None, show: int = 3) -> None:
        self.every, self.prefix, self.show = every, prefix, show
        self.emit = emit or (lambda line: print(line, flush=True))
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.perf_counter()
        if not p.finished and now - self.last < self.every and p.runs_done < p.runs_total:
            return
        self.last = now
        running = ", ".join(p.running[:self.show]) + (" ..." if len(p.running) > self.show
                                                       else "")
        done = f"done: {p.finished} | " if p.finished else ""
        failed = f"failed: {', '.join(p.failed)} | " if p.failed else ""
        self.emit(f"{self.prefix}{p.runs_done}/{p.runs_total} runs, {p.epochs_done}/"
                  f"{p.epochs_total} epochs | elapsed {clock(p.elapsed)}, left "
                  f"~{clock(p.eta)} | {done}{failed}running: {running or '-'}")


__all__ = ["Progress", "Tracker", "ProgressPrinter"]
