"""Training runs in local worker processes, longest first, one core each.

Each worker process starts with one BLAS thread (``npcnn.threads.WORKER_ENV``), so
``jobs`` workers keep ``jobs`` cores busy without oversubscribing. When fewer runs are
left to start than cores are free, a run gets the idle cores as batch-split threads
(``TrainConfig.threads``, capped by what its network can use): the last runs of a sweep
do not leave a core idle. The split does not change a run's numbers
(``npcnn.models.DataParallel``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

from npcnn import store, threads
from npcnn.config import TrainConfig
from npcnn.sweep.plan import estimate_seconds
from npcnn.sweep.progress import Progress, Tracker
from npcnn.text import one_line


def train_local(configs: Sequence[TrainConfig], jobs: int, root: Any,
                progress: Callable[[Progress], None] | None = None, poll: float = 5.0,
                labels: dict[str, str] | None = None) -> dict[str, str]:
    """Train ``configs`` into the store at ``root`` with ``jobs`` worker processes.

    Returns ``{config key: error message}`` for the runs whose training raised; the
    others still run. ``progress`` is called when a run ends and every ``poll`` seconds.
    """
    queue = sorted(configs, key=estimate_seconds, reverse=True)  # longest first
    jobs = max(1, jobs)  # cores to keep busy; a run given two of them uses one process
    tracker = Tracker(queue, root, labels or {})
    errors: dict[str, str] = {}
    in_flight: dict[cf.Future, tuple[str, int]] = {}  # future -> (run key, threads)
    # Spawned workers inherit the environment when they start (on a submit, not when the
    # pool is made), so the thread limits stay set while the pool lives.
    with threads.worker_environment():
        _drive(queue, jobs, root, tracker, errors, in_flight, progress, poll)
    return errors


def _drive(queue: list[TrainConfig], jobs: int, root: Any, tracker: Tracker,
           errors: dict[str, str], in_flight: dict, progress: Any, poll: float) -> None:
    """Submit runs as cores free up and collect them as they end."""
    pool = cf.ProcessPoolExecutor(min(jobs, len(queue)) or 1,
                                  mp_context=multiprocessing.get_context("spawn"))
    try:
        ended: list[str] = []
        while queue or in_flight:
            free = jobs - sum(t for _, t in in_flight.values())
            while queue and free >= 1:
                c = queue.pop(0)
                # Cores nobody else will claim: the free ones beyond one per queued run.
                spare = free - len(queue)
                n = threads.auto_threads(c, available=spare) if spare > 1 else 1
                fut = pool.submit(_train_worker, c.replace(threads=n).to_dict(), str(root))
                in_flight[fut] = (c.key(), n)
                tracker.state[c.key()] = "running"
                free -= n
            # One call per run that ended (now that its core is taken again), so each is
            # shown as it finishes.
            for label in ended or [""]:
                if progress is not None:
                    progress(tracker.progress(label))
            done, _ = cf.wait(in_flight, timeout=poll, return_when=cf.FIRST_COMPLETED)
            ended = []
            for fut in done:
                key, _ = in_flight.pop(fut)
                ended.append(tracker.label(key))
                try:
                    fut.result()
                    tracker.state[key] = "done"
                except Exception as err:  # one failed run must not stop the sweep
                    errors[key] = f"{type(err).__name__}: {one_line(err)}"
                    tracker.state[key] = "failed"
        for label in ended:
            if progress is not None:
                progress(tracker.progress(label))
    except BaseException:
        # Ctrl-C or an error: drop the queued runs at once instead of running them while
        # shutting down. Running ones stop on the same Ctrl-C (the terminal sends it to
        # the workers too) or finish their run; the store keeps both.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _train_worker(config: dict, root: str) -> str:
    """Worker entry point (a module-level function, so ``spawn`` can pickle it)."""
    history = store.ensure(TrainConfig.from_dict(config), root)
    return str(history.get("status"))


__all__ = ["train_local"]
