"""The statistics of the findings: tests over seeds, the four outcomes, Holm's adjustment
within a claim, and the seeds a test would need. Standard pieces, from ``scipy.stats``.

Runs with the same seed share their initial weights (for equal shapes) and their batch
order, so configurations are compared seed by seed: a test sees one number per seed,
``d: (n,)`` (a paired difference ``a - b``, a seed's slope over a sweep, or one run's
value), and asks where their mean lies against a null value ``h0``. Every test gives an
estimate, a two-sided ``p`` and a 95% interval from the same distribution (``p < 0.05``
exactly when the interval excludes ``h0``):

* ``t_test``: the t interval ``mean ± t(0.975, n-1) sd / sqrt(n)`` (what
  ``scipy.stats.ttest_1samp(d, h0)`` gives). When every seed gives the same number the
  interval has zero width and would decide on nothing: the sign-flip test takes over.
* ``sign_flip``: the exact permutation test of the mean (all ``2^n`` sign patterns of
  ``d - h0``), for integer or censored metrics and ties; its interval is the set of
  values it does not reject. With ``n <= 5`` it cannot reach ``p < 0.05`` (the two
  patterns of the observed signs alone give ``2 / 2^n``) and gives no interval.
* ``similarity``: "about the same" as an equivalence test against ``±margin`` (two one-
  sided t tests at 2.5% each, the 95% interval inside the margin).
* ``mcnemar``: two points' collapses paired by seed (both, only a, only b, neither), the
  exact binomial test on the seeds where exactly one collapsed; no interval.

``outcome`` reads a test relevance first (Lakens 2017): *negligible* when the interval
lies inside ``h0 ± delta`` (a real effect, perhaps, but too small to matter), else
*supported* / *contradicted* when the Holm-adjusted p is below ``ALPHA`` and the
estimate lies on / against the claimed side, else *not resolved*.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sp

ALPHA = 0.05  # 95% intervals; a (Holm-adjusted) p below this decides
SUPPORTED, CONTRADICTED = "supported", "contradicted"
NEGLIGIBLE, NOT_RESOLVED = "negligible", "not resolved"
OUTCOMES = (SUPPORTED, CONTRADICTED, NEGLIGIBLE, NOT_RESOLVED)
POWER = 0.8  # seeds_needed: the seeds that give this power
SIGMA_BOUND = 0.8  # ... with sigma at the pilot's one-sided upper confidence bound at this level
EXACT_MAX = 16  # sign-flip: all 2^n patterns up to this n; a fixed sample of them beyond
MAX_SEEDS = 1000  # where seeds_needed stops looking


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

    def prediction(self) -> tuple[float, float] | None:
        """The 95% prediction interval for one more run, ``mean ± t(0.975, n-1) sd
        sqrt(1 + 1/n)``: where a single run's number (the original report's) is read
        against ours. None below two values."""
        if self.n < 2:
            return None
        hw = float(sp.t.ppf(1 - ALPHA / 2, self.n - 1)) * self.sd * math.sqrt(1 + 1 / self.n)
        return (self.mean - hw, self.mean + hw)

    def mean_interval(self) -> tuple[float, float] | None:
        """The 95% t interval of the mean; None below two values."""
        return t_test(self.values).interval if self.n >= 2 and self.sd > 0 else None


@dataclass(frozen=True)
class Result:
    """A test over seeds: its name, the seeds' count, the estimate (the mean of ``d``, or
    a rate difference), the 95% interval (None where the test has none) and the two-sided
    p against the null value (None where no test could be made)."""

    test: str
    n: int
    estimate: float
    interval: tuple[float, float] | None
    p: float | None
    counts: dict = field(default_factory=dict)  # mcnemar: both, only_a, only_b, neither

    @property
    def decides(self) -> bool:
        """False when the test could not be made. (A zero-width t interval never gets
        here: ``t_test`` hands such data to the exact test, whose p is valid at any
        width and which cannot reach p < 0.05 below six seeds.)"""
        return self.p is not None


def _values(d: Sequence[float]) -> np.ndarray:
    return np.asarray([float(x) for x in d], dtype=float)


def t_test(d: Sequence[float], h0: float = 0.0) -> Result:
    """The one-sample t test of mean(d) against ``h0``; the sign-flip test when every
    value is the same (a zero-width interval never decides)."""
    x = _values(d)
    if x.size < 2 or not np.all(np.isfinite(x)):
        return Result("none", int(x.size), float(np.mean(x)) if x.size else math.nan, None,
                      None)
    sd = float(np.std(x, ddof=1))
    if sd == 0:
        return sign_flip(x, h0, why="every seed the same")
    se = sd / math.sqrt(x.size)
    tq = float(sp.t.ppf(1 - ALPHA / 2, x.size - 1))
    m = float(np.mean(x))
    p = float(2 * sp.t.sf(abs(m - h0) / se, x.size - 1))
    return Result("t", int(x.size), m, (m - tq * se, m + tq * se), p)


def _patterns(n: int) -> np.ndarray:
    """Sign patterns (rows of ±1), shape (2^n, n) up to ``EXACT_MAX``; beyond it a fixed
    sample of 2^EXACT_MAX (the same every time: the same data give the same p)."""
    if n <= EXACT_MAX:
        return np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    rng = np.random.default_rng(20261203)
    s = rng.choice((1.0, -1.0), size=(2 ** EXACT_MAX, n))
    s[0] = 1.0  # the observed pattern is always among them
    return s


def _flip_p(x: np.ndarray, side: int = 0) -> float:
    """p of the sign-flip test of mean(x) = 0: two-sided (``side`` 0), or one-sided that
    the mean is above (+1) or below (-1) 0. Ties with the observed sum count (exact)."""
    s = _patterns(x.size)
    sums, obs = s @ x, float(np.sum(x))
    eps = 1e-12 * max(1.0, float(np.sum(np.abs(x))))
    if side == 0:
        return float(np.mean(np.abs(sums) >= abs(obs) - eps))
    return float(np.mean(side * sums >= side * obs - eps))


def sign_flip(d: Sequence[float], h0: float = 0.0, why: str = "") -> Result:
    """The exact sign-flip (permutation) test of mean(d) against ``h0``.

    A pattern flips a subset B of the seeds; it is as extreme as the data at a value mu
    exactly when mu lies between the mean of B and the mean of the rest (both sums of
    ``d - mu`` then differ in sign). So ``p(mu)`` is the share of patterns whose interval
    [mean(B), mean(rest)] covers mu, and the 95% interval is where that share exceeds
    ``ALPHA``: between the k-th smallest lower and the k-th largest upper end.
    """
    x = _values(d)
    name = "sign-flip (exact" + (f": {why})" if why else ")")
    if x.size < 1:
        return Result(name, 0, math.nan, None, None)
    m = float(np.mean(x))
    p = _flip_p(x - h0)
    s = _patterns(x.size)
    flipped = s < 0
    k_b = flipped.sum(axis=1)
    proper = (k_b > 0) & (k_b < x.size)
    mean_b = (flipped[proper] @ x) / k_b[proper]
    mean_rest = (~flipped[proper] @ x) / (x.size - k_b[proper])
    total = len(s)
    # Patterns with B empty or everything cover every mu: they always count.
    always = total - int(proper.sum())
    need = int(math.floor(ALPHA * total - always)) + 1  # covering patterns beyond those
    if need < 1 or need > mean_b.size:
        return Result(name, int(x.size), m, None, p)
    lower = np.sort(np.minimum(mean_b, mean_rest))
    upper = np.sort(np.maximum(mean_b, mean_rest))[::-1]
    return Result(name, int(x.size), m, (float(lower[need - 1]), float(upper[need - 1])), p)


def similarity(d: Sequence[float], margin: float) -> Result:
    """Is mean(d) within ``±margin`` (a claim that two things are "similar")? The p of
    the side the estimate lies on: inside the margin, the equivalence test (two one-sided
    t tests, p = 2 max of theirs, below 0.05 exactly when the 95% interval lies inside
    ±margin); outside it, the test that the mean lies beyond the margin (p = 2 x one-sided,
    below 0.05 exactly when the interval lies beyond it). At most one can be small."""
    r = t_test(d)
    if not r.decides or r.interval is None or r.test != "t":
        return Result(f"equivalence within ±{margin:g}", r.n, r.estimate, None, None)
    x = _values(d)
    se = float(np.std(x, ddof=1)) / math.sqrt(x.size)
    df = x.size - 1
    m = r.estimate
    if abs(m) < margin:
        p = 2 * max(sp.t.sf((m + margin) / se, df), sp.t.cdf((m - margin) / se, df))
        name = f"equivalence within ±{margin:g} (two one-sided t tests)"
    else:
        p = 2 * sp.t.sf((abs(m) - margin) / se, df)
        name = f"difference beyond ±{margin:g} (one-sided t, doubled)"
    return Result(name, r.n, m, r.interval, float(min(1.0, p)))


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> Result:
    """Collapses of two points paired by seed: the exact binomial test on the seeds where
    exactly one of the two collapsed (McNemar's exact test). Estimate: the paired
    difference of the collapse rates, (only a - only b) / n."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    n = len(a)
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    both = sum(x and y for x, y in zip(a, b, strict=True))
    counts = {"both": both, "only_a": only_a, "only_b": only_b,
              "neither": n - both - only_a - only_b}
    if not n:
        return Result("McNemar (exact)", 0, math.nan, None, None, counts)
    m = only_a + only_b
    p = float(sp.binomtest(only_a, m, 0.5).pvalue) if m else 1.0
    return Result("McNemar (exact)", n, (only_a - only_b) / n, None, p, counts)


@dataclass(frozen=True)
class Rate:
    """k of n runs (e.g. collapsed) with the exact (Clopper-Pearson) 95% interval of the
    rate, ``scipy.stats.binomtest(k, n).proportion_ci()``."""

    k: int
    n: int

    @property
    def p(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def ci95(self) -> tuple[float, float]:
        if not self.n:
            return (0.0, 1.0)
        ci = sp.binomtest(self.k, self.n).proportion_ci(1 - ALPHA, method="exact")
        return (float(ci.low), float(ci.high))

    def text(self) -> str:
        """``2 of 3 (95% CI 0.09–0.99)``."""
        lo, hi = self.ci95
        return f"{self.k} of {self.n} (95% CI {lo:.2f}–{hi:.2f})"


@dataclass(frozen=True)
class VarianceRatio:
    """``var(a) / var(b)`` over seeds with its 95% F interval: does ``a`` spread more
    than ``b``? Negligible inside ``[1/band, band]``. The F interval treats the two
    points' seeds as independent samples; they share seeds, which it ignores."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    band: float = 4.0

    @property
    def ratio(self) -> float:
        va, vb = Summary(self.a).sd ** 2, Summary(self.b).sd ** 2
        if math.isnan(va) or math.isnan(vb) or (va == 0 and vb == 0):
            return math.nan
        return va / vb if vb > 0 else math.inf

    @property
    def ci95(self) -> tuple[float, float] | None:
        r, na, nb = self.ratio, len(self.a), len(self.b)
        if math.isnan(r) or math.isinf(r) or r == 0 or na < 2 or nb < 2:
            return None
        return (r / sp.f.ppf(1 - ALPHA / 2, na - 1, nb - 1),
                r / sp.f.ppf(ALPHA / 2, na - 1, nb - 1))

    def result(self) -> Result:
        """The test on the log scale, where the null is 0 and the band symmetric."""
        ci = self.ci95
        if ci is None:
            return Result("F", min(len(self.a), len(self.b)), math.nan, None, None)
        na, nb = len(self.a), len(self.b)
        f = sp.f.cdf(self.ratio, na - 1, nb - 1)
        p = float(2 * min(f, 1 - f))
        return Result("F", min(na, nb), math.log(self.ratio),
                      (math.log(ci[0]), math.log(ci[1])), p)

    def text(self) -> str:
        ci = self.ci95
        sa, sb = Summary(self.a).sd, Summary(self.b).sd
        cis = "—" if ci is None else f"[{ci[0]:.2g}, {ci[1]:.2g}]"
        return (f"sd {sa:.4f} vs {sb:.4f} (n={len(self.a)}, {len(self.b)}); variance ratio "
                f"{self.ratio:.2g}, 95% F interval {cis}")


def holm(ps: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p values of a family, in the given order: sort the p's,
    multiply the j-th smallest (from 1) by m - j + 1, carry the running maximum, cap at 1.
    A test that could not be made (None) is in the family (m counts it) as p = 1."""
    m = len(ps)
    filled = [1.0 if p is None else float(p) for p in ps]
    order = sorted(range(m), key=lambda i: filled[i])
    out: list[float | None] = [None] * m
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * filled[i]))
        out[i] = None if ps[i] is None else running
    return out


