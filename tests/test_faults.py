"""The run store under faults: damaged files are detected by their checksums and the
run restarts cleanly; a sweep SIGKILLed midway loses nothing on rerun and retrains only
what was unfinished; two sweeps over the same points train each point once.

Tiny runs on the synthetic ``tiny_mnist`` (300 training images, about 0.3 s an epoch).
Training starts are counted through ``$NPCNN_TRAIN_LOG`` (one line per start:
``<key> <first epoch already done> <pid>``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from npcnn import runs, sweep
from npcnn.config import TrainConfig
from npcnn.lock import FileLock
from npcnn.safeio import CorruptFile, arrays_digest, atomic_write, loads_checked
from npcnn.train import _load_checkpoint

# A sweep in a fresh interpreter: configs as JSON, the store, the worker processes.
SWEEP = """
import json, sys
from npcnn import sweep
from npcnn.config import TrainConfig
configs = [TrainConfig.from_dict(d) for d in json.loads(sys.argv[1])]
points = [sweep.Point(str(i), c) for i, c in enumerate(configs)]
results = sweep.run(points, jobs=int(sys.argv[3]), runs_dir=sys.argv[2])
print(json.dumps([r.status for r in results]))
"""


def strip(epochs):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]


def starts(log):
    """{key: [(first epoch, pid), ...]} from the training log."""
    out: dict[str, list] = {}
    for line in (log.read_text().splitlines() if log.exists() else []):
        key, epoch, pid = line.split()
        out.setdefault(key, []).append((int(epoch), int(pid)))
    return out


def launch(configs, store, log, jobs):
    env = dict(os.environ, NPCNN_TRAIN_LOG=str(log), TQDM_DISABLE="1")
    return subprocess.Popen(
        [sys.executable, "-c", SWEEP, json.dumps([c.to_dict() for c in configs]), str(store),
         str(jobs)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # its own process group: killable with its workers


@pytest.fixture
def cfg(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=2, subset=300, data_dir=str(tiny_mnist))


@pytest.fixture(scope="module")
def trained(tiny_mnist, tmp_path_factory):
    """A store holding one finished 1-epoch run, trained once for the module; tests
    damage copies of it."""
    config = TrainConfig(epochs=1, subset=300, data_dir=str(tiny_mnist))
    store = tmp_path_factory.mktemp("trained")
    return config, store, runs.ensure(config, store)


def copy_of(trained, tmp_path):
    config, store, history = trained
    shutil.copytree(store, tmp_path / "runs", symlinks=True)
    return config, tmp_path / "runs", history


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "starts.log"
    monkeypatch.setenv("NPCNN_TRAIN_LOG", str(path))
    return path


# -- atomic writes and checksums ------------------------------------------------------


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "f.json"
    atomic_write(path, b"old")

    def broken(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left


def test_checked_json_detects_truncation_and_alteration():
    from npcnn.safeio import dumps_checked

    blob = dumps_checked({"status": "completed", "acc": 0.9871})
    assert loads_checked(blob) == {"status": "completed", "acc": 0.9871}
    with pytest.raises(CorruptFile, match="not valid JSON, probably truncated"):
        loads_checked(blob[: len(blob) // 2], "history.json")
    with pytest.raises(CorruptFile, match="fails its sha256 check"):
        loads_checked(blob.replace(b"0.9871", b"0.9971"), "history.json")
    assert loads_checked(b'{"status": "running"}') == {"status": "running"}  # no digest yet


def test_a_second_lock_holder_waits(tmp_path):
    a, b = FileLock(tmp_path / ".lock"), FileLock(tmp_path / ".lock")
    assert a.acquire()
    assert not b.acquire(blocking=False)  # flock: another open file, another holder
    a.release()
    assert b.acquire(blocking=False)
    b.release()


# -- damaged files restart the run ----------------------------------------------------


def _alter_checkpoint(path):
    """Change one weight and keep the old digest: a valid archive the zip CRCs accept,
    which only the stored sha256 catches."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    key = next(k for k in arrays if k.startswith("model/"))
    arrays[key] = arrays[key] + 1.0
    assert str(arrays["sha256"]) != arrays_digest(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("damage", ["altered", "truncated"])
def test_a_damaged_checkpoint_is_reported_and_the_run_restarts(trained, tmp_path, log,
                                                               caplog, damage):
    cfg, store, first = copy_of(trained, tmp_path)
    path = runs.run_dir(cfg, store) / runs.CHECKPOINT
    if damage == "altered":
        _alter_checkpoint(path)
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptFile):
        _load_checkpoint(path)
    assert runs.to_train([cfg], store) == [cfg]  # a finished history is not enough

    with caplog.at_level(logging.WARNING, logger="npcnn.runs"):
        again = runs.ensure(cfg, store)
    (msg,) = [r.getMessage() for r in caplog.records if r.name == "npcnn.runs"]
    assert "\n" not in msg and cfg.key() in msg and "restarting the run from epoch 1" in msg
    assert ("sha256" if damage == "altered" else "truncated") in msg
    assert [e for e, _ in starts(log)[cfg.key()]] == [0]  # trained again from scratch
    assert strip(again["epochs"]) == strip(first["epochs"])
    assert again["iter_loss"] == first["iter_loss"]
    d = runs.run_dir(cfg, store)
    assert (d / "checkpoint.npz.corrupt").exists()  # set aside, for a look
    assert runs.load_model(cfg, store) is not None


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_damaged_history_is_rebuilt_from_the_checkpoint(trained, tmp_path, log, caplog,
                                                          damage):
    cfg, store, first = copy_of(trained, tmp_path)
    path = runs.run_dir(cfg, store) / runs.HISTORY
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    else:  # still valid JSON: only the checksum tells
        acc = json.dumps(first["final_test_acc"])
        path.write_text(text.replace(f'"final_test_acc": {acc}', '"final_test_acc": 1.0'))
        assert json.loads(path.read_text())["final_test_acc"] == 1.0
    assert runs.read_history(cfg, store) is None and not runs.is_finished(cfg, store)

    with caplog.at_level(logging.WARNING, logger="npcnn.runs"):
        again = runs.ensure(cfg, store)
    (msg,) = [r.getMessage() for r in caplog.records if r.name == "npcnn.runs"]
    assert "\n" not in msg and "history.json" in msg
    assert "rebuilding it from checkpoint.npz (1 epoch)" in msg
    # Nothing retrained: the checkpoint held every epoch, timings included.
    assert [e for e, _ in starts(log)[cfg.key()]] == [1]
    assert again == first


