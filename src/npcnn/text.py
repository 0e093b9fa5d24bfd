"""How npcnn writes things for people: one-line messages, numbers, durations."""

from __future__ import annotations

import math
from typing import Any


def one_line(err: BaseException | str) -> str:
    """An exception's message (or any text) on one line; the exception's type name when
    it has no message."""
    text = " ".join(str(err).split())
    if text or isinstance(err, str):
        return text
    return type(err).__name__


def value(v: Any) -> str:
    """A config value as it reads in a label: ``0.05``, ``1e-05``, ``16``, ``softmax``."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def cell(v: Any, digits: int = 4) -> str:
    """A table cell: ``—`` for missing or NaN, floats to ``digits`` significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def clock(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def core_minutes(seconds: float) -> str:
    """A training's cost in one core's time, as the report writes it: ``198 core-minutes``."""
    return f"{seconds / 60:.0f} core-minutes"


def clock_range(low: float, high: float) -> str:
    """``low–high`` as ``clock`` writes them, one ``clock`` when they read the same."""
    a, b = clock(low), clock(high)
    return a if a == b else f"{a}–{b}"


__all__ = ["one_line", "value", "cell", "clock", "core_minutes", "clock_range"]
