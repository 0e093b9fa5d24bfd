"""Numbers over seeds: a summary (n, mean, sample sd, range) and the paired comparison
that turns two configurations' runs into a verdict.

Runs with the same seed share their initial weights (for equal shapes) and their batch
order, so two configurations are compared seed by seed: ``d_i = a_i - b_i``. A
difference is *established* when every paired difference has the same sign and their
mean exceeds two standard errors (``|mean(d)| > 2 sd(d) / sqrt(n)``, sample sd); with
fewer than ``MIN_N`` seeds nothing is established.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_N = 2  # seeds needed before a difference can be established
SE_FACTOR = 2.0  # the mean difference must exceed this many standard errors


@dataclass(frozen=True)
class Summary:
    """``values`` over seeds: n, mean, sample sd (NaN for n < 2), min, max."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(tuple(float(v) for v in values))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def sd(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n >= 2 else math.nan

    @property
    def min(self) -> float:
        return float(np.min(self.values)) if self.values else math.nan

    @property
    def max(self) -> float:
        return float(np.max(self.values)) if self.values else math.nan

    def text(self, digits: int = 4, spread: bool = True) -> str:
        """``0.9752 ± 0.0014 (0.9740–0.9772)``; one value alone; ``—`` for none."""
        if not self.values:
            return "—"
        if self.n == 1:
            return f"{self.mean:.{digits}f}"
        out = f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"
        return out + (f" ({self.min:.{digits}f}–{self.max:.{digits}f})" if spread else "")


@dataclass(frozen=True)
class Paired:
    """A paired comparison of ``a`` against ``b`` over the same seeds.

    ``direction`` is +1 when ``a > b`` is established, -1 when ``a < b`` is, 0 when
    neither is (``not resolved at n=...``).
    """

    diffs: tuple[float, ...]

    @classmethod
    def of(cls, a: Sequence[float], b: Sequence[float]) -> Paired:
        if len(a) != len(b):
            raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
        return cls(tuple(float(x) - float(y) for x, y in zip(a, b, strict=True)))

    @property
    def summary(self) -> Summary:
        return Summary(self.diffs)

    @property
    def n(self) -> int:
        return self.summary.n

    @property
    def mean(self) -> float:
        return self.summary.mean

    @property
    def se(self) -> float:
        """Standard error of the mean difference (NaN for n < 2)."""
        return self.summary.sd / math.sqrt(self.n) if self.n >= 2 else math.nan

    @property
    def direction(self) -> int:
        d = np.asarray(self.diffs)
        if self.n < MIN_N or not np.all(np.isfinite(d)):
            return 0
        same_sign = bool(np.all(d > 0) or np.all(d < 0))
        if same_sign and abs(self.mean) > SE_FACTOR * self.se:
            return 1 if self.mean > 0 else -1
        return 0

    def text(self, digits: int = 4) -> str:
        """``diffs +0.0045, +0.0037, +0.0005; mean +0.0029 ± 0.0012 (SE), n=3``."""
        diffs = ", ".join(f"{d:+.{digits}f}" for d in self.diffs)
        if self.n < 2:
            return f"diff {diffs or '—'}, n={self.n}"
        return (f"diffs {diffs}; mean {self.mean:+.{digits}f} ± {self.se:.{digits}f} (SE), "
                f"n={self.n}")


RULE = (f"Runs with the same seed share their initial weights and batch order, so "
        f"configurations are compared seed by seed. A difference is established when "
        f"every paired difference has the same sign and their mean exceeds "
        f"{SE_FACTOR:g} standard errors (sample sd / √n); otherwise it is not resolved "
        f"at that n (never with fewer than {MIN_N} seeds).")


__all__ = ["MIN_N", "SE_FACTOR", "RULE", "Summary", "Paired"]
