"""Numbers over seeds and the standard tests that turn two configurations' runs into an
outcome, all from ``scipy.stats``.

Runs with the same seed share their initial weights (for equal shapes) and their batch
order, so two configurations are compared seed by seed. Every test gives one of four
outcomes, decided in this order:

* **supported** / **contradicted**: the 95% interval excludes the null value, in / against
  the claimed direction;
* **equivalent**: else, the interval lies inside ``±delta`` of the null value, a margin of
  practical difference stated with each metric;
* **not resolved**: otherwise, with ``seeds_needed``, the seeds at which the observed
  spread would resolve it (``Paired.seeds_needed``).

The tests:

* ``Paired``: a metric's differences ``d_i = a_i - b_i`` over the seeds used, their mean
  with the paired t interval ``mean ± t(0.975, n-1) sd / sqrt(n)`` (sample sd; what
  ``scipy.stats.ttest_rel(...).confidence_interval()`` gives);
* ``Rate``: collapsed k of n with the exact (Clopper-Pearson) binomial interval
  (``scipy.stats.binomtest(k, n).proportion_ci()``);
* ``collapse_test``: two points' collapse counts, Fisher's exact test on the 2x2 table
  (``scipy.stats.fisher_exact``, two-sided, significant below ``ALPHA``);
* ``VarianceRatio``: how much more one point's metric spreads over seeds than another's,
  ``var(a) / var(b)`` with its F interval. The F interval treats the two points' seeds as
  independent samples; the seeds are shared, which the test ignores (stated on the pages).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # 95% intervals; a test is significant below this p
SUPPORTED, CONTRADICTED = "supported", "contradicted"
EQUIVALENT, NOT_RESOLVED = "equivalent", "not resolved"
STATUSES = (SUPPORTED, CONTRADICTED, EQUIVALENT, NOT_RESOLVED)
MAX_SEEDS = 100_000  # where ``seeds_needed`` stops looking


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


def _t(n: int | np.ndarray) -> float | np.ndarray:
    """t(1 - ALPHA/2, n - 1): the half-width of a 95% interval in standard errors."""
    from scipy.stats import t

    return t.ppf(1 - ALPHA / 2, np.asarray(n) - 1)


def _decide(lo: float, hi: float, want: int, null: float, low: float, high: float) -> str:
    """The outcome of an interval [lo, hi] against ``null`` (claimed direction ``want``:
    +1 above, -1 below) and the equivalence band (low, high)."""
    if lo > null:
        return SUPPORTED if want > 0 else CONTRADICTED
    if hi < null:
        return SUPPORTED if want < 0 else CONTRADICTED
    if low < lo and hi < high:
        return EQUIVALENT
    return NOT_RESOLVED


@dataclass(frozen=True)
class Paired:
    """A paired comparison: ``diffs`` (a - b per seed used), tested against ``h0``.

    ``want`` is the claimed direction of ``mean(diffs) - h0`` (+1 or -1); ``delta`` the
    margin of practical difference around ``h0``.
    """

    diffs: tuple[float, ...]
    want: int = 1
    delta: float = 0.0
    h0: float = 0.0

    @classmethod
    def of(cls, a: Sequence[float], b: Sequence[float], want: int = 1, delta: float = 0.0,
           h0: float = 0.0) -> Paired:
        if len(a) != len(b):
            raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
        return cls(tuple(float(x) - float(y) for x, y in zip(a, b, strict=True)), want,
                   delta, h0)

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def mean(self) -> float:
        return Summary(self.diffs).mean

    @property
    def sd(self) -> float:
        return Summary(self.diffs).sd

    @property
    def ci95(self) -> tuple[float, float]:
        """The paired t interval of the mean difference (NaN, NaN for n < 2)."""
        if self.n < 2 or not np.all(np.isfinite(self.diffs)):
            return (math.nan, math.nan)
        hw = float(_t(self.n)) * self.sd / math.sqrt(self.n)
        return (self.mean - hw, self.mean + hw)

    @property
    def status(self) -> str:
        lo, hi = self.ci95
        if math.isnan(lo):
            return NOT_RESOLVED
        return _decide(lo, hi, self.want, self.h0, self.h0 - self.delta, self.h0 + self.delta)

    @property
    def seeds_needed(self) -> int | None:
        """When not resolved: the smallest n at which the observed sd would give a
        half-width ``t(0.975, n-1) sd / sqrt(n)`` below ``max(|m|, delta - |m|)``,
        ``m = mean - h0`` (below |m| the interval excludes ``h0``; below ``delta - |m|``
        it lies inside the margin). With one seed there is no sd yet: 2, the fewest that
        give an interval. None when resolved, or with no seed at all."""
        if self.status != NOT_RESOLVED or self.n == 0:
            return None
        if self.n < 2:
            return 2
        m = abs(self.mean - self.h0)
        target = max(m, self.delta - m)
        return _smallest_n(self.sd, target, start=self.n + 1)

    def text(self, digits: int = 4) -> str:
        """``diffs +0.0045, +0.0037, +0.0005; mean +0.0029, 95% CI [+0.0001, +0.0058], n=3``."""
        diffs = ", ".join(f"{d:+.{digits}f}" for d in self.diffs)
        if self.n < 2:
            return f"diff {diffs or '—'}, n={self.n}"
        lo, hi = self.ci95
        return (f"diffs {diffs}; mean {self.mean:+.{digits}f}, 95% CI "
                f"[{lo:+.{digits}f}, {hi:+.{digits}f}], n={self.n}")


def _smallest_n(sd: float, target: float, start: int = 2) -> int | None:
    """The smallest n >= start with t(0.975, n-1) * sd / sqrt(n) < target."""
    if target <= 0:
        return None
    if sd == 0:
        return start
    ns = np.arange(max(2, start), MAX_SEEDS + 1)
    ok = np.flatnonzero(_t(ns) * sd / np.sqrt(ns) < target)
    return int(ns[ok[0]]) if ok.size else None


@dataclass(frozen=True)
class Rate:
    """k of n runs (e.g. collapsed) with the exact 95% binomial interval of the rate."""

    k: int
    n: int

    @property
    def p(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def ci95(self) -> tuple[float, float]:
        if not self.n:
            return (0.0, 1.0)
        from scipy.stats import binomtest

        ci = binomtest(self.k, self.n).proportion_ci(1 - ALPHA, method="exact")
        return (float(ci.low), float(ci.high))

    def text(self) -> str:
        """``2 of 3 (95% CI 0.09–0.99)``."""
        lo, hi = self.ci95
        return f"{self.k} of {self.n} (95% CI {lo:.2f}–{hi:.2f})"


def fisher_p(a: Rate, b: Rate) -> float:
    """Two-sided p of Fisher's exact test on the 2x2 table of two rates."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[a.k, a.n - a.k], [b.k, b.n - b.k]]).pvalue)


