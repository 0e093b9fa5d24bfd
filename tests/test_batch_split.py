"""The batch split: how many parts (from the network's size), on how many cores (from
the machine), that the parts give the whole batch's numbers, the same on 1 process, 2
threads or 2 processes, and that a split's worker processes stop with it: on an error, a
killed worker, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, strip

from npcnn import batch_split, datasets, threads
from npcnn import trainer as T
from npcnn.batch_split import BatchSplit, ProcessSplit, WorkerError
from npcnn.checkpoint import CHECKPOINT, checkpoint_epochs, read_history
from npcnn.config import TrainConfig
from npcnn.gradcheck import rel_error
from npcnn.layers import Flatten, Linear, ReLU
from npcnn.losses import SoftmaxCrossEntropyLoss
from npcnn.models import Sequential, build_network, cnn, macs_per_image
from npcnn.optim import SGD
from npcnn.threads import blas_limit
from npcnn.trainer import train_step


def _step(model, x, y):
    loss = SoftmaxCrossEntropyLoss()
    scores = model.forward(x)
    loss.forward(scores, y)
    model.backward(loss.backward())
    return scores, model.grads.copy()


def test_the_split_follows_the_network_and_threads_follow_the_cores():
    small, big = TrainConfig(), TrainConfig(channels=16)
    assert batch_split.chunks(macs_per_image(small)) == 1
    assert batch_split.chunks(macs_per_image(big)) == 2
    assert batch_split.chunks(batch_split.SPLIT_MIN_MACS) == 2
    assert batch_split.chunks(batch_split.SPLIT_MIN_MACS - 1) == 1
    assert batch_split.threads_for(1, available=2) == 1
    assert batch_split.threads_for(2, available=2) == 2
    assert batch_split.threads_for(2, available=1) == 1
    assert batch_split.threads_for(2, requested=8) == 2  # no more than its parts
    assert batch_split.threads_for(2, requested=1) == 1


def test_split_wraps_the_networks_that_pay_for_it():
    net = build_network(TrainConfig())
    assert batch_split.split(net, threads=2) is net  # C=4: one chunk, as built
    net = build_network(TrainConfig(channels=16))
    big = batch_split.split(net, threads=1)
    assert isinstance(big, BatchSplit) and big.model is net
    assert big.threads == 1 and big.chunks == len(big.replicas) == 2
    assert batch_split.split(net, threads=8).threads == 2
    assert isinstance(big.replicas[1], Sequential) and big.replicas[1].params is net.params
    # On two cores: two processes, except in a pool's worker (one core each): threads.
    assert type(batch_split.split(net, threads=2)) is ProcessSplit
    with threads.worker_environment():
        assert threads.in_worker() and type(batch_split.split(net, threads=2)) is BatchSplit
    assert not threads.in_worker()


def test_two_parts_equal_the_whole_batch():
    """Two half batches give the whole batch's gradient up to float32 summation order
    (rel. 1e-5 leaves ~100x margin over the observed ~1e-7)."""
    rng = np.random.default_rng(0)
    x = rng.random((10, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 10)
    one, two = cnn(seed=3), BatchSplit(cnn(seed=3), chunks=2, threads=2)
    grads = [_step(one, x, y), _step(two, x, y)]
    assert rel_error(grads[0][0], grads[1][0]) < 1e-5
    assert rel_error(grads[0][1], grads[1][1]) < 1e-5
    two.params[...] = 0  # replicas share the parameters: one write reaches all
    assert not two.replicas[1].layers[0].params["W"].any()


def test_the_thread_count_does_not_change_the_numbers():
    """The split, not the threads, fixes the float sums: 1 and 2 threads on the same two
    chunks agree bit for bit, so a run's history does not depend on the machine's cores."""
    rng = np.random.default_rng(1)
    x = rng.random((100, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 100)
    seq = _step(BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=1), x, y)
    par = _step(BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=2), x, y)
    np.testing.assert_array_equal(seq[0], par[0])
    np.testing.assert_array_equal(seq[1], par[1])


# -- the split over processes ---------------------------------------------------------


class Exploding(ReLU):
    """ReLU that raises on a part of 4 images: in a ProcessSplit of 7 images (parts of 3
    and 4), in the worker only. Defined here, imported by the worker when it unpickles
    the network: no switch in src/."""

    def forward_cm(self, x, train=True):
        if x.shape[0] == 4:
            raise ValueError("boom in a worker")
        return super().forward_cm(x, train)


def _steps(model, steps=4, batch=100):
    """Losses of a few SGD steps, then the parameters and an evaluation's scores."""
    opt, loss = SGD(0.05, momentum=0.9), SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(1)
    losses = []
    with blas_limit(1):
        for _ in range(steps):
            x = rng.random((batch, 1, 28, 28), dtype=np.float32)
            losses.append(train_step(model, loss, opt, x, rng.integers(0, 10, batch))[0])
        scores = model.forward(rng.random((1000, 1, 28, 28), dtype=np.float32), train=False)
    return losses, model.params.copy(), scores


def _state(pid: int) -> str | None:
    """The process's state letter from /proc (Z: exited, not yet reaped), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _gone(pids, timeout=10.0) -> bool:
    """Whether every process of ``pids`` has exited within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while any(_state(p) not in (None, "Z") for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _children(pid: int) -> dict[int, str]:
    """Every descendant of ``pid``, with its command line."""
    parents = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and _state(int(d.name)) is not None:
            with contextlib.suppress(OSError, IndexError):
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(d.name)] = int(stat[1])
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                with contextlib.suppress(OSError):
                    found[child] = (Path(f"/proc/{child}/cmdline").read_bytes()
                                    .replace(b"\0", b" ").decode())
                todo.append(child)
    return found


