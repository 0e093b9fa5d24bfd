"""The Dask backend: one task per run on a Dask cluster; its files come back to the local
store.

Needs the ``cluster`` extra (``pip install -e '.[cluster]'``: dask, distributed) here
and on every worker, with this project installed at the same commit on each (the task
is ``npcnn.sweep.cluster.remote_train``, pickled by reference). Start a scheduler, then
workers of one thread each (one training per process; their nanny sets
``OMP/MKL/OPENBLAS_NUM_THREADS=1`` before NumPy loads, Dask's default)::

    dask scheduler                                          # listens on tcp://<host>:8786
    dask worker tcp://<host>:8786 --nthreads 1 --nworkers 4  # on each machine

and point a sweep at it: ``make report SCHEDULER=tcp://<host>:8786``, or
``NPCNN_SCHEDULER=tcp://<host>:8786``, or the notebooks' ``scheduler`` parameter.

How a run travels. Every run (a point under one seed) is one task. The submitting
process takes the run's lock in the local run store (``npcnn.store``: no other process
trains it meanwhile; one that already does is waited
for, and its result reused). It puts the run's intact local files (history and
checkpoint, if a killed run left them) into a Dask ``Variable`` on the scheduler, the
run's *channel*, and submits one task. The task trains in a temp directory of the
worker (no shared file system is assumed), resuming from the channel's files; every
``PUBLISH_EVERY`` seconds it puts a newer checkpoint and history into the channel (and
their epoch count into a second, small Variable), and the submitting process copies
them into the local store as it polls (fetching the files only when the count grew).
The task returns the final files, which are checked (sha256) and written atomically
into ``<runs>/<key>/``. The task carries the run's dataset entry (``npcnn.datasets``);
the worker reads the dataset from its own directory for it (``npcnn.paths.data_dir``, a
submitting machine's ``data_dir`` is dropped), checked against the entry's SHA-256.

Faults. A worker that dies mid-run: the scheduler reruns its task elsewhere (up to
``distributed.scheduler.allowed-failures`` times, 3 by default) and the rerun resumes
from the channel, that is from the last checkpoint published before the death (within
``PUBLISH_EVERY`` seconds of its epoch); an epoch in progress is lost and retrained. A
task that fails anyway (an exception, or ``KilledWorker``) is resubmitted up to
``retries`` times, again from the channel; then the run is reported as failed with its
error and the others go on. If the submitting process itself is killed, the local
store holds the last checkpoint it copied; the next sweep resumes from there. (Tasks
already running on workers then finish on their own; their results are dropped.)

Results equal a local run of the same configuration bit for bit as long as workers
and the submitting machine use the same NumPy and BLAS (the numbers depend only on the
config and its seed, see ``npcnn.trainer``).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from filelock import Timeout

from npcnn import checkpoint, store, threads
from npcnn.config import TrainConfig
from npcnn.safeio import CorruptFile
from npcnn.sweep.backend import Ended, payload, unpack
from npcnn.sweep.progress import Tracker
from npcnn.text import one_line

RETRIES = 2  # resubmissions of a failed task (each one resumes from the channel)
PUBLISH_EVERY = 0.5  # seconds between a worker's looks for a newer checkpoint
CONNECT_TIMEOUT = 20  # seconds to reach the scheduler
LOCK_POLL = 1.0  # seconds between tries of a run's lock held by another process
EPOCHS = "-epochs"  # suffix of the channel's small Variable: the epochs it holds

log = logging.getLogger("npcnn.cluster")


class ClusterError(RuntimeError):
    """The Dask backend cannot be used (missing extra, unreachable scheduler)."""


def connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``.

    Raises
    ------
    ClusterError
        dask/distributed are not installed, or the scheduler does not answer.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError("the Dask backend needs the cluster extra; install it with "
                           "pip install -e '.[cluster]'.") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterError(f"could not reach the Dask scheduler at {address} ({err}); "
                           "start one with `dask scheduler` or unset NPCNN_SCHEDULER.") \
            from None
    if not client.scheduler_info().get("workers"):
        log.warning(f"the Dask scheduler at {address} has no workers yet; the runs wait "
                    f"for one (start them with `dask worker {address} --nthreads 1`)")
    return client


class Cluster:
    """A Dask cluster for the runs of ``root``'s store (a ``Backend``): locks, channels,
    tasks, retries. ``client``: an existing ``distributed.Client`` (left open), else one
    connected to ``address`` (closed with the backend)."""

    def __init__(self, address: str, root: Path, retries: int = RETRIES,
                 client: Any = None) -> None:
        self.own = client is None
        self.client = connect(address) if self.own else client
        self.root, self.retries = root, retries
        self.configs: dict[str, TrainConfig] = {}
        self.locks: dict[str, Any] = {}
        self.futures: dict[Any, str] = {}  # task future -> run key
        self.tasks: dict[str, str] = {}  # task key -> run key
        self.attempts: dict[str, int] = {}
        self.local_epochs: dict[str, int] = {}  # epochs in the local store
        self.channels: dict[str, str] = {}
        self.waiting = False  # runs wait for a lock another process holds
        self.session = uuid.uuid4().hex[:8]

    @property
    def busy(self) -> bool:
        return bool(self.futures)

    # -- the Backend interface --------------------------------------------------------

    def start(self, queue: list[TrainConfig], tracker: Tracker) -> list[Ended]:
        """Take the locks that are free; submit those runs, or count them done if the
        process that held the lock finished them. Runs locked elsewhere stay queued."""
        ended = []
        for c in list(queue):
            key = c.key()
            lock = self.locks.setdefault(key, store.run_lock(c, self.root))
            try:
                lock.acquire(blocking=False)
            except Timeout:
                continue  # another process trains this run: try again later
            queue.remove(c)
            if store.is_answered(c, self.root):
                lock.release()
                ended.append((key, ""))
                continue
            self.configs[key] = c
            self.attempts[key] = 0
            store.register(c, self.root)
            self.local_epochs[key] = store.repair(c, self.root)
            self.channels[key] = f"npcnn-{key}-{self.session}"
            self._open_channel(key)
            self._submit(key, tracker)
        self.waiting = bool(queue)
        return ended

    def wait(self, timeout: float, tracker: Tracker) -> list[Ended]:
        deadline = time.monotonic() + (min(timeout, LOCK_POLL) if self.waiting else timeout)
        while time.monotonic() < deadline and not any(f.done() for f in self.futures):
            time.sleep(0.05)
        ended = [e for f in list(self.futures) if f.done()
                 if (e := self._settle(f, tracker)) is not None]
        for key in set(self.futures.values()):
            self._pull(key)
        self._mark_running(tracker)
        return ended

    def close(self, error: bool) -> None:
        try:
            if error:
                # Ctrl-C or an error: stop the queued tasks; the local store keeps the
                # checkpoints copied so far, from which the next sweep resumes.
                with contextlib.suppress(Exception):
                    self.client.cancel(list(self.futures))
            for lock in self.locks.values():
                if lock.is_locked:
                    lock.release()
            self._drop_channels()
        finally:
            if self.own:
                self.client.close()

    # -- steps --------------------------------------------------------------------

    def _open_channel(self, key: str) -> None:
        from distributed import Variable

        files = store.read_files(self.configs[key], self.root)
        name = self.channels[key]
        Variable(name, client=self.client).set(
            {"epochs": self.local_epochs[key], "files": files})
        Variable(name + EPOCHS, client=self.client).set(self.local_epochs[key])

    def _submit(self, key: str, tracker: Tracker) -> None:
        task = f"npcnn-train-{key}-{uuid.uuid4().hex[:8]}"
        fut = self.client.submit(remote_train, payload(self.configs[key]), self.channels[key],
                                 key=task, pure=False)
        self.futures[fut] = key
        self.tasks[task] = key
        self.attempts[key] += 1
        tracker.state[key] = "queued"

    def _settle(self, fut: Any, tracker: Tracker) -> Ended | None:
        """Store a finished task's files, or retry / fail its run. Returns the run that
        ended (None if it was resubmitted)."""
        key = self.futures.pop(fut)
        self.tasks.pop(fut.key, None)
        c, label = self.configs[key], tracker.label(key)
        try:
            out = fut.result()
            store.write_files(c, out["files"], self.root)
            history = store.run_history(c, self.root, derive=False) or {}
            if history.get("status") not in store.FINISHED:
                raise RuntimeError(f"the worker returned a run with status "
                                   f"{history.get('status')!r}")
            error = ""
        except Exception as err:  # a failed run must not stop the sweep
            message = f"{type(err).__name__}: {one_line(err)}"
            n = self.attempts[key]
            if n <= self.retries:
                self._pull(key)
                log.warning(f"run {label}: attempt {n} failed ({message}); retrying from "
                            f"epoch {self.local_epochs[key]}")
                self._submit(key, tracker)
                return None
            error = message + (f" (after {n} attempts)" if n > 1 else "")
        self.locks[key].release()
        return key, error

    def _pull(self, key: str) -> None:
        """Copy a newer checkpoint and history from the run's channel to the store."""
        from distributed import Variable

        name = self.channels[key]
        try:
            published = Variable(name + EPOCHS, client=self.client).get(timeout=10)
            if published <= self.local_epochs[key]:
                return  # nothing new: leave the files on the scheduler
            msg = Variable(name, client=self.client).get(timeout=10)
            if msg["epochs"] > self.local_epochs[key]:
                store.write_files(self.configs[key], msg["files"], self.root)
                self.local_epochs[key] = msg["epochs"]
        except CorruptFile as err:  # damaged in transit: the next one will do
            log.warning(f"run {key}: ignoring a checkpoint that arrived damaged ({err})")
        except (OSError, TimeoutError) as err:  # the scheduler is busy or reconnecting
            log.debug(f"no checkpoint from {key}: {err}")

    def _mark_running(self, tracker: Tracker) -> None:
        """Which runs train right now. The scheduler's "processing" also counts tasks
        queued on a worker behind the one it executes: ask the workers instead."""
        with contextlib.suppress(Exception):  # progress only: never fail the sweep on it
            try:
                executing = self.client.run(_executing, wait=True)
            except Exception:  # e.g. workers of an older npcnn: their assignments, then
                executing = self.client.processing()
            busy = {self.tasks[t] for ts in executing.values() for t in ts if t in self.tasks}
            for key in self.futures.values():
                tracker.state[key] = "running" if key in busy else "queued"

    def _drop_channels(self) -> None:
        from distributed import Variable

        if self.client.status != "running":
            return  # no scheduler to tell (and no call that could hang on the way out)
        for name in self.channels.values():
            for var in (name, name + EPOCHS):
                with contextlib.suppress(Exception):
                    Variable(var, client=self.client).delete()