def outcome(r: Result, want: int, h0: float = 0.0, delta: float = 0.0,
            p_adj: float | None = None) -> str:
    """The outcome of test ``r`` for a claim that the mean lies above (``want`` +1) or
    below (-1) ``h0``, or within ``±delta`` of it (``want`` 0: "similar"), with ``delta``
    the margin of practical difference (0: none) and ``p_adj`` the Holm-adjusted p
    (default: the test's own)."""
    p = r.p if p_adj is None else p_adj
    if not r.decides or p is None:
        return NOT_RESOLVED
    if want == 0:
        if p >= ALPHA:
            return NOT_RESOLVED
        return SUPPORTED if abs(r.estimate - h0) < delta else CONTRADICTED
    if r.interval is not None and delta > 0:
        lo, hi = r.interval
        if h0 - delta < lo and hi < h0 + delta:
            return NEGLIGIBLE
    if p >= ALPHA:
        return NOT_RESOLVED
    return SUPPORTED if (r.estimate - h0) * want > 0 else CONTRADICTED


def _t_power(n: int, effect: float, sigma: float, alpha: float) -> float:
    """Power of the two-sided one-sample t test with n values to detect ``effect``."""
    if sigma == 0:
        return 1.0
    df, nc = n - 1, effect * math.sqrt(n) / sigma
    tq = sp.t.ppf(1 - alpha / 2, df)
    return float(sp.nct.sf(tq, df, nc) + sp.nct.cdf(-tq, df, nc))


