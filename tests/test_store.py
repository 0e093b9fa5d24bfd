"""The run store: one directory per configuration, reused, never retrained, resumable,
and a longer run answering its shorter prefixes. Trains on the synthetic ``tiny_mnist``
(300 training images, 200 test images), one or two epochs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY, strip
from filelock import FileLock, Timeout

import npcnn.trainer
from npcnn import store as runs
from npcnn.checkpoint import HISTORY
from npcnn.config import TrainConfig


@pytest.fixture
def cfg(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=2, subset=300, dataset=TINY, data_dir=str(tiny_mnist))


def test_run_dir_is_the_config_key(tmp_path, cfg):
    assert runs.run_dir(cfg, tmp_path) == tmp_path / cfg.key()
    assert runs.run_history(cfg, tmp_path) is None
    assert not runs.is_answered(cfg, tmp_path)


def test_default_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NPCNN_RUNS", str(tmp_path / "store"))
    assert runs.root_of() == tmp_path / "store"
    assert runs.root_of("") == tmp_path / "store"
    assert runs.root_of(tmp_path / "x") == tmp_path / "x"


def test_ensure_trains_once_then_reads_back(tmp_path, cfg, monkeypatch):
    h = runs.ensure(cfg, tmp_path)
    assert h["status"] == "completed" and len(h["epochs"]) == 2
    assert runs.is_answered(cfg, tmp_path)
    mtime = (runs.run_dir(cfg, tmp_path) / HISTORY).stat().st_mtime_ns

    def no_training(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(npcnn.trainer, "train", no_training)
    assert runs.ensure(cfg, tmp_path)["epochs"] == h["epochs"]
    assert (runs.run_dir(cfg, tmp_path) / HISTORY).stat().st_mtime_ns == mtime
    assert [d.name for d in tmp_path.iterdir() if not d.name.startswith("_")] == [cfg.key()]


def test_load_model_has_the_checkpoint_weights(tmp_path, cfg):
    from npcnn.trainer import train

    result = train(cfg, out_dir=runs.run_dir(cfg, tmp_path), progress=False)
    model = runs.load_model(cfg, tmp_path)
    np.testing.assert_array_equal(model.params, result.model.params)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        runs.load_model(cfg.replace(seed=1), tmp_path)


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path, cfg):
    h = runs.ensure(cfg, tmp_path)
    # A run killed mid-way leaves its last history with status "running".
    path = runs.run_dir(cfg, tmp_path) / HISTORY
    path.write_text(json.dumps({**h, "status": "running"}))
    assert not runs.is_answered(cfg, tmp_path)
    again = runs.ensure(cfg, tmp_path)
    assert again["status"] == "completed"
    # Resumed from the checkpoint: the recorded epochs (timings included) are kept.
    assert again["epochs"] == h["epochs"]


def test_a_longer_run_answers_its_prefix(tmp_path, cfg):
    from npcnn.trainer import train

    long = cfg.replace(epochs=3)
    runs.ensure(long, tmp_path)
    assert runs.to_train([cfg, long], tmp_path) == []
    assert runs.to_train([cfg, long], tmp_path / "empty") == [long]
    h = runs.run_history(cfg, tmp_path)
    assert h["status"] == "completed" and h["derived_from"] == long.key()
    assert runs.run_history(cfg, tmp_path, derive=False) is None
    direct = train(cfg, progress=False)
    assert strip(h["epochs"]) == strip(direct.epochs)
    assert h["iter_loss"] == direct.iter_loss
    assert h["config"] == cfg.to_dict()


def test_a_second_lock_holder_waits(tmp_path, cfg):
    """The run lock is a ``filelock.FileLock``: another holder, in this process or
    another, waits until the first releases it."""
    first = runs.run_lock(cfg, tmp_path)
    with first:
        with pytest.raises(Timeout):
            FileLock(runs.run_dir(cfg, tmp_path) / ".lock").acquire(timeout=0.05)
    with FileLock(runs.run_dir(cfg, tmp_path) / ".lock", timeout=0.05):
        pass
