"""The worker processes of a ``npcnn.batch_split.ProcessSplit``: how they start (fresh
interpreters with one BLAS thread), the shared memory they read and write, the requests
and replies on each one's pipe, and how they stop. Owned by ``batch_split``; nothing else
uses it.

One request at a time per worker, each answered before the next: ``("forward", n, train,
new)`` (its n images are in its buffer; ``new``: the shapes and name of a larger buffer
to open first), ``("backward", n, train, None)`` (its n score gradients are in the
buffer), ``None`` (stop). The reply is None, or the traceback of what the worker raised.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import traceback
from multiprocessing import connection
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from npcnn.models import Sequential
from npcnn.threads import WORKER_VAR, worker_environment

SPLIT_WORKER = "split"  # threads.WORKER_VAR in a ProcessSplit's workers


class WorkerError(RuntimeError):
    """A worker process of a ``ProcessSplit`` raised (the message is its traceback) or
    died."""


class Workers:
    """The worker processes of a ``ProcessSplit`` and the shared memory they use:
    ``params: (P,)`` read by all, ``grads[i]: (P,)`` written by worker i, and worker i's
    buffer for its part: images (n, C, H, W), scores (n, K), score gradients (n, K)."""

    def __init__(self, model: Sequential, n: int) -> None:
        P, self.model = model.params.size, model
        self.state = Shared([(P,)] * (1 + n), model.dtype)
        self.params, *self.grads = self.state.arrays
        self.io: list[Shared | None] = [None] * n
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.Process] = []
        try:
            self._start(n)
        except BaseException as err:
            self.close()
            if isinstance(err, OSError | WorkerError):  # a broken pipe: it died starting
                raise WorkerError(f"a worker process died while starting ({err}); a script "
                                  "that trains must start under `if __name__ == "
                                  "'__main__':`, which each worker runs again") from err
            raise

    def _start(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter, no copied threads
        with worker_environment():  # one BLAS thread: set before the worker loads BLAS
            os.environ[WORKER_VAR] = SPLIT_WORKER  # worker_environment restores it
            for i in range(n):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=serve, args=(theirs, self.state.name, n, i),
                                   name=f"npcnn-split-{i + 1}", daemon=True)
                proc.start()
                theirs.close()
                self.pipes.append(mine)
                self.procs.append(proc)
        for i in range(n):
            # The network through the pipe, not the start's arguments: a worker that dies
            # while starting then breaks the pipe, where it would leave the start blocked.
            self.pipes[i].send(self.model)
            self.wait(i)  # bound to the shared memory: the parent may write it now

    def send(self, i: int, kind: str, data: np.ndarray, train: bool = True) -> None:
        """Ask worker i for ``kind`` of its part: "forward" (data: its images) or
        "backward" (data: its score gradients)."""
        io, new = self.io[i], None
        if kind == "forward" and (io is None or len(data) > len(io.arrays[0])
                                  or data.shape[1:] != io.arrays[0].shape[1:]):
            # The first part, or a larger one (evaluation batches): a new buffer, which
            # the worker opens by the name sent with this request.
            n = max(len(data), 2 * len(io.arrays[0]) if io is not None else 0)
            K = self.model.geometry(data.shape[1:])[-1].out_shape
            new = [(n, *data.shape[1:]), (n, *K), (n, *K)]
            if io is not None:
                io.release()
            io = self.io[i] = Shared(new, self.model.dtype)
            new = (new, io.name)
        np.copyto(io.arrays[0 if kind == "forward" else 2][:len(data)], data)
        self.pipes[i].send((kind, len(data), train, new))

    def wait(self, i: int) -> None:
        """Wait for worker i's reply; WorkerError if it raised or died."""
        pipe, proc = self.pipes[i], self.procs[i]
        try:  # its reply, or its end: the pipe closed or the process gone
            reply = pipe.recv() if pipe in connection.wait([pipe, proc.sentinel]) else OSError
        except (EOFError, OSError):
            reply = OSError
        if reply is OSError:
            proc.join(5)
            raise WorkerError(f"{proc.name} (pid {proc.pid}) died, exit code {proc.exitcode}")
        if reply is not None:
            raise WorkerError(reply)

    def scores(self, i: int, n: int) -> np.ndarray:
        """Worker i's reply to "forward": its n scores, (n, K), a view of its buffer."""
        self.wait(i)
        return self.io[i].arrays[1][:n]

    def close(self) -> None:
        """Stop the workers (a worker still busy after 5 s is terminated) and free the
        shared memory."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for pipe in self.pipes:
            pipe.close()
        self.pipes, self.procs, self.params, self.grads = [], [], None, []
        for shared in (self.state, *self.io):
            if shared is not None:
                shared.release()


class Shared:
    """Arrays of ``shapes`` and ``dtype`` in one block of shared memory, each at a 64-byte
    boundary. Made when ``name`` is None (and unlinked by ``release``), else opened."""

    def __init__(self, shapes: list[tuple[int, ...]], dtype, name: str | None = None) -> None:
        dtype = np.dtype(dtype)
        sizes = [-(-int(np.prod(s)) * dtype.itemsize // 64) * 64 for s in shapes]
        self.owner = name is None
        self.memory = SharedMemory(name, create=self.owner, size=max(64, sum(sizes)))
        self.name = self.memory.name
        offsets = np.cumsum([0, *sizes[:-1]])
        self.arrays = [np.ndarray(s, dtype, self.memory.buf, int(o))
                       for s, o in zip(shapes, offsets, strict=True)]

    def release(self) -> None:
        """Drop the arrays, unmap the block and, in the process that made it, unlink it."""
        self.arrays = []
        with contextlib.suppress(BufferError):  # a view still held elsewhere: stays mapped
            self.memory.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                self.memory.unlink()


def serve(pipe: Connection, state: str, n: int, i: int) -> None:
    """Worker i of n of a ``ProcessSplit``: the network it receives first, bound to the
    shared ``state`` (parameters, and gradient i), then one reply per request (None, or
    the traceback of what it raised) until told to stop (None) or its pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us
    try:
        model = pipe.recv()
    except (EOFError, OSError):  # the parent is gone
        return
    shared = Shared([(model.params.size,)] * (1 + n), model.dtype, state)
    model.bind(shared.arrays[0], shared.arrays[1 + i])
    io = None
    pipe.send(None)
    while True:
        try:
            request = pipe.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if request is None:
            return
        kind, m, train, new = request
        reply = None
        try:
            if new is not None:  # a larger buffer: drop the old one (its maker unlinks it)
                if io is not None:
                    io.release()
                io = Shared(new[0], model.dtype, new[1])
            x, scores, dscores = io.arrays
            if kind == "forward":
                scores[:m] = model.forward(x[:m], train)
            else:
                model.backward(dscores[:m])
        except Exception:  # the parent raises it as a WorkerError
            reply = traceback.format_exc()
        try:
            pipe.send(reply)
        except OSError:  # the parent is gone
            return


__all__ = ["SPLIT_WORKER", "WorkerError", "Workers", "Shared", "serve"]