def sigma_upper(sd: float, n: int) -> float:
    """The pilot's one-sided ``SIGMA_BOUND`` upper confidence bound of sigma:
    ``sd sqrt((n-1) / chi2(1 - SIGMA_BOUND, n-1))``."""
    return sd * math.sqrt((n - 1) / sp.chi2.ppf(1 - SIGMA_BOUND, n - 1))


def exact_min(alpha: float) -> int:
    """The fewest seeds at which the two-sided sign-flip test can reach p < alpha (its
    smallest p is 2 / 2^n: the observed signs and their mirror)."""
    n = 2
    while 2 / 2 ** n >= alpha:
        n += 1
    return n


def seeds_needed(d: Sequence[float], effect: float, alpha: float = ALPHA,
                 exact: bool = False) -> int | None:
    """SEEDS_RULE: the seeds that give the test ``POWER`` to detect ``effect`` at
    ``alpha``, sigma at the pilot's upper confidence bound. None without an effect to
    detect or a spread (fewer than two values); 2 for one value (the fewest with a
    spread)."""
    x = _values(d)
    if effect <= 0 or not math.isfinite(effect):
        return None
    if x.size < 2:
        return 2 if x.size == 1 else None
    sigma = sigma_upper(float(np.std(x, ddof=1)), x.size)
    floor = exact_min(alpha) if exact or sigma == 0 else 2
    for n in range(floor, MAX_SEEDS + 1):
        if _t_power(n, effect, sigma, alpha) >= POWER:
            return n
    return None