# -- the worker side ------------------------------------------------------------------


def _executing(dask_worker: Any) -> list[str]:
    """Keys of the tasks this worker executes now (run through ``Client.run``)."""
    return [str(ts.key) for ts in dask_worker.state.executing]


def remote_train(job: dict[str, Any], channel: str) -> dict[str, Any]:
    """The task: train the run of ``job`` (``backend.payload``) on this worker, resuming
    from the channel's files.

    Returns ``{"files": {name: bytes}, "worker": address}`` with the finished run's
    ``history.json`` and ``checkpoint.npz``.
    """
    from distributed import Variable, get_client, get_worker

    cfg = unpack(job)
    if cfg.data_dir and not Path(cfg.data_dir).is_dir():
        # A path on the submitting machine: this worker reads the dataset from its own
        # npcnn.paths.data_dir() (or downloads it), checked against the dataset's hashes.
        cfg = cfg.replace(data_dir="")
    # One core per task: a worker's thread is a slot of the cluster. (The batch split
    # does not change the numbers, so this run equals a local one.)
    cfg = cfg.replace(threads=1)
    client = get_client()
    var, count = Variable(channel, client=client), Variable(channel + EPOCHS, client=client)
    seed = var.get(timeout=60)
    with tempfile.TemporaryDirectory(prefix="npcnn-run-") as tmp, threads.blas_limit(1):
        d = store.run_dir(cfg, tmp)
        d.mkdir(parents=True)
        for name, blob in seed["files"].items():
            (d / name).write_bytes(blob)  # a private temp dir: no reader to protect
        publisher = _Publisher(d, var, count, seed["epochs"])
        publisher.start()
        try:
            store.ensure(cfg, tmp)
        finally:
            publisher.stop()
        return {"files": store.read_files(cfg, tmp), "worker": get_worker().address}