# -- kills and concurrent sweeps ------------------------------------------------------


def _epochs_in_checkpoint(config, root) -> int:
    try:
        return len(_load_checkpoint(runs.run_dir(config, root) / runs.CHECKPOINT)["epochs"])
    except (OSError, ValueError):
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_sweep_killed_midway_loses_nothing_and_retrains_only_the_unfinished(
        cfg, tmp_path, log, sig):
    """SIGKILL: the sweep and its worker die on the spot. SIGINT: what Ctrl-C in a
    terminal sends to the whole process group; the run in progress records how far it
    got ("interrupted") and the queued ones never start."""
    configs = [cfg.replace(epochs=3, lr=lr) for lr in (0.01, 0.02, 0.03)]
    store = tmp_path / "runs"
    proc = launch(configs, store, log, jobs=1)
    # Signal the sweep and its worker once a run is finished and another is halfway.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = [c for c in configs if runs.is_finished(c, store)]
        partial = [c for c in configs if c not in done and _epochs_in_checkpoint(c, store)]
        if done and partial:
            os.killpg(proc.pid, sig)
            break
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, err
    else:  # KeyboardInterrupt, promptly: the queued run is dropped, not run first
        assert proc.returncode == 1 and "KeyboardInterrupt" in err, err
    done = [c for c in configs if runs.is_finished(c, store)]
    kept = {c.key(): (runs.run_dir(c, store) / runs.HISTORY).read_bytes() for c in done}
    at_kill = {c.key(): _epochs_in_checkpoint(c, store) for c in configs if c not in done}
    assert kept and any(at_kill.values())
    before = starts(log)

    results = sweep.run([sweep.Point(str(i), c) for i, c in enumerate(configs)], jobs=1,
                        runs_dir=str(store))
    assert all(r.status in ("completed", "collapsed") and len(r.epochs) == 3
               for r in results)
    after = starts(log)
    for c in configs:
        new = after.get(c.key(), [])[len(before.get(c.key(), [])):]
        if c.key() in kept:  # finished before the kill: untouched, not retrained
            assert new == []
            assert (runs.run_dir(c, store) / runs.HISTORY).read_bytes() == kept[c.key()]
        else:  # retrained once, from the epoch its checkpoint held
            assert [e for e, _ in new] == [at_kill[c.key()]]
        h = runs.read_history(c, store)
        assert [e["epoch"] for e in h["epochs"]] == [1, 2, 3] and len(h["iter_loss"]) == 9
    # No run lost or duplicated, no temp file of a killed write left.
    assert sorted(r["key"] for r in runs.list_runs(store)) == sorted(c.key() for c in configs)
    assert not list(store.glob("*/.*.tmp"))


def test_two_concurrent_sweeps_train_each_point_once(cfg, tmp_path, log):
    configs = [cfg.replace(lr=lr) for lr in (0.01, 0.02, 0.03)]
    store = tmp_path / "runs"
    procs = [launch(configs, store, log, jobs=2) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    statuses = [json.loads(out.splitlines()[-1]) for out, _ in outs]
    assert statuses[0] == statuses[1] and "failed" not in statuses[0]
    # Each point trained by exactly one process; the other waited and read its result.
    assert {k: len(v) for k, v in starts(log).items()} == {c.key(): 1 for c in configs}
