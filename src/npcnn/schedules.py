"""Learning-rate and momentum schedules: pure functions of the epoch and the loss history.

An lr schedule answers ``lr_at(epoch, val_losses)``: the learning rate for ``epoch``
(1-based) given ``val_losses``, the validation losses of epochs ``1 .. epoch-1``. Nothing
is remembered between calls, so resuming from a saved loss history gives exactly the
learning rate an uninterrupted run would have used. A momentum schedule answers
``momentum_at(epoch)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from npcnn.config import TrainConfig


def _check_epoch(epoch: int) -> None:
    if epoch < 1:
        raise ValueError(f"epoch is 1-based, got {epoch}")


@dataclass(frozen=True)
class ConstantLR:
    """``lr(epoch) = lr0``."""

    lr0: float

    def lr_at(self, epoch: int, val_losses: Sequence[float] = ()) -> float:
        _check_epoch(epoch)
        return self.lr0

    def describe(self) -> str:
        return f"The learning rate stays at {self.lr0:g}."


@dataclass(frozen=True)
class StepLR:
    """``lr(epoch) = lr0 * gamma ** floor((epoch - 1) / step_size)``."""

    lr0: float
    step_size: int
    gamma: float

    def lr_at(self, epoch: int, val_losses: Sequence[float] = ()) -> float:
        _check_epoch(epoch)
        return self.lr0 * self.gamma ** ((epoch - 1) // self.step_size)

    def describe(self) -> str:
        return (f"The learning rate starts at {self.lr0:g} and is multiplied by "
                f"{self.gamma:g} every {self.step_size} epochs.")


@dataclass(frozen=True)
class PlateauLR:
    """The original's dynamic rule: cut the lr when the validation loss stops moving.

    Replay ``val_losses[:epoch-1]`` in order, starting from ``lr = lr0`` and an empty
    list ``recent``. For each loss ``L``:
        append L to recent (dropping the oldest if it then holds more than ``window``);
        if len(recent) == window and |L - mean(recent)| < threshold   (mean includes L):
            lr = lr * factor;  recent = []
    ``lr(epoch)`` is the lr after the replay. Clearing ``recent`` means two cuts are at
    least ``window`` epochs apart, and no cut happens before ``window`` losses exist.
    """

    lr0: float
    window: int = 10
    threshold: float = 1e-3
    factor: float = 0.5

    def lr_at(self, epoch: int, val_losses: Sequence[float]) -> float:
        _check_epoch(epoch)
        if len(val_losses) < epoch - 1:
            raise ValueError(
                f"the lr of epoch {epoch} needs {epoch - 1} validation losses, "
                f"got {len(val_losses)}"
            )
        lr = self.lr0
        recent: list[float] = []
        for loss in val_losses[: epoch - 1]:
            recent.append(float(loss))
            if len(recent) > self.window:
                recent.pop(0)
            if len(recent) == self.window and abs(recent[-1] - np.mean(recent)) < self.threshold:
                lr *= self.factor
                recent.clear()
        return lr

    def describe(self) -> str:
        return (f"The plateau rule (the original's): the learning rate starts at {self.lr0:g} "
                f"and is multiplied by {self.factor:g} when the newest validation loss is "
                f"within {self.threshold:g} of the mean of the last {self.window} (the "
                f"newest included); the list then starts afresh, so two cuts are at least "
                f"{self.window} epochs apart.")


@dataclass(frozen=True)
class MomentumSchedule:
    """``momentum(epoch) = momentum`` for ``epoch <= until``, ``late`` after.

    ``until = 0`` never switches (the original report suggests momentum early and none late).
    """

    momentum: float
    until: int = 0
    late: float = 0.0

    def momentum_at(self, epoch: int) -> float:
        _check_epoch(epoch)
        if self.until and epoch > self.until:
            return self.late
        return self.momentum

    def describe(self) -> str:
        if not self.until:
            return f"Momentum is {self.momentum:g} throughout."
        return (f"Momentum is {self.momentum:g} for the first {self.until} epochs and "
                f"{self.late:g} after.")


LRSchedule = ConstantLR | StepLR | PlateauLR


def make_lr_schedule(config: TrainConfig) -> LRSchedule:
    """The lr schedule ``config.schedule`` names, with its fields from ``config``."""
    if config.schedule == "constant":
        return ConstantLR(config.lr)
    if config.schedule == "step":
        return StepLR(config.lr, config.step_size, config.lr_decay)
    if config.schedule == "plateau":
        return PlateauLR(
            config.lr, config.plateau_window, config.plateau_threshold, config.lr_decay
        )
    raise ValueError(f"unknown schedule {config.schedule!r}")


def make_momentum_schedule(config: TrainConfig) -> MomentumSchedule:
    return MomentumSchedule(config.momentum, config.momentum_until, config.late_momentum)


def describe(config: TrainConfig) -> str:
    """The schedules of ``config`` in words, with its numbers (for a page's text)."""
    return f"{make_lr_schedule(config).describe()} {make_momentum_schedule(config).describe()}"


__all__ = [
    "ConstantLR",
    "StepLR",
    "PlateauLR",
    "MomentumSchedule",
    "LRSchedule",
    "make_lr_schedule",
    "make_momentum_schedule",
    "describe",
]