class _Publisher(threading.Thread):
    """Puts the run's newest checkpoint (and history) into its channel as they appear."""

    def __init__(self, run_dir: Path, var: Any, count: Any, epochs: int) -> None:
        super().__init__(daemon=True, name="npcnn-publisher")
        self.dir, self.var, self.count, self.epochs = run_dir, var, count, epochs
        self.halt = threading.Event()
        self.seen: tuple = ()  # (inode, size, mtime) of the last checkpoint looked at

    def run(self) -> None:
        while not self.halt.wait(PUBLISH_EVERY):
            try:
                self.publish()
            except Exception as err:  # publishing is best effort; training goes on
                log.warning(f"could not publish a checkpoint of {self.dir.name}: {err}")

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)

    def publish(self) -> None:
        try:
            st = (self.dir / checkpoint.CHECKPOINT).stat()
        except OSError:
            return
        if (st.st_ino, st.st_size, st.st_mtime_ns) == self.seen:
            return  # unchanged: do not spend the task's thread re-reading it
        self.seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        files = store.files_in(self.dir)
        if checkpoint.CHECKPOINT not in files:
            return  # being replaced, or damaged: the next look will do
        epochs = checkpoint.checkpoint_epochs(files[checkpoint.CHECKPOINT])
        if epochs <= self.epochs:
            return
        self.var.set({"epochs": epochs, "files": files})
        self.count.set(epochs)  # after the files: a reader of the count finds them
        self.epochs = epochs


__all__ = ["Cluster", "ClusterError", "connect", "remote_train", "RETRIES", "PUBLISH_EVERY"]
