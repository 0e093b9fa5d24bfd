"""The training loop: ``train(config)`` owns the loop and what it records; the model
owns its parameters and gradients.

With an ``out_dir`` the run writes its two files (``npcnn.checkpoint``: the checkpoint,
then the history) atomically after every epoch, so a killed run resumes after its last
finished epoch and a completed one is returned without training.

Every source of randomness is a function of ``config.seed`` (and the epoch number for the
batch order), and the schedules are pure functions of the recorded validation losses, so
a resumed run reproduces an uninterrupted one exactly, without saving any RNG state.
BLAS runs with one thread during the loop (``npcnn.threads``); the batch is split over
``config.threads`` cores instead (0: as many as pay, ``npcnn.batch_split``).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from npcnn import batch_split, checkpoint, threads
from npcnn.checkpoint import CHECKPOINT, EPOCH_KEYS, Checkpoint
from npcnn.config import ConfigError, TrainConfig
from npcnn.data import load, split
from npcnn.losses import get_loss
from npcnn.models import build_network
from npcnn.optim import SGD
from npcnn.schedules import make_lr_schedule, make_momentum_schedule
from npcnn.text import one_line


class RunDirError(Exception):
    """The output directory holds a run of another configuration."""


class CheckpointWarning(UserWarning):
    """A checkpoint or history could not be read; the run starts fresh."""


class TrainingInterrupted(KeyboardInterrupt):
    """KeyboardInterrupt carrying the run's records up to its last finished epoch.

    Still a ``KeyboardInterrupt``, so ``except KeyboardInterrupt`` catches it; ``result``
    lets a caller say how far the run got.
    """

    def __init__(self, result: TrainResult) -> None:
        super().__init__(f"interrupted after epoch {len(result.epochs)}")
        self.result = result


@dataclass
class TrainResult:
    """What a run produced.

    Attributes
    ----------
    config : the run's ``TrainConfig``
    status : ``"completed"``, ``"diverged"`` or ``"interrupted"``
    epochs : one dict per finished epoch with ``EPOCH_KEYS`` (``epoch`` from 1;
        accuracies are fractions in [0, 1]; ``seconds`` is wall time incl. evaluation)
    iter_loss : training loss of every iteration, in order
    model : the trained ``Sequential``
    out_dir : the run directory, or None
    resumed_epochs : epochs taken from a checkpoint rather than trained by this call
        (equal to ``len(epochs)`` when a completed run was returned from its directory)
    """

    config: TrainConfig
    status: str
    epochs: list[dict[str, float]] = field(default_factory=list)
    iter_loss: list[float] = field(default_factory=list)
    model: Any = None
    out_dir: str | None = None
    resumed_epochs: int = 0

    @property
    def final_test_acc(self) -> float | None:
        return self.epochs[-1]["test_acc"] if self.epochs else None

    @property
    def best_test_acc(self) -> float | None:
        return max(e["test_acc"] for e in self.epochs) if self.epochs else None

    def to_history(self) -> dict[str, Any]:
        """The ``history.json`` mapping (JSON-ready: plain lists, floats and strings)."""
        return {
            "config": self.config.to_dict(),
            "status": self.status,
            "final_test_acc": self.final_test_acc,
            "best_test_acc": self.best_test_acc,
            "epochs": [dict(e) for e in self.epochs],
            "iter_loss": list(self.iter_loss),
        }


# -- metrics --------------------------------------------------------------------------


def evaluate(
    model: Any, loss_fn: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``x: (N, C, H, W)``, ``y: (N,)``.

    Runs ``model.forward(x, train=False)`` in batches of ``batch_size`` (nothing is cached
    for backward); the loss is weighted by batch size, so it is the mean over all N.
    """
    n = len(x)
    if n == 0:
        raise ValueError("evaluate needs at least one example")
    total_loss = 0.0
    correct = 0
    for start in range(0, n, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        scores = model.forward(xb, train=False)
        total_loss += loss_fn.forward(scores, yb) * len(yb)
        correct += int(np.count_nonzero(scores.argmax(axis=1) == yb))
    return total_loss / n, correct / n


# -- training -------------------------------------------------------------------------


def train(
    config: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> TrainResult:
    """Train the model ``config`` describes; resume or reuse the run in ``out_dir``.

    Parameters
    ----------
    config
        All hyperparameters.
    out_dir
        Run directory for ``history.json`` and ``checkpoint.npz``. If it holds an
        unfinished run of the same config (``config.key()``), training continues after
        its last checkpointed epoch; a completed one is returned without training.
    progress
        Show a tqdm bar (also off when ``$TQDM_DISABLE`` is set to anything but "0").
    data
        Preloaded ``(x_train (N, C, H, W) float32, y_train (N,) int, x_test, y_test)``;
        default ``npcnn.data.load(config.dataset, config.data_dir)``, checked against the
        dataset's SHA-256. The last ``VAL_SIZE`` training images are the validation set
        (``npcnn.data.split``).

    Returns
    -------
    TrainResult with status "completed" or "diverged" (a non-finite loss stops the run).

    Raises
    ------
    RunDirError
        ``out_dir`` holds a run of another configuration.
    TrainingInterrupted
        On KeyboardInterrupt, after writing ``history.json`` with status "interrupted".
    """
    run_dir = Path(out_dir) if out_dir is not None else None
    # The run directory is checked before loading data: a wrong --out fails at once.
    resumed = _resume(run_dir, config) if run_dir is not None else None
    if resumed is not None and resumed[0].status == "completed":
        return resumed[0]

    if data is None:
        data = load(config.dataset, config.data_dir or None)
    x_train, y_train, x_test, y_test = data
    x_tr, y_tr, x_val, y_val = split(x_train, y_train, subset=config.subset)
    if resumed is None:
        model, opt = fresh(config)
        result = TrainResult(config, "running", model=model)
    else:
        result, opt = resumed
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        result.out_dir = str(run_dir)

    loop = _Loop(config, result.model, opt, get_loss(config.loss), make_lr_schedule(config),
                 make_momentum_schedule(config), (x_tr, y_tr, x_val, y_val, x_test, y_test))
    n_batches = math.ceil(len(x_tr) / config.batch_size)
    loop.bar = _progress_bar(progress, config.epochs * n_batches, len(result.epochs) * n_batches)
    try:
        # Divergence is detected from the loss value; numpy's overflow warnings on the
        # way there are noise.
        with threads.blas_limit(1), np.errstate(over="ignore", invalid="ignore",
                                                divide="ignore"):
            for epoch in range(len(result.epochs) + 1, config.epochs + 1):
                losses: list[float] = []
                record = loop.run_epoch(epoch, [e["val_loss"] for e in result.epochs], losses)
                # Divergence keeps the failed epoch's finite losses: they show the blow-up.
                result.iter_loss.extend(losses)
                if record is None:
                    result.status = "diverged"
                    break
                result.epochs.append(record)
                if not loop.bar.disable:
                    loop.bar.write(_summary_line(record))
                if run_dir is not None:
                    _save_checkpoint(run_dir, result, opt)
                    _write_history(run_dir, result, status="running")
            else:
                result.status = "completed"
    except KeyboardInterrupt as exc:
        result.status = "interrupted"
        # Only finished epochs count: a resumed run redoes the interrupted one.
        result.iter_loss = result.iter_loss[: len(result.epochs) * n_batches]
        if run_dir is not None:
            _write_history(run_dir, result)
        raise TrainingInterrupted(result) from exc
    finally:
        loop.bar.close()
        batch_split.release(result.model)  # no worker process outlives the loop
    if run_dir is not None:
        _write_history(run_dir, result)
    return result


@dataclass
class _Loop:
    """What one epoch needs; ``splits`` = (x_tr, y_tr, x_val, y_val, x_test, y_test)."""

    config: TrainConfig
    model: Any
    opt: Any
    loss_fn: Any
    lr_schedule: Any
    momentum_schedule: Any
    splits: tuple[np.ndarray, ...]
    bar: Any = None

    def run_epoch(
        self, epoch: int, val_losses: list[float], losses: list[float]
    ) -> dict[str, float] | None:
        """Train epoch ``epoch`` (1-based) and evaluate; the record, or None if it diverged.

        ``val_losses`` are the validation losses of epochs 1..epoch-1 (for the lr
        schedule); every batch loss is appended to ``losses``.
        """
        c, opt = self.config, self.opt
        x_tr, y_tr, x_val, y_val, x_test, y_test = self.splits
        t0 = time.perf_counter()
        opt.lr = self.lr_schedule.lr_at(epoch, val_losses)
        opt.momentum = self.momentum_schedule.momentum_at(epoch)
        self.bar.set_description(f"epoch {epoch}/{c.epochs}")
        # A function of (seed, epoch) only: a resumed run sees the same batches.
        order = np.random.default_rng([c.seed, epoch]).permutation(len(x_tr))
        fit = _train_epoch(self.model, self.loss_fn, opt, x_tr, y_tr, order, c.batch_size,
                           losses, self.bar)
        if fit is None:
            return None
        val = evaluate(self.model, self.loss_fn, x_val, y_val, c.eval_batch_size)
        test = evaluate(self.model, self.loss_fn, x_test, y_test, c.eval_batch_size)
        if not all(map(math.isfinite, (*val, *test))):
            return None
        return _record(epoch, opt, fit, val, test, time.perf_counter() - t0)


def fresh(config: TrainConfig) -> tuple[Any, Any]:
    """The model and the SGD optimizer a run starts from: ``config``'s network, built
    once, and split over ``config.threads`` cores where its size pays
    (``npcnn.batch_split``)."""
    model = batch_split.split(build_network(config), config.threads)
    opt = SGD(config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return model, opt


def train_step(model: Any, loss_fn: Any, opt: Any, xb: np.ndarray,
               yb: np.ndarray) -> tuple[float, np.ndarray]:
    """One training step on a batch xb: (B, C, H, W), yb: (B,): forward, loss, and,
    if the loss is finite, backward and the optimizer's update.

    Returns ``(loss, scores)``, scores: (B, K) from before the update; a NaN or infinite
    loss leaves the parameters as they were (the trainer then stops the run as diverged).
    """
    scores = model.forward(xb, train=True)
    loss = loss_fn.forward(scores, yb)
    if math.isfinite(loss):
        model.backward(loss_fn.backward())
        opt.step(model.params, model.grads, model.decay_mask)
    return loss, scores


def _train_epoch(
    model: Any,
    loss_fn: Any,
    opt: Any,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch_size: int,
    losses: list[float],
    bar: Any,
) -> tuple[float, float] | None:
    """One pass over ``x[order]`` in batches; appends each batch loss to ``losses``.

    Returns the epoch's running-average ``(train_loss, train_acc)`` weighted by batch
    size (from each batch's scores before its update; no extra pass), or None as soon as
    a loss is NaN or infinite.
    """
    total_loss = 0.0
    correct = 0
    seen = 0
    for i, start in enumerate(range(0, len(order), batch_size)):
        idx = order[start : start + batch_size]
        xb, yb = x[idx], y[idx]
        loss, scores = train_step(model, loss_fn, opt, xb, yb)
        if not math.isfinite(loss):
            return None
        losses.append(loss)
        total_loss += loss * len(idx)
        correct += int(np.count_nonzero(scores.argmax(axis=1) == yb))
        seen += len(idx)
        bar.update(1)
        # Formatting the postfix every batch costs more than a small batch's math.
        if i % 20 == 0:
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}",
                            lr=f"{opt.lr:.3g}", refresh=False)
    return total_loss / seen, correct / seen


def _record(
    epoch: int,
    opt: Any,
    fit: tuple[float, float],
    val: tuple[float, float],
    test: tuple[float, float],
    seconds: float,
) -> dict[str, float]:
    values = (epoch, opt.lr, opt.momentum, *fit, *val, *test, seconds)
    record = {k: float(v) for k, v in zip(EPOCH_KEYS, values, strict=True)}
    record["epoch"] = int(epoch)
    return record


def _summary_line(r: dict[str, float]) -> str:
    return (
        f"epoch {r['epoch']}: train loss {r['train_loss']:.4f} acc {r['train_acc']:.4f} | "
        f"val loss {r['val_loss']:.4f} acc {r['val_acc']:.4f} | test acc {r['test_acc']:.4f}"
        f" | lr {r['lr']:.3g} | {r['seconds']:.1f} s"
    )


def _progress_bar(progress: bool, total: int, initial: int) -> Any:
    from tqdm import tqdm

    env = os.environ.get("TQDM_DISABLE", "")
    disable = not progress or (env != "" and env != "0")
    return tqdm(total=total, initial=initial, disable=disable, unit="batch", dynamic_ncols=True)


# -- run directory --------------------------------------------------------------------


def _resume(run_dir: Path, config: TrainConfig) -> tuple[TrainResult, Any] | None:
    """The ``(result, optimizer)`` to continue from in ``run_dir``, or None to start fresh.

    The result's model and the optimizer hold the checkpoint's state. A result with status
    "completed" is handed back as is; otherwise training continues after its epochs.
    """
    history = _read_history(run_dir)
    if history is not None:
        _check_same_config(run_dir, history.get("config"), config)
    path = run_dir / CHECKPOINT
    if not path.exists():
        if history is not None and history.get("status") == "completed":
            _warn(f"{run_dir} holds a completed history but no {CHECKPOINT}; training again")
        return None
    try:
        ckpt = checkpoint.load_checkpoint(path)
    except Exception as err:  # any unreadable checkpoint means a fresh start
        _warn(f"ignoring unreadable checkpoint {path} ({one_line(err)}); starting fresh")
        return None
    _check_same_config(run_dir, ckpt.config, config)
    try:
        model, opt = fresh(config)
        model.load_state_dict(ckpt.model)
        opt.load_state_dict(ckpt.optim)
        if len(ckpt.epochs) > config.epochs:
            raise ValueError(f"it records {len(ckpt.epochs)} epochs of {config.epochs}")
    except Exception as err:  # a checkpoint that does not fit the model: start fresh
        _warn(f"ignoring checkpoint {path} that does not fit the model ({one_line(err)}); "
              "starting fresh")
        return None
    done = history is not None and history.get("status") == "completed"
    if done and len(ckpt.epochs) != config.epochs:
        done = False  # the final checkpoint was lost; finish the remaining epochs
    result = TrainResult(
        config, "completed" if done else "running", ckpt.epochs, ckpt.iter_loss, model,
        out_dir=str(run_dir), resumed_epochs=len(ckpt.epochs),
    )
    return result, opt


def _check_same_config(run_dir: Path, stored: Any, config: TrainConfig) -> None:
    try:
        same = TrainConfig.from_dict(stored).key() == config.key()
    except (ConfigError, TypeError):
        same = False  # unparsable or from another version: not this configuration
    if not same:
        raise RunDirError(
            f"{run_dir} holds a run of another configuration; choose another --out "
            "or delete it"
        )


def _read_history(run_dir: Path) -> dict[str, Any] | None:
    """The run's checked history, or None with a warning when it is damaged."""
    if not (run_dir / checkpoint.HISTORY).exists():
        return None
    history = checkpoint.read_history(run_dir)
    if history is None:
        _warn(f"ignoring unreadable {run_dir / checkpoint.HISTORY}")
    return history


def _warn(message: str) -> None:
    warnings.warn(message, CheckpointWarning, stacklevel=3)


def _write_history(run_dir: Path, result: TrainResult, status: str | None = None) -> None:
    h = result.to_history()
    if status is not None:
        h["status"] = status
    checkpoint.write_history(run_dir, h)


def _save_checkpoint(run_dir: Path, result: TrainResult, opt: Any) -> None:
    checkpoint.save_checkpoint(run_dir, Checkpoint(
        config=result.config.to_dict(), epochs=result.epochs, iter_loss=result.iter_loss,
        model=result.model.state_dict(), optim=opt.state_dict()))


__all__ = [
    "train",
    "train_step",
    "fresh",
    "evaluate",
    "TrainResult",
    "RunDirError",
    "CheckpointWarning",
    "TrainingInterrupted",
    "EPOCH_KEYS",
]
