"""The run store: one directory per configuration, ``<root>/<config.key()>/``.

Each directory holds what ``npcnn.train.train`` writes there (``history.json`` and
``checkpoint.npz``, both replaced atomically after every epoch). Because the directory
name is the hash of every field that changes a run's numbers, a configuration that
appears in several sweeps (the baseline appears in all) is trained once; a finished run
is read back, never retrained; a run killed midway resumes from its last epoch.

A run of E epochs is the first E epochs of a longer run of the same configuration:
the weights and batch order depend only on the seed (and the epoch), and the schedules
are pure functions of the recorded validation losses. So a finished longer run also
answers every shorter one (its history truncated to E epochs), and sweeps of 10 or 15
epochs share the headline's 100-epoch runs. Runs that differ only in ``epochs`` form a
*family*; ``<root>/_family/<family key>/<epochs>`` links to each member's directory.

The store root is ``$NPCNN_RUNS`` if set, else ``runs/`` at the repository root (or in
the current directory when the package is not installed from a checkout).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from npcnn.config import TrainConfig

HISTORY = "history.json"  # the names train.py writes
CHECKPOINT = "checkpoint.npz"
# Statuses after which training this configuration again would change nothing.
FINISHED = ("completed", "diverged")


def default_root() -> Path:
    """``$NPCNN_RUNS``, else ``<repo>/runs`` for a source checkout, else ``./runs``."""
    env = os.environ.get("NPCNN_RUNS", "")
    if env:
        return Path(env).resolve()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / "runs"
    return Path.cwd() / "runs"


def root_of(runs_dir: str | os.PathLike | None) -> Path:
    """The store root for a notebook's ``runs_dir`` parameter ("" means the default)."""
    return Path(runs_dir).resolve() if runs_dir else default_root()


def run_dir(config: TrainConfig, root: str | os.PathLike | None = None) -> Path:
    """``<root>/<config.key()>``: where ``config``'s run lives (it may not exist yet)."""
    return root_of(root) / config.key()


def family_key(config: TrainConfig) -> str:
    """Key shared by the configurations that differ from ``config`` only in ``epochs``."""
    return config.replace(epochs=1).key()


def register(config: TrainConfig, root: str | os.PathLike | None = None) -> None:
    """Link ``<root>/_family/<family key>/<epochs>`` to the run's directory."""
    fam = root_of(root) / "_family" / family_key(config)
    fam.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink(Path("..", "..", config.key()), fam / str(config.epochs))


