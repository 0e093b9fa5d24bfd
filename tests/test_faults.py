"""The run store under faults, injected from outside: damaged files are detected by
their checksums and the run restarts cleanly; a sweep killed midway (SIGKILL, or SIGINT
as Ctrl-C sends it) loses nothing on rerun and retrains only what was unfinished; two
sweeps over the same points train each point once.

Tiny runs on the synthetic ``tiny_mnist`` (300 training images, about 0.1 s an epoch).
Training starts are counted from the ``npcnn.store`` logger's INFO lines: in this process
with ``caplog``, in sweeps started as subprocesses through ``tests/inject/sitecustomize.py``.
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
from conftest import INJECT, TINY, starts, strip

from npcnn import datasets
from npcnn import store as runs
from npcnn.checkpoint import CHECKPOINT, HISTORY, checkpoint_epochs, load_checkpoint
from npcnn.config import TrainConfig
from npcnn.safeio import CorruptFile, arrays_digest, atomic_write, loads_checked

# A sweep in a fresh interpreter: configs as JSON, the store, the worker processes.
SWEEP = """
import json, sys
from npcnn import datasets, sweep
from npcnn.config import TrainConfig
datasets.ensure(json.loads(sys.argv[4]))  # the test's synthetic dataset
configs = [TrainConfig.from_dict(d) for d in json.loads(sys.argv[1])]
points = [sweep.Point(str(i), c) for i, c in enumerate(configs)]
results = sweep.run(points, jobs=int(sys.argv[3]), runs_dir=sys.argv[2])
print(json.dumps([r.runs[0].status for r in results]))
"""


def logged(log):
    return starts(log.read_text().splitlines() if log.exists() else [])


def launch(configs, store, log, jobs):
    """A sweep in a subprocess whose every process logs its training starts to ``log``."""
    path = os.pathsep.join([str(INJECT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, NPCNN_TEST_TRAIN_LOG=str(log), TQDM_DISABLE="1", PYTHONPATH=path)
    spec = datasets.get(configs[0].dataset).to_dict()
    # start_new_session: its own process group, killable with its workers.
    return subprocess.Popen(
        [sys.executable, "-c", SWEEP, json.dumps([c.to_dict() for c in configs]), str(store),
         str(jobs), json.dumps(spec)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture
def cfg(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=2, subset=300, dataset=TINY, data_dir=str(tiny_mnist))


@pytest.fixture(scope="module")
def trained(tiny_mnist, tmp_path_factory):
    """A store holding one finished 1-epoch run, trained once for the module; tests
    damage copies of it."""
    config = TrainConfig(epochs=1, subset=300, dataset=TINY, data_dir=str(tiny_mnist))
    store = tmp_path_factory.mktemp("trained")
    return config, store, runs.ensure(config, store)


def copy_of(trained, tmp_path):
    config, store, history = trained
    shutil.copytree(store, tmp_path / "runs", symlinks=True)
    return config, tmp_path / "runs", history


@pytest.fixture
def log(tmp_path):
    return tmp_path / "starts.log"


def in_process_starts(caplog):
    return starts([r.getMessage() for r in caplog.records if r.name == "npcnn.store"])


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
def test_a_damaged_checkpoint_is_reported_and_the_run_restarts(trained, tmp_path,
                                                               caplog, damage):
    cfg, store, first = copy_of(trained, tmp_path)
    path = runs.run_dir(cfg, store) / CHECKPOINT
    if damage == "altered":
        _alter_checkpoint(path)
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptFile):
        load_checkpoint(path)
    assert runs.to_train([cfg], store) == [cfg]  # a finished history is not enough

    with caplog.at_level(logging.INFO, logger="npcnn.store"):
        again = runs.ensure(cfg, store)
    (msg,) = [r.getMessage() for r in caplog.records
              if r.name == "npcnn.store" and r.levelno == logging.WARNING]
    assert "\n" not in msg and cfg.key() in msg and "restarting the run from epoch 1" in msg
    assert ("sha256" if damage == "altered" else "truncated") in msg
    assert [e for e, _ in in_process_starts(caplog)[cfg.key()]] == [0]  # from scratch
    assert strip(again["epochs"]) == strip(first["epochs"])
    assert again["iter_loss"] == first["iter_loss"]
    d = runs.run_dir(cfg, store)
    assert (d / "checkpoint.npz.corrupt").exists()  # set aside, for a look
    assert runs.load_model(cfg, store) is not None


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_damaged_history_is_rebuilt_from_the_checkpoint(trained, tmp_path, caplog,
                                                          damage):
    cfg, store, first = copy_of(trained, tmp_path)
    path = runs.run_dir(cfg, store) / HISTORY
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    else:  # still valid JSON: only the checksum tells
        acc = json.dumps(first["final_test_acc"])
        path.write_text(text.replace(f'"final_test_acc": {acc}', '"final_test_acc": 1.0'))
        assert json.loads(path.read_text())["final_test_acc"] == 1.0
    assert runs.run_history(cfg, store) is None and not runs.is_answered(cfg, store)

    with caplog.at_level(logging.INFO, logger="npcnn.store"):
        again = runs.ensure(cfg, store)
    (msg,) = [r.getMessage() for r in caplog.records
              if r.name == "npcnn.store" and r.levelno == logging.WARNING]
    assert "\n" not in msg and "history.json" in msg
    assert "rebuilding it from checkpoint.npz (1 epoch)" in msg
    # Nothing retrained: the checkpoint held every epoch, timings included.
    assert [e for e, _ in in_process_starts(caplog)[cfg.key()]] == [1]
    assert again == first


# -- kills and concurrent sweeps ------------------------------------------------------


def _epochs_in_checkpoint(config, root) -> int:
    try:
        return checkpoint_epochs(runs.run_dir(config, root))
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
        done = [c for c in configs if runs.is_answered(c, store)]
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
    done = [c for c in configs if runs.is_answered(c, store)]
    kept = {c.key(): (runs.run_dir(c, store) / HISTORY).read_bytes() for c in done}
    at_kill = {c.key(): _epochs_in_checkpoint(c, store) for c in configs if c not in done}
    assert kept and any(at_kill.values())
    before = logged(log)
    records = {k: load_checkpoint(runs.run_dir(c, store)).epochs if at_kill[k] else []
               for c in configs if (k := c.key()) in at_kill}

    # The rerun, logged the same way: its worker processes run the injected start-up.
    proc = launch(configs, store, log, jobs=1)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert all(s in ("completed", "collapsed") for s in json.loads(out.splitlines()[-1]))
    after = logged(log)
    for c in configs:
        new = after.get(c.key(), [])[len(before.get(c.key(), [])):]
        if c.key() in kept:  # finished before the kill: untouched, not retrained
            assert new == []
            assert (runs.run_dir(c, store) / HISTORY).read_bytes() == kept[c.key()]
        else:  # retrained once, from the epoch its checkpoint held, its records kept
            assert [e for e, _ in new] == [at_kill[c.key()]]
            h = runs.run_history(c, store)
            assert h["epochs"][:at_kill[c.key()]] == records[c.key()]
        h = runs.run_history(c, store)
        assert [e["epoch"] for e in h["epochs"]] == [1, 2, 3] and len(h["iter_loss"]) == 9
    # No run lost or duplicated, no temp file of a killed write left.
    keys = sorted(d.name for d in store.iterdir() if not d.name.startswith("_"))
    assert keys == sorted(c.key() for c in configs)
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
    assert {k: len(v) for k, v in logged(log).items()} == {c.key(): 1 for c in configs}