def mcnemar_seeds(r: Result, alpha: float = ALPHA) -> int | None:
    """The seeds at which McNemar's exact test has ``POWER`` when the pilot's shares of
    seeds where only a / only b collapsed are the truth; None when they are equal."""
    n0 = r.n
    if not n0:
        return None
    pa, pb = r.counts["only_a"] / n0, r.counts["only_b"] / n0
    if pa == pb:
        return None
    q = pa / (pa + pb)
    for n in range(max(n0, 2), MAX_SEEDS + 1):
        power = 0.0
        for mi, w in enumerate(sp.binom.pmf(np.arange(n + 1), n, pa + pb)):
            if mi and w > 1e-12:
                k = np.arange(mi + 1)
                # The two-sided p of a symmetric binomial: twice the smaller tail.
                p = np.minimum(1.0, 2 * np.minimum(sp.binom.cdf(k, mi, 0.5),
                                                   sp.binom.sf(k - 1, mi, 0.5)))
                power += w * float(np.sum(sp.binom.pmf(k, mi, q)[p < alpha]))
        if power >= POWER:
            return n
    return None


SEEDS_RULE = (f"Seeds needed: the fewest seeds at which the claim's test has "
              f"{POWER:.0%} power at its Holm family's strictest level (0.05 / the number "
              f"of tests) to detect the margin δ or the effect observed, whichever is "
              f"larger, σ taken at the pilot's one-sided {SIGMA_BOUND:.0%} upper confidence "
              "bound (χ² with n−1 degrees of freedom); the noncentral t gives the power. "
              "An exact test needs at least the seeds at which it can reach that level.")

RULE = ("A clause is tested over seeds with one test fixed before the data: a paired "
        "difference or a seed's slope over the sweep (least squares against the swept "
        "value's rank) gets the t interval; integer or censored metrics, and any case in "
        "which every seed gives the same number, the exact sign-flip test instead; "
        "collapses of two points are paired by seed (McNemar's exact test). Outcome, "
        "relevance first: negligible when the 95% interval lies inside ±δ (whether or not "
        "it excludes 0); else supported or contradicted when the Holm-adjusted p (within "
        "the claim) is below 0.05, on or against the claimed side; else not resolved. A "
        "clause that says two things are similar is an equivalence test: the 95% interval "
        "inside its margin (two one-sided tests at 2.5%). Collapsed runs are counted "
        "apart and never enter an accuracy difference.")


__all__ = ["ALPHA", "SUPPORTED", "CONTRADICTED", "NEGLIGIBLE", "NOT_RESOLVED", "OUTCOMES",
           "POWER", "SIGMA_BOUND", "RULE", "SEEDS_RULE", "Summary", "Result", "t_test",
           "sign_flip", "similarity", "mcnemar", "Rate", "VarianceRatio", "holm", "outcome",
           "sigma_upper", "exact_min", "seeds_needed", "mcnemar_seeds"]