def _read(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def read_history(config: TrainConfig, root: str | os.PathLike | None = None,
                 derive: bool = True) -> dict | None:
    """The run's ``history.json`` as a dict, or None if there is none (or it is unreadable).

    The history's ``status`` is "running" while a run is going (or was killed),
    "completed", "diverged" or "interrupted". With ``derive`` (the default), a run that
    is not finished itself is answered by the shortest finished longer run of its
    family, truncated to ``config.epochs`` (marked with ``"derived_from": <key>``).
    """
    own = _read(run_dir(config, root) / HISTORY)
    if (own is not None and own.get("status") in FINISHED) or not derive:
        return own
    return _derived(config, root) or own


def _derived(config: TrainConfig, root: str | os.PathLike | None) -> dict | None:
    fam = root_of(root) / "_family" / family_key(config)
    longer = sorted(int(p.name) for p in fam.iterdir() if p.name.isdigit()
                    and int(p.name) > config.epochs) if fam.is_dir() else []
    for n in longer:
        h = _read(fam / str(n) / HISTORY)
        if h is None or h.get("status") not in FINISHED:
            continue
        done = len(h.get("epochs", []))
        if h["status"] == "diverged" and done < config.epochs:
            pass  # the shorter run diverges at the same epoch: the history as it is
        elif done >= config.epochs:
            n_train = config.subset or 55_000
            per_epoch = -(-n_train // config.batch_size)  # ceil: batches per epoch
            h["epochs"] = h["epochs"][: config.epochs]
            h["iter_loss"] = h.get("iter_loss", [])[: config.epochs * per_epoch]
            h["status"] = "completed"
            accs = [e["test_acc"] for e in h["epochs"]]
            h["final_test_acc"], h["best_test_acc"] = accs[-1], max(accs)
        else:
            continue
        h["config"] = config.to_dict()
        h["derived_from"] = fam.joinpath(str(n)).resolve().name
        return h
    return None


def status(config: TrainConfig, root: str | os.PathLike | None = None) -> str:
    """"missing", or the history's status ("running", "completed", "diverged", ...)."""
    h = read_history(config, root)
    return "missing" if h is None else str(h.get("status", "missing"))


def is_finished(config: TrainConfig, root: str | os.PathLike | None = None) -> bool:
    """True when the store holds a completed or diverged run of ``config``."""
    return status(config, root) in FINISHED


def epochs_done(config: TrainConfig, root: str | os.PathLike | None = None) -> int:
    """Epochs this run's own directory records so far (0 for a missing run)."""
    h = read_history(config, root, derive=False)
    return len(h.get("epochs", [])) if h else 0


def ensure(config: TrainConfig, root: str | os.PathLike | None = None,
           data: tuple[np.ndarray, ...] | None = None) -> dict:
    """The finished history of ``config``, training (or resuming) it first if needed.

    A finished run is returned without loading data or building a model. Otherwise
    ``train`` writes into ``run_dir(config, root)``, continuing from its checkpoint.

    Returns
    -------
    dict
        The history (keys config, status, final_test_acc, best_test_acc, epochs,
        iter_loss).
    """
    history = read_history(config, root)
    if history is not None and history.get("status") in FINISHED:
        return history
    from npcnn.train import train

    register(config, root)
    train(config, out_dir=run_dir(config, root), progress=False, data=data)
    history = read_history(config, root)
    if history is None:  # train always writes one; this guards a deleted directory
        raise RuntimeError(f"training {config.key()} left no {HISTORY}")
    return history


def to_train(configs: list[TrainConfig],
             root: str | os.PathLike | None = None) -> list[TrainConfig]:
    """The runs to train so that every one of ``configs`` is answered: per family, the
    longest configuration (the shorter ones are its prefixes), unless it is finished."""
    longest: dict[str, TrainConfig] = {}
    for c in configs:
        f = family_key(c)
        if f not in longest or c.epochs > longest[f].epochs:
            longest[f] = c
    return [c for c in longest.values() if not is_finished(c, root)]


def load_model(config: TrainConfig, root: str | os.PathLike | None = None) -> Any:
    """The model of ``config`` with the weights of its last checkpoint.

    Raises
    ------
    FileNotFoundError
        The store has no checkpoint for ``config``.
    """
    from npcnn.models import build_model

    path = run_dir(config, root) / CHECKPOINT
    if not path.exists():
        # A run answered by a longer one has no checkpoint of its own last epoch.
        raise FileNotFoundError(f"no checkpoint for run {config.key()} in {path.parent}")
    model = build_model(config)
    with np.load(path, allow_pickle=False) as z:
        # train.py stores the model's state_dict entries under "model/<name>".
        state = {k[len("model/"):]: z[k] for k in z.files if k.startswith("model/")}
    model.load_state_dict(state)
    return model


def list_runs(root: str | os.PathLike | None = None) -> list[dict]:
    """One row per run directory: key, status, epochs done, final test acc, config."""
    rows = []
    base = root_of(root)
    for d in sorted(base.iterdir()) if base.is_dir() else []:
        if d.name.startswith("_"):
            continue
        try:
            h = json.loads((d / HISTORY).read_text())
        except (OSError, ValueError):
            continue
        rows.append({
            "key": d.name,
            "status": h.get("status"),
            "epochs": len(h.get("epochs", [])),
            "final_test_acc": h.get("final_test_acc"),
            "config": h.get("config", {}),
        })
    return rows


__all__ = [
    "default_root",
    "root_of",
    "run_dir",
    "read_history",
    "status",
    "is_finished",
    "epochs_done",
    "ensure",
    "family_key",
    "register",
    "to_train",
    "load_model",
    "list_runs",
    "FINISHED",
]