@dataclass(frozen=True)
class CollapseTest:
    """Two points' collapse counts: does ``a`` collapse more often than ``b`` (``want``
    +1) or less (-1)? Fisher's exact test; no margin, so never "equivalent"."""

    a: Rate
    b: Rate
    want: int = 1

    @property
    def p(self) -> float:
        return fisher_p(self.a, self.b) if self.a.n and self.b.n else 1.0

    @property
    def none_collapsed(self) -> bool:
        return self.a.k == 0 and self.b.k == 0

    @property
    def status(self) -> str:
        if self.p >= ALPHA:
            return NOT_RESOLVED
        more = self.a.p > self.b.p
        return SUPPORTED if more == (self.want > 0) else CONTRADICTED

    @property
    def seeds_needed(self) -> int | None:
        """When not resolved and the rates differ: the smallest n (seeds per point) at
        which the observed rates, as counts of n, would give p < ALPHA."""
        if self.status != NOT_RESOLVED or self.a.p == self.b.p or not (self.a.n and self.b.n):
            return None
        for n in range(max(self.a.n, self.b.n) + 1, 1001):
            a, b = Rate(round(self.a.p * n), n), Rate(round(self.b.p * n), n)
            if fisher_p(a, b) < ALPHA:
                return n
        return None

    def text(self) -> str:
        """``all 3 vs none of 3, Fisher's exact p = 0.10`` or ``1 of 3 vs 0 of 3, ...``."""
        a, b = self.a, self.b
        if a.k == a.n and b.k == 0 and a.n:
            counts = f"all {a.n} vs none of {b.n}"
        elif b.k == b.n and a.k == 0 and b.n:
            counts = f"none of {a.n} vs all {b.n}"
        else:
            counts = f"{a.k} of {a.n} vs {b.k} of {b.n}"
        return f"{counts}, Fisher's exact p = {self.p:.2g}"


