"""Where a sweep's runs train, behind one small interface, and the one loop that drives it.

A ``Backend`` starts runs and reports those that ended; ``drive`` owns everything else:
the order (the longest first, ``plan.longest_first``), the progress (one ``Tracker``,
a callback per finished run and every ``poll`` seconds) and the errors. Two backends:
``npcnn.sweep.pool.Pool`` (local worker processes) and ``npcnn.sweep.cluster.Cluster``
(a Dask cluster). A run carries its dataset's registry entry (``payload``), so a
worker learns of a dataset registered at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from npcnn import datasets
from npcnn.config import TrainConfig
from npcnn.sweep.plan import longest_first
from npcnn.sweep.progress import Progress, Tracker

# A run that ended: (run key, error message; "" when it trained).
Ended = tuple[str, str]


class Backend(Protocol):
    """Trains runs into a run store. ``drive`` calls ``start`` with the queue (longest
    first) whenever it may start more, ``wait`` until nothing is queued or busy, and
    ``close`` at the end, also after an error or Ctrl-C."""

    busy: bool  # runs in flight

    def start(self, queue: list[TrainConfig], tracker: Tracker) -> list[Ended]:
        """Start what can start now, removing it from ``queue``; returns the runs that
        ended at once (e.g. trained meanwhile by another process)."""

    def wait(self, timeout: float, tracker: Tracker) -> list[Ended]:
        """Block up to ``timeout`` seconds for runs to end; the ones that did."""

    def close(self, error: bool) -> None:
        """Release what the backend holds; ``error``: stop what is still queued."""


def drive(backend: Backend, configs: Sequence[TrainConfig], root: Any,
          labels: dict[str, str] | None = None,
          progress: Callable[[Progress], None] | None = None,
          poll: float = 5.0) -> dict[str, str]:
    """Train ``configs`` (the runs the store lacks) with ``backend``, longest first.

    ``progress`` is called once per run that ends, and every ``poll`` seconds. Returns
    ``{config key: error message}`` for the runs whose training failed; one failed run
    never stops the others.
    """
    queue = longest_first(configs)
    tracker = Tracker(queue, root, labels or {})
    errors: dict[str, str] = {}

    def report(ended: list[Ended]) -> None:
        for key, error in ended:
            tracker.state[key] = "failed" if error else "done"
            if error:
                errors[key] = error
        if progress is not None:
            # One call per run that ended, so each is shown as it finishes.
            for key, _ in ended or [("", "")]:
                progress(tracker.progress(tracker.label(key) if key else ""))

    failed, ended = True, []
    try:
        while queue or backend.busy:
            # Runs that ended are shown once their cores are taken again, so that the
            # line lists what runs now.
            report(backend.start(queue, tracker) + ended)
            ended = backend.wait(poll, tracker)
        if ended:
            report(ended)
        failed = False
    finally:
        backend.close(error=failed)
    return errors


def payload(config: TrainConfig) -> dict[str, Any]:
    """What a worker gets of a run: its config and its dataset's registry entry."""
    return {"config": config.to_dict(), "dataset": datasets.get(config.dataset).to_dict()}


def unpack(payload: dict[str, Any]) -> TrainConfig:
    """The run of a ``payload``, its dataset registered in this process if need be."""
    datasets.ensure(payload["dataset"])
    return TrainConfig.from_dict(payload["config"])


__all__ = ["Ended", "Backend", "drive", "payload", "unpack"]