def _shm() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def test_one_process_two_threads_and_two_processes_give_the_same_numbers():
    """The same parts summed in the same order: bit for bit, steps and evaluation (the
    evaluation's larger parts grow the workers' buffers)."""
    single = BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=1)
    one = _steps(single)
    two = _steps(BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=2))
    split = ProcessSplit(cnn(channels=16, seed=3), chunks=2)
    try:
        procs = _steps(split)
        assert len(split.pids) == 1
    finally:
        split.close()
    for other in (two, procs):
        assert other[0] == one[0]
        np.testing.assert_array_equal(other[1], one[1])
        np.testing.assert_array_equal(other[2], one[2])
    # Closed, it runs on threads, with the same numbers.
    x = np.random.default_rng(2).random((10, 1, 28, 28), dtype=np.float32)
    assert split.pids == []
    np.testing.assert_array_equal(split.forward(x, False), single.forward(x, False))


def test_a_run_on_two_processes_has_the_history_of_one(tiny_data, monkeypatch):
    """npcnn.train on 1 core, 2 processes (the default on 2 cores for C=16) and 2 threads
    (in a pool's worker): the same history, and no worker left when the run ends."""
    cfg = TrainConfig(channels=16, epochs=2, subset=300)
    before = _shm()
    runs = {n: T.train(cfg.replace(threads=n), progress=False, data=tiny_data) for n in (1, 2)}
    assert type(runs[2].model) is ProcessSplit and runs[2].model.pids == []
    monkeypatch.setenv(threads.WORKER_VAR, "1")
    runs["threads"] = T.train(cfg.replace(threads=2), progress=False, data=tiny_data)
    assert type(runs["threads"].model) is BatchSplit and runs["threads"].model.threads == 2
    for r in (runs[2], runs["threads"]):
        assert strip(r.epochs) == strip(runs[1].epochs) and r.iter_loss == runs[1].iter_loss
    assert _shm() <= before  # the shared memory freed


def test_an_error_in_a_worker_stops_the_split_and_is_raised():
    """The worker's exception comes back as a WorkerError with its traceback; the worker
    has exited and the shared memory is freed before it reaches the caller."""
    net = Sequential([Flatten(), Linear(784, 10, rng=np.random.default_rng(0)), Exploding()],
                     in_shape=(1, 28, 28))
    split, before = ProcessSplit(net, chunks=2), _shm()
    x = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    split.forward(x[:6])  # parts of 3 and 3: the worker starts, nothing raises
    pids = split.pids
    with pytest.raises(WorkerError, match="boom in a worker"):
        split.forward(x)  # parts of 3 (here) and 4 (the worker's)
    assert split.pids == [] and _gone(pids) and _shm() <= before
    parts = np.concatenate([net.forward(x[:3]), net.forward(x[3:6])])  # the same parts
    np.testing.assert_array_equal(split.forward(x[:6]), parts)  # now on threads


def test_a_killed_worker_stops_the_split_and_is_raised():
    split, before = ProcessSplit(cnn(channels=16, seed=3), chunks=2), _shm()
    reference = BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=1)
    _steps(reference, steps=1)
    _steps(split, steps=1)
    (pid,) = split.pids
    os.kill(pid, signal.SIGKILL)
    x = np.random.default_rng(2).random((10, 1, 28, 28), dtype=np.float32)
    with pytest.raises(WorkerError, match="died"):
        split.forward(x)
    assert split.pids == [] and _gone([pid]) and _shm() <= before
    # The model is whole: on threads from now on, with the numbers of one process.
    np.testing.assert_array_equal(split.forward(x, False), reference.forward(x, False))


# A run with its own process group, as a terminal starts it, on the synthetic dataset.
TRAIN = """
import json, sys
from npcnn import datasets
from npcnn.config import TrainConfig
from npcnn.trainer import train
datasets.ensure(json.loads(sys.argv[3]))
r = train(TrainConfig.from_dict(json.loads(sys.argv[1])), out_dir=sys.argv[2], progress=False)
print(r.status, type(r.model).__name__)
"""


def test_ctrl_c_stops_the_workers_and_the_run_resumes(tiny_mnist, tmp_path):
    """SIGINT to the run's process group (Ctrl-C in a terminal) while it trains on two
    processes: the run records how far it got and exits, and none of its processes (the
    split's worker, multiprocessing's resource tracker) outlives it; run again, it goes
    on from its checkpoint to the history of an uninterrupted run on one process."""
    cfg = TrainConfig(channels=16, epochs=8, subset=400, dataset=TINY, data_dir=str(tiny_mnist))
    out, before = tmp_path / "run", _shm()

    def launch(c):
        return subprocess.Popen(
            [sys.executable, "-c", TRAIN, json.dumps(c.to_dict()), str(out),
             json.dumps(datasets.get(TINY).to_dict())], env=dict(os.environ, TQDM_DISABLE="1"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    proc = launch(cfg.replace(threads=2))
    deadline, children = time.monotonic() + 120, []
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / CHECKPOINT).exists() and checkpoint_epochs(out / CHECKPOINT) >= 1:
            children = _children(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
            break
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "TrainingInterrupted" in err, err
    assert any("spawn_main" in cmd for cmd in children.values()), children
    assert _gone(children) and _shm() <= before
    assert read_history(out)["status"] == "interrupted"

    proc = launch(cfg.replace(threads=2))
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and stdout.split() == ["completed", "ProcessSplit"], err
    one = T.train(cfg.replace(threads=1), progress=False)
    history = read_history(out)
    assert strip(history["epochs"]) == strip(one.epochs)
    assert history["iter_loss"] == one.iter_loss
