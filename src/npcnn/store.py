"""The run store: one directory per configuration, ``<root>/<config.key()>/``.

Each directory holds a run's two files (``npcnn.checkpoint``), replaced atomically after
every epoch. Because the directory name is the hash of every field that changes a run's
numbers, a configuration that appears in several studies (the baseline appears in all)
is trained once; a finished run is read back, never retrained; a run killed midway
resumes from its last epoch.

A run of E epochs is the first E epochs of a longer run of the same configuration: the
weights and batch order depend only on the seed (and the epoch), and the schedules are
pure functions of the recorded validation losses. So a finished longer run also answers
every shorter one (its history truncated to E epochs). Runs that differ only in
``epochs`` form a *family*; ``<root>/_family/<family key>/<epochs>`` links to each
member's directory.

The root is ``npcnn.paths.runs_root()`` unless given: ``$NPCNN_RUNS``, else the
checkout's ``runs/``, else a per-user cache directory.

Faults. A history or checkpoint that is truncated or altered is reported in one line
(logger ``npcnn.store``), renamed to ``<name>.corrupt`` and not used: a damaged
checkpoint restarts its run from epoch 1, a damaged history beside an intact checkpoint
is rebuilt from it without training. A process trains a run only while it holds the
run's lock (``<key>/.lock``, a ``filelock.FileLock``; the operating system drops it when
its holder dies, SIGKILL included); another process asked for the same run waits for it
and then reads the finished result. Killing a sweep at any moment loses at most the
epoch in progress of each running run. Every start of training is logged (INFO, with
the epoch it starts after).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from npcnn import checkpoint, paths
from npcnn.checkpoint import CHECKPOINT, HISTORY
from npcnn.config import TrainConfig
from npcnn.data import train_images
from npcnn.models import build_network
from npcnn.safeio import CorruptFile, atomic_write, remove_temp_files

# Statuses after which training this configuration again would change nothing.
FINISHED = ("completed", "diverged")
QUARANTINE = ".corrupt"  # suffix of a damaged file set aside
LOCK = ".lock"  # the per-run lock file inside a run directory
log = logging.getLogger("npcnn.store")

Root = str | os.PathLike | None


def root_of(root: Root = None) -> Path:
    """The store root: ``root`` if given (a notebook's ``runs_dir``; "" means the
    default), else ``npcnn.paths.runs_root()``."""
    return Path(root).resolve() if root else paths.runs_root()


def run_dir(config: TrainConfig, root: Root = None) -> Path:
    """``<root>/<config.key()>``: where ``config``'s run lives (it may not exist yet)."""
    return root_of(root) / config.key()


def run_lock(config: TrainConfig, root: Root = None) -> FileLock:
    """The lock a process holds while it trains ``config`` (or waits for its files from
    a Dask worker). A second ``FileLock`` on the same run, in this process or another,
    waits for the first."""
    d = run_dir(config, root)
    d.mkdir(parents=True, exist_ok=True)
    return FileLock(d / LOCK)


def family_key(config: TrainConfig) -> str:
    """Key shared by the configurations that differ from ``config`` only in ``epochs``."""
    return config.replace(epochs=1).key()


def register(config: TrainConfig, root: Root = None) -> None:
    """Link ``<root>/_family/<family key>/<epochs>`` to the run's directory."""
    fam = root_of(root) / "_family" / family_key(config)
    fam.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.symlink(Path("..", "..", config.key()), fam / str(config.epochs))


# -- reading --------------------------------------------------------------------------


def run_history(config: TrainConfig, root: Root = None, derive: bool = True) -> dict | None:
    """The store's answer for ``config``: the run's history as a dict, or None if there
    is none (or it is damaged).

    The history's ``status`` is "running" while a run is going (or was killed),
    "completed", "diverged" or "interrupted". With ``derive`` (the default), a run that
    is not finished itself is answered by the shortest finished longer run of its
    family, truncated to ``config.epochs`` (marked with ``"derived_from": <key>``).
    """
    own = checkpoint.read_history(run_dir(config, root))
    if (own is not None and own.get("status") in FINISHED) or not derive:
        return own
    return _derived(config, root) or own


