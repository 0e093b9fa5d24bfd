"""The run files: what a checkpoint and a history hold, read back exactly, and damage
detected in one line."""

from __future__ import annotations

import numpy as np
import pytest

from npcnn import checkpoint
from npcnn.checkpoint import CHECKPOINT, HISTORY, Checkpoint
from npcnn.safeio import CorruptFile


def ckpt() -> Checkpoint:
    return Checkpoint(config={"lr": 0.01}, epochs=[{"epoch": 1, "test_acc": 0.9}],
                      iter_loss=[2.3, 1.1], model={"params": np.arange(5, dtype=np.float32)},
                      optim={"lr": 0.01, "velocity": np.ones(5, np.float32), "step": None})


def test_a_checkpoint_round_trips(tmp_path):
    checkpoint.save_checkpoint(tmp_path, ckpt())
    back = checkpoint.load_checkpoint(tmp_path)
    assert back.config == {"lr": 0.01} and back.epochs == [{"epoch": 1, "test_acc": 0.9}]
    assert back.iter_loss == [2.3, 1.1] and back.optim["step"] is None
    np.testing.assert_array_equal(back.model["params"], np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(back.optim["velocity"], np.ones(5, np.float32))
    blob = (tmp_path / CHECKPOINT).read_bytes()
    assert checkpoint.checkpoint_epochs(blob) == 1  # from bytes, as a Dask worker sends it
    assert checkpoint.checkpoint_epochs(tmp_path / "none") == 0


def test_damage_is_one_line(tmp_path):
    checkpoint.save_checkpoint(tmp_path, ckpt())
    path = tmp_path / CHECKPOINT
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptFile, match="not a .npz archive") as e:
        checkpoint.load_checkpoint(path)
    assert "\n" not in str(e.value)


def test_a_history_keeps_strict_json(tmp_path):
    checkpoint.write_history(tmp_path, {"status": "diverged", "loss": float("nan")})
    assert checkpoint.read_history(tmp_path) == {"status": "diverged", "loss": None}
    text = (tmp_path / HISTORY).read_text()
    (tmp_path / HISTORY).write_text(text.replace("diverged", "completed"))
    assert checkpoint.read_history(tmp_path) is None  # the checksum caught it
    with pytest.raises(CorruptFile, match="sha256"):
        checkpoint.check_history((tmp_path / HISTORY).read_bytes())