@dataclass(frozen=True)
class VarianceRatio:
    """``var(a) / var(b)`` over seeds with its 95% F interval: does ``a`` spread more
    (``want`` +1) or less (-1) than ``b``? Equivalent inside ``[1/band, band]``."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    want: int = 1
    band: float = 4.0

    @property
    def ratio(self) -> float:
        va, vb = Summary(self.a).sd ** 2, Summary(self.b).sd ** 2
        if math.isnan(va) or math.isnan(vb) or (va == 0 and vb == 0):
            return math.nan
        return va / vb if vb > 0 else math.inf

    def interval(self, na: int, nb: int, ratio: float | None = None) -> tuple[float, float]:
        from scipy.stats import f

        r = self.ratio if ratio is None else ratio
        if math.isnan(r) or na < 2 or nb < 2:
            return (math.nan, math.nan)
        return (r / f.ppf(1 - ALPHA / 2, na - 1, nb - 1), r / f.ppf(ALPHA / 2, na - 1, nb - 1))

    @property
    def ci95(self) -> tuple[float, float]:
        return self.interval(len(self.a), len(self.b))

    @property
    def status(self) -> str:
        lo, hi = self.ci95
        if math.isnan(lo):
            return NOT_RESOLVED
        return _decide(lo, hi, self.want, 1.0, 1 / self.band, self.band)

    @property
    def seeds_needed(self) -> int | None:
        """When not resolved: the smallest n seeds per point at which the observed ratio
        would give an F interval that excludes 1 or lies inside the band."""
        r = self.ratio
        if self.status != NOT_RESOLVED or math.isnan(r):
            return None  # resolved, or fewer than 2 seeds on a side: no spread yet
        for n in range(max(len(self.a), len(self.b)) + 1, 10_001):
            lo, hi = self.interval(n, n, r)
            if lo > 1 or hi < 1 or (1 / self.band < lo and hi < self.band):
                return n
        return None

    def text(self) -> str:
        lo, hi = self.ci95
        sa, sb = Summary(self.a).sd, Summary(self.b).sd
        ci = "—" if math.isnan(lo) else f"[{lo:.2g}, {hi:.2g}]"
        return (f"sd {sa:.4f} vs {sb:.4f} (n={len(self.a)}, {len(self.b)}); variance ratio "
                f"{self.ratio:.2g}, 95% F interval {ci}")


RULE = ("Runs with the same seed share their initial weights and batch order, so points "
        "are compared seed by seed, over the seeds in which neither collapsed. A paired "
        "difference gets the 95% paired t interval, mean ± t(0.975, n−1)·sd/√n: supported "
        "or contradicted when it excludes the null value (in or against the claimed "
        "direction), equivalent when it lies within the stated margin δ, otherwise not "
        "resolved, with the seeds the observed spread would need. Collapse counts are "
        "compared with Fisher's exact test (two-sided, p < 0.05) and given exact binomial "
        "intervals; spreads over seeds as a variance ratio with its F interval (which "
        "treats the seeds as independent).")


__all__ = ["ALPHA", "SUPPORTED", "CONTRADICTED", "EQUIVALENT", "NOT_RESOLVED", "STATUSES",
           "RULE", "Summary", "Paired", "Rate", "fisher_p", "CollapseTest",
           "VarianceRatio"]