def _derived(config: TrainConfig, root: Root) -> dict | None:
    fam = root_of(root) / "_family" / family_key(config)
    longer = sorted(int(p.name) for p in fam.iterdir() if p.name.isdigit()
                    and int(p.name) > config.epochs) if fam.is_dir() else []
    for n in longer:
        h = checkpoint.read_history(fam / str(n))
        if h is None or h.get("status") not in FINISHED:
            continue
        done = len(h.get("epochs", []))
        if h["status"] == "diverged" and done < config.epochs:
            pass  # the shorter run diverges at the same epoch: the history as it is
        elif done >= config.epochs:
            images = train_images(config.subset, config.dataset)
            per_epoch = -(-images // config.batch_size)  # batches
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


def epochs_done(config: TrainConfig, root: Root = None) -> int:
    """Epochs this run's own directory records so far (0 for a missing run); a progress
    count, read without checking the history's checksum."""
    h = checkpoint.read_history(run_dir(config, root), check=False)
    return len(h.get("epochs", [])) if h else 0


def is_answered(config: TrainConfig, root: Root = None) -> bool:
    """True when the store answers ``config`` without training: its history is finished
    (its own, or a longer run's of its family) and its own checkpoint, if it has one,
    passes its checksum. A finished history beside a damaged checkpoint is not an
    answer: the run is trained again (the checkpoint holds its weights)."""
    history = run_history(config, root)
    if history is None or history.get("status") not in FINISHED:
        return False
    if "derived_from" in history:
        return True
    return _checkpoint_state(run_dir(config, root))[1] is None


def runs_of(configs: list[TrainConfig]) -> list[TrainConfig]:
    """The runs that answer ``configs``: per family, the longest configuration (the
    shorter ones are its prefixes)."""
    longest: dict[str, TrainConfig] = {}
    for c in configs:
        f = family_key(c)
        if f not in longest or c.epochs > longest[f].epochs:
            longest[f] = c
    return list(longest.values())


def to_train(configs: list[TrainConfig], root: Root = None) -> list[TrainConfig]:
    """The runs to train so that every one of ``configs`` is answered (``runs_of``),
    less those the store has answered."""
    return [c for c in runs_of(configs) if not is_answered(c, root)]


def core_seconds(configs: list[TrainConfig], root: Root = None) -> float:
    """The training's cost of stored runs in one core's time: their epochs' own seconds
    summed, whoever trained them, on however many cores."""
    return sum(e.get("seconds") or 0.0 for c in configs
               for e in (run_history(c, root) or {}).get("epochs", []))


def load_model(config: TrainConfig, root: Root = None) -> Any:
    """The model of ``config`` with the weights of its last checkpoint.

    Raises
    ------
    FileNotFoundError
        The store has no checkpoint for ``config`` (a run answered by a longer one has
        no checkpoint of its own last epoch).
    CorruptFile
        The checkpoint fails its checksum (``ensure`` retrains such a run).
    """
    try:
        ckpt = checkpoint.load_checkpoint(run_dir(config, root) / CHECKPOINT)
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint for run {config.key()} in "
                                f"{run_dir(config, root)}") from None
    except CorruptFile as err:
        raise CorruptFile(f"run {config.key()}: {err}; rerun its sweep to retrain it") \
            from None
    model = build_network(config)
    model.load_state_dict(ckpt.model)
    return model


# -- training -------------------------------------------------------------------------


def ensure(config: TrainConfig, root: Root = None,
           data: tuple[np.ndarray, ...] | None = None) -> dict:
    """The finished history of ``config``, training (or resuming) it first if needed.

    A finished run is returned without loading data or building a model. Otherwise,
    holding the run's lock (waiting while another process holds it, then reusing its
    result if it finished the run), ``repair`` sets damaged files aside and
    ``npcnn.trainer.train`` writes into ``run_dir(config, root)``, continuing from its
    checkpoint.

    Returns
    -------
    dict
        The history (keys config, status, final_test_acc, best_test_acc, epochs,
        iter_loss).
    """
    if is_answered(config, root):
        return run_history(config, root)
    from npcnn.trainer import train

    register(config, root)
    directory = run_dir(config, root)
    with run_lock(config, root):
        if is_answered(config, root):  # trained by the process we waited for
            return run_history(config, root)
        start = repair(config, root)
        log.info(f"training run {config.key()} after epoch {start} (pid {os.getpid()})")
        train(config, out_dir=directory, progress=False, data=data)
    history = run_history(config, root)
    if history is None:  # train always writes one; this guards a deleted directory
        raise RuntimeError(f"training {config.key()} left no {HISTORY}")
    return history


