"""Running a study: train what the run store lacks (in local worker processes or on a
Dask cluster), then read every run back, grouped by point.

With a Dask scheduler address (the ``scheduler`` argument or notebook parameter, else
``$NPCNN_SCHEDULER``) the runs go to that cluster (``npcnn.cluster``), one task per run
and seed, and their files come back to the local run store; otherwise they train in
``jobs`` local processes (``npcnn.sweep.pool``). Either way the histories are the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from npcnn import store, threads
from npcnn.config import TrainConfig
from npcnn.sweep.plan import Point, seed_list
from npcnn.sweep.pool import train_local
from npcnn.sweep.progress import Progress
from npcnn.sweep.results import PointResult, read_run


def scheduler_address(scheduler: str = "") -> str:
    """``scheduler``, else ``$NPCNN_SCHEDULER``, else "" (train locally)."""
    return (scheduler or os.environ.get("NPCNN_SCHEDULER", "")).strip()


def label_runs(points: Sequence[Point], seeds: Sequence[int] = (), prefix: str = "") -> dict:
    """``{run key: label}`` for progress lines: ``"<prefix><point label>, seed <s>"``
    (the seed only when there are several)."""
    labels = {}
    for p in points:
        for c in _runs(p, seeds):
            tail = f", seed {c.seed}" if len(seeds) > 1 else ""
            labels.setdefault(c.key(), f"{prefix}{p.label}{tail}")
    return labels


def train_many(configs: Sequence[TrainConfig], jobs: int = 0, root: Any = None,
               progress: Callable[[Progress], None] | None = None, poll: float = 5.0,
               labels: dict[str, str] | None = None, scheduler: str = "") -> dict[str, str]:
    """Train ``configs`` into the store, longest first: with ``jobs`` local worker
    processes (0: one per core), or on the Dask cluster at ``scheduler_address(scheduler)``.

    Returns ``{config key: error message}`` for the runs whose training failed.

    Raises
    ------
    npcnn.cluster.ClusterError
        A scheduler is given but dask is not installed or the scheduler does not answer.
    """
    if not configs:
        return {}
    address = scheduler_address(scheduler)
    if address:
        from npcnn import cluster

        return cluster.train_many(configs, address, root, progress, poll, labels)
    return train_local(configs, jobs or threads.cores(), store.root_of(root), progress,
                       poll, labels)


def run(points: Sequence[Point], seeds: Sequence[int] = (), jobs: int = 0,
        runs_dir: str = "", progress: Callable[[Progress], None] | None = None,
        poll: float = 5.0, scheduler: str = "") -> list[PointResult]:
    """Train every run of ``points`` x ``seeds`` the store lacks; return one result per
    point, its runs in seed order.

    Parameters
    ----------
    points
        From ``plan``. Runs sharing a configuration are trained once.
    seeds
        Seeds to train each point with; empty: each point's own ``config.seed``.
    jobs
        Cores for local worker processes; 0 means every core. Ignored on a Dask cluster
        (its workers' threads are the slots).
    runs_dir
        The run store root ("" = ``npcnn.paths.runs_root()``).
    progress
        Called with a ``Progress`` when a run finishes and every ``poll`` seconds.
    scheduler
        Address of a Dask scheduler, e.g. "tcp://10.0.0.5:8786"; "" = ``$NPCNN_SCHEDULER``,
        and if that is unset too, local worker processes.

    Returns
    -------
    list of PointResult, in the order of ``points``. A run whose training raised has
    status "failed" and its error; the others still run.
    """
    root = store.root_of(runs_dir)
    seeds = seed_list(seeds, points[0].config) if seeds else []
    configs = [c for p in points for c in _runs(p, seeds)]
    todo = store.to_train(configs, root)
    errors = train_many(todo, jobs, root, progress, poll, label_runs(points, seeds),
                        scheduler=scheduler)
    # A run answered by a longer run of its family shares that run's error.
    family_error = {store.family_key(c): errors[c.key()] for c in todo if c.key() in errors}
    return collect(points, seeds, root, family_error)


def _runs(p: Point, seeds: Sequence[int]) -> list[TrainConfig]:
    return [p.config.replace(seed=s) for s in seeds] if seeds else [p.config]


def collect(points: Sequence[Point], seeds: Sequence[int] = (), root: Any = None,
            family_error: dict[str, str] | None = None) -> list[PointResult]:
    """Read every run of ``points`` x ``seeds`` (no seeds: each point's own) back from the
    store, grouped by point; ``family_error`` maps a run's family key to the error its
    training raised."""
    family_error = family_error or {}
    return [PointResult(p.label, p.value, [
        read_run(p, c.seed, root, family_error.get(store.family_key(c), ""))
        for c in _runs(p, seeds)]) for p in points]


__all__ = ["scheduler_address", "label_runs", "train_many", "run", "collect"]
