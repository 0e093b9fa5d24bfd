"""The local backend: runs train in worker processes on this machine, one core each.

Each worker process starts with one BLAS thread (``npcnn.threads.WORKER_ENV``), so
``jobs`` workers keep ``jobs`` cores busy without oversubscribing. When fewer runs are
left to start than cores are free, a run gets the idle cores as batch-split threads
(``TrainConfig.threads``, capped by what its network can use): the last runs of a sweep
do not leave a core idle. The split does not change a run's numbers
(``npcnn.batch_split``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from pathlib import Path

from npcnn import batch_split, store, threads
from npcnn.config import TrainConfig
from npcnn.models import macs_per_image
from npcnn.sweep.backend import Ended, payload, unpack
from npcnn.sweep.progress import Tracker
from npcnn.text import one_line


class Pool:
    """``jobs`` cores of this machine for the runs of ``root``'s store (a ``Backend``)."""

    def __init__(self, jobs: int, root: Path) -> None:
        self.jobs, self.root = max(1, jobs), root
        self.in_flight: dict[cf.Future, tuple[str, int]] = {}  # future -> (key, threads)
        self._env = threads.worker_environment()
        # Spawned workers inherit the environment when they start (on a submit, not
        # when the pool is made), so the thread limits stay set while the pool lives.
        self._env.__enter__()
        self._pool = cf.ProcessPoolExecutor(self.jobs,
                                            mp_context=multiprocessing.get_context("spawn"))

    @property
    def busy(self) -> bool:
        return bool(self.in_flight)

    def start(self, queue: list[TrainConfig], tracker: Tracker) -> list[Ended]:
        free = self.jobs - sum(t for _, t in self.in_flight.values())
        while queue and free >= 1:
            c = queue.pop(0)
            # Cores nobody else will claim: the free ones beyond one per queued run.
            spare = free - len(queue)
            n = (batch_split.threads_for(batch_split.chunks(macs_per_image(c)), available=spare)
                 if spare > 1 else 1)
            fut = self._pool.submit(train_worker, payload(c.replace(threads=n)),
                                    str(self.root))
            self.in_flight[fut] = (c.key(), n)
            tracker.state[c.key()] = "running"
            free -= n
        return []

    def wait(self, timeout: float, tracker: Tracker) -> list[Ended]:
        done, _ = cf.wait(self.in_flight, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        ended = []
        for fut in done:
            key, _ = self.in_flight.pop(fut)
            try:
                fut.result()
                ended.append((key, ""))
            except Exception as err:  # one failed run must not stop the sweep
                ended.append((key, f"{type(err).__name__}: {one_line(err)}"))
        return ended

    def close(self, error: bool) -> None:
        try:
            if error:
                # Ctrl-C or an error: drop the queued runs at once instead of running them
                # while shutting down. Running ones stop on the same Ctrl-C (the terminal
                # sends it to the workers too) or finish their run; the store keeps both.
                self._pool.shutdown(wait=False, cancel_futures=True)
            else:
                self._pool.shutdown()
        finally:
            self._env.__exit__(None, None, None)


def train_worker(job: dict, root: str) -> str:
    """Worker entry point (a module-level function, so ``spawn`` can pickle it): train
    the run of ``job`` (``backend.payload``) into the store at ``root``."""
    history = store.ensure(unpack(job), root)
    return str(history.get("status"))


__all__ = ["Pool", "train_worker"]
