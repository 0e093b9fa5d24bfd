"""The statistics of the verdicts, against scipy and hand-computed cases: the paired t
interval, each outcome, the seeds a check needs, exact binomial intervals, Fisher's
exact test on collapse counts, the F interval of a variance ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from npcnn.stats import (
    CONTRADICTED,
    EQUIVALENT,
    NOT_RESOLVED,
    SUPPORTED,
    CollapseTest,
    Paired,
    Rate,
    Summary,
    VarianceRatio,
)


def test_summary_uses_the_sample_sd():
    s = Summary.of([0.9754, 0.9743, 0.9740, 0.9772])
    assert s.n == 4 and s.mean == pytest.approx(0.975225)
    assert s.sd == pytest.approx(0.0014477, abs=1e-7)  # ddof=1: sqrt(6.2875e-6 / 3)
    assert (s.min, s.max) == (0.9740, 0.9772)
    assert s.text() == "0.9752 ± 0.0014 (0.9740–0.9772)"
    assert math.isnan(Summary.of([0.5]).sd) and Summary.of([0.5]).text() == "0.5000"


@pytest.mark.parametrize("a, b", [
    ([0.9706, 0.9781, 0.9744], [0.9752, 0.9743, 0.9737]),  # k=7 vs k=3, the issue's
    ([0.93, 0.95, 0.94, 0.96, 0.955], [0.92, 0.94, 0.925, 0.95, 0.94]),
])
def test_the_interval_is_scipys_paired_t_interval(a, b):
    # Tolerance 1e-12: the same formula; only float rounding differs.
    ci = sp.ttest_rel(a, b).confidence_interval(0.95)
    assert Paired.of(a, b).ci95 == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_each_outcome_is_reached():
    delta = 0.002
    # mean 0.0025, sd 0.0005: half-width t(0.975, 2) 0.0005 / sqrt(3) = 0.0012
    up = Paired.of([0.003, 0.0025, 0.002], [0, 0, 0], want=+1, delta=delta)
    assert up.status == SUPPORTED and up.seeds_needed is None
    assert Paired.of([0.003, 0.0025, 0.002], [0, 0, 0], want=-1, delta=delta).status == \
        CONTRADICTED
    # The old rule's case (mean 0.002 > 2 SE 0.0012) is not resolved by the t interval
    # (half-width 0.0025 at 2 degrees of freedom).
    assert Paired.of([0.003, 0.002, 0.001], [0, 0, 0], delta=delta).status == NOT_RESOLVED
    # A tiny difference with a tight interval: inside ±delta.
    same = Paired.of([0.0002, -0.0001, 0.0001, 0.0], [0, 0, 0, 0], want=+1, delta=delta)
    assert same.status == EQUIVALENT
    # The k=7 - k=3: the interval spans 0 and reaches beyond the margin.
    wide = Paired.of([0.9706, 0.9781, 0.9744], [0.9752, 0.9743, 0.9737], delta=delta)
    assert wide.status == NOT_RESOLVED and wide.seeds_needed > 3
    # One seed: no interval, and 2 seeds are the fewest that give one.
    one = Paired.of([0.9], [0.1])
    assert one.status == NOT_RESOLVED and one.seeds_needed == 2
    assert Paired.of([], []).seeds_needed is None
    with pytest.raises(ValueError):
        Paired.of([1, 2], [1])


def test_a_null_value_other_than_zero():
    # log time ratios against log 3 ("several-fold"): 4x, 4.2x, 3.9x is above 3x.
    ratios = np.log([4.0, 4.2, 3.9])
    p = Paired.of(ratios, [0, 0, 0], want=+1, delta=math.log(1.1), h0=math.log(3))
    assert p.status == SUPPORTED
    assert Paired.of(np.log([2.0, 2.1, 1.9]), [0, 0, 0], want=+1, h0=math.log(3)).status == \
        CONTRADICTED


def test_seeds_needed_is_the_first_n_whose_half_width_clears_the_target():
    p = Paired.of([0.004, -0.001, 0.006], [0, 0, 0], want=+1, delta=0.002)
    assert p.status == NOT_RESOLVED
    n, m, sd = p.seeds_needed, abs(p.mean), p.sd
    target = max(m, 0.002 - m)

    def half_width(k: int) -> float:
        return sp.t.ppf(0.975, k - 1) * sd / math.sqrt(k)

    assert half_width(n) < target <= half_width(n - 1)


def test_exact_binomial_intervals():
    lo, hi = Rate(2, 3).ci95
    ci = sp.binomtest(2, 3).proportion_ci(0.95, method="exact")
    assert (lo, hi) == pytest.approx((ci.low, ci.high))
    assert (round(lo, 3), round(hi, 3)) == (0.094, 0.992)  # Clopper-Pearson, by hand
    assert Rate(0, 3).ci95[0] == 0.0 and Rate(3, 3).ci95[1] == 1.0
    assert Rate(2, 3).text() == "2 of 3 (95% CI 0.09–0.99)"


def test_collapse_counts_by_fishers_exact_test():
    all_none = CollapseTest(Rate(3, 3), Rate(0, 3), want=+1)
    # p = 2 / C(6, 3) = 0.1: all vs none is not significant with 3 seeds each, with 4 it is
    assert all_none.p == pytest.approx(0.1) and all_none.status == NOT_RESOLVED
    assert all_none.text().startswith("all 3 vs none of 3") and all_none.seeds_needed == 4
    four = CollapseTest(Rate(4, 4), Rate(0, 4), want=+1)
    assert four.p == pytest.approx(2 / 70) and four.status == SUPPORTED
    assert CollapseTest(Rate(4, 4), Rate(0, 4), want=-1).status == CONTRADICTED
    nothing = CollapseTest(Rate(0, 3), Rate(0, 3))
    assert nothing.none_collapsed and nothing.status == NOT_RESOLVED
    assert nothing.seeds_needed is None  # equal rates: no number of seeds separates them


def test_the_variance_ratio_and_its_f_interval():
    a, b = (0.9706, 0.9781, 0.9744), (0.9752, 0.9743, 0.9737)
    v = VarianceRatio(a, b, +1, band=4.0)
    ratio = np.var(a, ddof=1) / np.var(b, ddof=1)
    assert v.ratio == pytest.approx(ratio)
    lo, hi = v.ci95
    assert lo == pytest.approx(ratio / sp.f.ppf(0.975, 2, 2))
    assert hi == pytest.approx(ratio / sp.f.ppf(0.025, 2, 2))
    assert v.status == NOT_RESOLVED and v.seeds_needed == 4
    lo4, _ = v.interval(4, 4)
    assert lo4 > 1  # at 4 seeds each the observed ratio would exclude 1
    spread = tuple(np.linspace(0.90, 0.99, 10))
    tight = tuple(0.95 + 0.0005 * np.sin(np.arange(10)))
    assert VarianceRatio(spread, tight, +1).status == SUPPORTED
    assert VarianceRatio(tight, spread, +1).status == CONTRADICTED
    assert VarianceRatio((0.9,), b).status == NOT_RESOLVED  # one value has no spread
