"""Running a study: train what the run store lacks (in local worker processes or on a
Dask cluster), then read every run back, grouped by point.

With a Dask scheduler address (the ``scheduler`` argument or notebook parameter, else
``$NPCNN_SCHEDULER``) the runs go to that cluster (``npcnn.sweep.cluster``), one task per
run, and their files come back to the local run store; otherwise they train in ``jobs``
local processes (``npcnn.sweep.pool``). Either way the histories are the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from npcnn import store, threads
from npcnn.config import TrainConfig
from npcnn.sweep.backend import drive
from npcnn.sweep.plan import Point, labels, runs, seed_list
from npcnn.sweep.pool import Pool
from npcnn.sweep.progress import Progress
from npcnn.sweep.results import PointResult, read_run


def scheduler_address(scheduler: str = "") -> str:
    """``scheduler``, else ``$NPCNN_SCHEDULER``, else "" (train locally)."""
    return (scheduler or os.environ.get("NPCNN_SCHEDULER", "")).strip()


def train_runs(configs: Sequence[TrainConfig], root: Any = None, jobs: int = 0,
               scheduler: str = "", progress: Callable[[Progress], None] | None = None,
               poll: float = 5.0, labels: dict[str, str] | None = None) -> dict[str, str]:
    """Train ``configs`` into the store at ``root``, longest first: with ``jobs`` local
    worker processes (0: one per core), or on the Dask cluster at
    ``scheduler_address(scheduler)``.

    Returns ``{config key: error message}`` for the runs whose training failed.

    Raises
    ------
    npcnn.sweep.cluster.ClusterError
        A scheduler is given but dask is not installed or the scheduler does not answer.
    """
    if not configs:
        return {}
    root = store.root_of(root)
    address = scheduler_address(scheduler)
    if address:
        from npcnn.sweep.cluster import Cluster

        backend: Any = Cluster(address, root)
    else:
        backend = Pool(jobs or threads.cores(), root)
    return drive(backend, configs, root, labels, progress, poll)


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
    todo = store.to_train([r.config for r in runs(points, seeds)], root)
    errors = train_runs(todo, root, jobs, scheduler, progress, poll, labels(points, seeds))
    # A run answered by a longer run of its family shares that run's error.
    family_error = {store.family_key(c): errors[c.key()] for c in todo if c.key() in errors}
    return collect(points, seeds, root, family_error)


def collect(points: Sequence[Point], seeds: Sequence[int] = (), root: Any = None,
            family_error: dict[str, str] | None = None) -> list[PointResult]:
    """Read every run of ``points`` x ``seeds`` (no seeds: each point's own) back from the
    store, grouped by point; ``family_error`` maps a run's family key to the error its
    training raised."""
    family_error = family_error or {}
    return [PointResult(p.label, p.value, [
        read_run(r, root, family_error.get(store.family_key(r.config), ""))
        for r in runs([p], seeds)]) for p in points]


__all__ = ["scheduler_address", "train_runs", "run", "collect"]
