"""The files of one run, and the only module that knows their names and format.

A run directory holds two files, each replaced atomically and carrying a sha256 of its
content (``npcnn.safeio``), so a truncated or altered file is detected, never half read:

* ``history.json``: what reports read. ``config``, ``status`` ("running" while the run
  goes, then "completed", "diverged" or "interrupted"), ``final_test_acc``,
  ``best_test_acc``, ``epochs`` (one record per finished epoch, keys ``EPOCH_KEYS``) and
  ``iter_loss`` (the training loss of every iteration).
* ``checkpoint.npz``: what a resumed run needs. The model's flat parameter vector
  (``model/params``), the optimizer state (arrays as ``optim/<name>``, the rest as JSON
  in ``optim``), the number of finished epochs, the config, the epoch records and the
  per-iteration losses.

The checkpoint is always written before the history, so a history is never ahead of its
checkpoint.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from npcnn.safeio import (
    DIGEST_KEY,
    CorruptFile,
    arrays_digest,
    atomic_write,
    dumps_checked,
    json_safe,
    loads_checked,
)
from npcnn.text import one_line

HISTORY = "history.json"
CHECKPOINT = "checkpoint.npz"
RUN_FILES = (CHECKPOINT, HISTORY)  # in the order they are written

# Keys of one per-epoch record, in the order they are written.
EPOCH_KEYS = (
    "epoch", "lr", "momentum", "train_loss", "train_acc",
    "val_loss", "val_acc", "test_loss", "test_acc", "seconds",
)


@dataclass
class Checkpoint:
    """What ``checkpoint.npz`` holds.

    Attributes
    ----------
    config : the run's config as a dict (``TrainConfig.to_dict``)
    epochs : the records of the finished epochs (``EPOCH_KEYS``)
    iter_loss : the training loss of every iteration of those epochs
    model : ``{"params": (P,) array}``, a model's ``state_dict``
    optim : the optimizer's ``state_dict`` (arrays and plain values)
    """

    config: dict[str, Any]
    epochs: list[dict[str, float]]
    iter_loss: list[float]
    model: dict[str, np.ndarray]
    optim: dict[str, Any]


# -- history.json ---------------------------------------------------------------------


def write_history(run_dir: str | Path, history: dict[str, Any]) -> None:
    """Replace ``run_dir/history.json`` by ``history`` with its checksum; non-finite
    floats become null (strict JSON has no NaN)."""
    atomic_write(Path(run_dir) / HISTORY, dumps_checked(json_safe(history)))


def read_history(run_dir: str | Path, check: bool = True) -> dict[str, Any] | None:
    """``run_dir/history.json`` without its checksum key; None when it is missing or
    damaged. ``check=False`` skips the checksum (for progress counts read often)."""
    path = Path(run_dir) / HISTORY
    try:
        blob = path.read_bytes()
        if check:
            return loads_checked(blob, HISTORY)
        d = json.loads(blob)
        return d if isinstance(d, dict) else None
    except (OSError, ValueError):
        return None


def check_history(blob: bytes) -> dict[str, Any]:
    """The history in ``blob`` (a file's bytes); ``CorruptFile`` if it is damaged."""
    return loads_checked(blob, HISTORY)


# -- checkpoint.npz -------------------------------------------------------------------


def save_checkpoint(run_dir: str | Path, ckpt: Checkpoint) -> None:
    """Replace ``run_dir/checkpoint.npz`` by ``ckpt`` with its checksum."""
    arrays: dict[str, np.ndarray] = {
        "epoch": np.asarray(len(ckpt.epochs)),
        "config": np.asarray(json.dumps(ckpt.config)),
        "epochs": np.asarray(json.dumps(ckpt.epochs)),
        "iter_loss": np.asarray(ckpt.iter_loss, dtype=np.float64),
    }
    for name, value in ckpt.model.items():
        arrays[f"model/{name}"] = np.asarray(value)
    plain = {}
    for name, value in ckpt.optim.items():
        if isinstance(value, np.ndarray):
            arrays[f"optim/{name}"] = value
        else:
            plain[name] = value
    arrays["optim"] = np.asarray(json.dumps(plain))
    arrays[DIGEST_KEY] = np.asarray(arrays_digest(arrays))
    atomic_write(Path(run_dir) / CHECKPOINT, lambda f: np.savez(f, **arrays))


def load_checkpoint(source: str | Path | bytes) -> Checkpoint:
    """The checkpoint in a run directory, a file, or a file's bytes.

    Raises
    ------
    FileNotFoundError
        There is none.
    CorruptFile
        Not a .npz archive (e.g. truncated), its arrays fail the stored sha256, or it
        lacks what a checkpoint holds.
    """
    if isinstance(source, (bytes, bytearray)):
        f: Any = io.BytesIO(source)
    else:
        f = Path(source)
        f = f / CHECKPOINT if f.is_dir() else f
        if not f.exists():
            raise FileNotFoundError(f"no {CHECKPOINT} in {f.parent}")
    # np.load would take a non-zip file for a pickle and complain about allow_pickle.
    if not zipfile.is_zipfile(f):
        raise CorruptFile(f"{CHECKPOINT} is not a .npz archive, probably truncated")
    try:
        with np.load(f, allow_pickle=False) as npz:
            z = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise CorruptFile(f"{CHECKPOINT} could not be read ({one_line(err)})") from None
    # Checkpoints written before checksums existed have none: nothing to compare.
    if DIGEST_KEY in z and str(z[DIGEST_KEY]) != arrays_digest(z):
        raise CorruptFile(f"{CHECKPOINT} fails its sha256 check (its content was altered)")
    try:
        optim = json.loads(str(z["optim"]))
        optim.update({k[len("optim/"):]: v for k, v in z.items() if k.startswith("optim/")})
        ckpt = Checkpoint(
            config=json.loads(str(z["config"])),
            epochs=json.loads(str(z["epochs"])),
            iter_loss=[float(v) for v in z["iter_loss"]],
            model={k[len("model/"):]: v for k, v in z.items() if k.startswith("model/")},
            optim=optim,
        )
        if len(ckpt.epochs) != int(z["epoch"]):
            raise ValueError(f"it records {len(ckpt.epochs)} epochs but says {int(z['epoch'])}")
    except (KeyError, TypeError, ValueError) as err:
        raise CorruptFile(f"{CHECKPOINT} is malformed ({one_line(err)})") from None
    return ckpt


def checkpoint_epochs(source: str | Path | bytes) -> int:
    """Epochs in an intact checkpoint (0 when there is none); ``CorruptFile`` if damaged."""
    try:
        return len(load_checkpoint(source).epochs)
    except FileNotFoundError:
        return 0


__all__ = ["HISTORY", "CHECKPOINT", "RUN_FILES", "EPOCH_KEYS", "Checkpoint",
           "write_history", "read_history", "check_history", "save_checkpoint",
           "load_checkpoint", "checkpoint_epochs"]