def repair(config: TrainConfig, root: Root = None) -> int:
    """Check the run's own files before training it; call with the run's lock held.

    Deletes temp files of killed writes. A damaged checkpoint is renamed to
    ``checkpoint.npz.corrupt`` together with the history (the run restarts from epoch
    1); a damaged history beside an intact checkpoint is renamed to
    ``history.json.corrupt`` (training rebuilds it from the checkpoint). Each case is
    reported in one line on the ``npcnn.store`` logger.

    Returns
    -------
    int
        Epochs in the run's intact checkpoint: where its training resumes (0 if none).
    """
    d = run_dir(config, root)
    if not d.is_dir():
        return 0
    remove_temp_files(d)
    epochs, problem = _checkpoint_state(d)
    if problem:
        _quarantine(d / CHECKPOINT)
        _quarantine(d / HISTORY)
        log.warning(f"run {config.key()}: {problem}; restarting the run from epoch 1")
        return 0
    path = d / HISTORY
    try:
        if path.exists():
            checkpoint.check_history(path.read_bytes())
    except (OSError, ValueError) as err:
        _quarantine(path)
        if epochs:
            then = f"rebuilding it from {CHECKPOINT} ({epochs} epoch{'s' * (epochs > 1)})"
        else:
            then = "restarting the run from epoch 1"
        log.warning(f"run {config.key()}: {err}; {then}")
    return epochs


def _checkpoint_state(d: Path) -> tuple[int, str | None]:
    """(epochs in ``d/checkpoint.npz``, None), or (0, what is wrong with it); (0, None)
    when there is none."""
    try:
        return checkpoint.checkpoint_epochs(d), None
    except CorruptFile as err:
        return 0, str(err)


def _quarantine(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, path.with_name(path.name + QUARANTINE))


# -- moving runs between machines -----------------------------------------------------


def read_files(config: TrainConfig, root: Root = None) -> dict[str, bytes]:
    """The run's intact files as bytes, by name (damaged or missing ones left out): what
    a run sent to another machine resumes from."""
    return files_in(run_dir(config, root))


def files_in(directory: Path) -> dict[str, bytes]:
    """The intact run files in ``directory`` as bytes, by name.

    The history is read first: training writes the checkpoint first, so even while a run
    goes on (a Dask worker publishing its files) the checkpoint read is at least as new as
    the history read."""
    files = {}
    with contextlib.suppress(OSError, ValueError):
        blob = (directory / HISTORY).read_bytes()
        checkpoint.check_history(blob)
        files[HISTORY] = blob
    with contextlib.suppress(OSError, ValueError):
        blob = (directory / CHECKPOINT).read_bytes()
        checkpoint.load_checkpoint(blob)
        files[CHECKPOINT] = blob
    return files


def write_files(config: TrainConfig, files: dict[str, bytes], root: Root = None) -> int:
    """Store a run's files that arrived as bytes (from a Dask worker); returns the
    epochs of the checkpoint (0 without one).

    Both are checked first, then written atomically, the checkpoint before the history
    (the order training keeps), so the store never holds a history ahead of its
    checkpoint. Call with the run's lock held.

    Raises
    ------
    CorruptFile
        A file failed its checksum on the way; nothing was written.
    """
    epochs = checkpoint.checkpoint_epochs(files[CHECKPOINT]) if CHECKPOINT in files else 0
    if HISTORY in files:
        checkpoint.check_history(files[HISTORY])
    d = run_dir(config, root)
    d.mkdir(parents=True, exist_ok=True)
    for name in checkpoint.RUN_FILES:
        if name in files:
            atomic_write(d / name, files[name])
    return epochs


__all__ = [
    "FINISHED", "root_of", "run_dir", "run_lock", "family_key", "register",
    "run_history", "epochs_done", "is_answered", "runs_of", "to_train", "core_seconds",
    "load_model", "ensure", "repair", "read_files", "files_in",
    "write_files",
]
