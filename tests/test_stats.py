"""The statistics of the findings, against scipy and hand-computed cases: the t interval,
the exact sign-flip test and its inverted interval, McNemar's exact test, Holm, the four
outcomes at each boundary of the decision, the seeds for 80% power, and the prediction
interval for one run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from npcnn import stats
from npcnn.stats import (
    ALPHA,
    CONTRADICTED,
    NEGLIGIBLE,
    NOT_RESOLVED,
    SUPPORTED,
    Rate,
    Result,
    Summary,
    VarianceRatio,
    holm,
    mcnemar,
    outcome,
    seeds_needed,
    sign_flip,
    similarity,
    t_test,
)


def test_summary_uses_the_sample_sd_and_gives_a_prediction_interval():
    s = Summary.of([0.9754, 0.9743, 0.9740, 0.9772])
    assert s.n == 4 and s.mean == pytest.approx(0.975225)
    assert s.sd == pytest.approx(0.0014477, abs=1e-7)  # ddof=1: sqrt(6.2875e-6 / 3)
    assert s.text() == "0.9752 ± 0.0014 (0.9740–0.9772)"
    assert math.isnan(Summary.of([0.5]).sd) and Summary.of([0.5]).text() == "0.5000"
    lo, hi = s.prediction()
    hw = sp.t.ppf(0.975, 3) * s.sd * math.sqrt(1 + 1 / 4)  # one more run, not the mean
    assert (lo, hi) == pytest.approx((s.mean - hw, s.mean + hw), abs=1e-12)
    assert Summary.of([0.98]).prediction() is None


@pytest.mark.parametrize("d", [[0.0045, 0.0037, 0.0005], [0.01, 0.02, -0.005, 0.015, 0.0]])
def test_the_t_test_is_scipys(d):
    # 1e-12: the same formula; only float rounding differs.
    ref = sp.ttest_1samp(d, 0.0)
    r = t_test(d)
    assert r.test == "t" and r.p == pytest.approx(ref.pvalue, abs=1e-12)
    ci = ref.confidence_interval(0.95)
    assert r.interval == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert t_test(d, h0=0.001).p == pytest.approx(sp.ttest_1samp(d, 0.001).pvalue, abs=1e-12)


@pytest.mark.parametrize("d", [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                               [0.3, 1.2, -0.4, 2.0, 0.9, 1.5, 0.7, 1.1],
                               [2.0, 2.0, 3.0, -1.0, 0.0, 2.0, 1.0]])
def test_the_sign_flip_p_is_scipys_exact_permutation_test(d):
    # scipy enumerates the same 2^n sign patterns of a one-sample statistic: exact equality
    # up to float rounding of the sums (1e-12).
    ref = sp.permutation_test((np.array(d),), np.mean, permutation_type="samples",
                              n_resamples=np.inf, alternative="two-sided")
    assert sign_flip(d).p == pytest.approx(ref.pvalue, abs=1e-12)


def test_the_sign_flip_interval_is_where_the_test_does_not_reject():
    d = np.array([0.3, 1.2, -0.4, 2.0, 0.9, 1.5, 0.7, 1.1])
    lo, hi = sign_flip(d).interval
    eps = 1e-9  # just inside and just outside each end
    assert sign_flip(d, lo + eps).p > ALPHA and sign_flip(d, lo - eps).p <= ALPHA
    assert sign_flip(d, hi - eps).p > ALPHA and sign_flip(d, hi + eps).p <= ALPHA


def test_ties_at_two_and_three_seeds_are_not_resolved():
    # Every seed one epoch faster: sd 0, a zero-width t interval. It never decides: the
    # sign-flip test takes over, whose smallest p is 2 / 2^n (0.5 at n=2, 0.25 at n=3).
    for n in (2, 3):
        r = t_test([-1.0] * n)
        assert r.test.startswith("sign-flip") and r.p == pytest.approx(2 / 2 ** n)
        assert r.interval is None
        assert outcome(r, want=-1, delta=1.0) == NOT_RESOLVED
        assert outcome(r, want=-1, delta=0.5) == NOT_RESOLVED
    assert stats.exact_min(ALPHA) == 6  # 2/2^5 = 0.0625 >= 0.05; 2/2^6 < 0.05
    r6 = t_test([-1.0] * 6)
    assert r6.p == pytest.approx(2 / 64) and outcome(r6, want=-1) == SUPPORTED


def test_a_significant_effect_inside_the_margin_is_negligible():
    # mean 0.0005, CI about [0.0003, 0.0007]: excludes 0, lies inside ±0.002.
    d = [0.0004, 0.0005, 0.0006, 0.0005, 0.0005]
    r = t_test(d)
    assert r.p < 0.001
    assert outcome(r, want=+1, delta=0.002) == NEGLIGIBLE
    assert outcome(r, want=-1, delta=0.002) == NEGLIGIBLE  # either way: too small to matter
    assert outcome(r, want=+1, delta=0.0) == SUPPORTED  # without a margin it counts


def _result(lo: float, hi: float, p: float) -> Result:
    return Result("t", 5, (lo + hi) / 2, (lo, hi), p)


@pytest.mark.parametrize("lo, hi, expected", [
    (-0.0019, 0.0019, NEGLIGIBLE),  # both ends inside
    (-0.0021, 0.0019, NOT_RESOLVED),  # the lower end outside: not negligible
    (-0.0019, 0.0021, NOT_RESOLVED),  # the upper end outside: not negligible
    (0.0001, 0.0021, SUPPORTED),  # excludes 0, pokes out of the band on the claimed side
    (-0.0021, -0.0001, CONTRADICTED),  # against the claimed side
])
def test_each_side_of_the_margin(lo, hi, expected):
    p = 0.01 if lo > 0 or hi < 0 else 0.5  # a p from the same distribution as the interval
    assert outcome(_result(lo, hi, p), want=+1, delta=0.002) == expected


@pytest.mark.parametrize("p, expected", [(0.0499, SUPPORTED), (0.05, NOT_RESOLVED),
                                         (0.0501, NOT_RESOLVED)])
def test_the_p_boundary(p, expected):
    r = _result(0.001, 0.009, p)
    assert outcome(r, want=+1, delta=0.002) == expected
    assert outcome(r, want=+1, delta=0.002, p_adj=p) == expected


def test_holm_turns_p_003_among_four_tests_into_not_resolved():
    ps = [0.03, 0.04, 0.2, 0.6]
    adj = holm(ps)
    # Sorted: 0.03 x 4 = 0.12, 0.04 x 3 = 0.12, 0.2 x 2 = 0.4, 0.6 x 1 -> 0.6 (running max).
    assert adj == pytest.approx([0.12, 0.12, 0.4, 0.6])
    r = _result(0.001, 0.01, 0.03)
    assert outcome(r, +1) == SUPPORTED  # alone, it would be settled
    assert outcome(r, +1, p_adj=adj[0]) == NOT_RESOLVED  # in its family of four, not
    # Step-down: the smallest against 0.05/4, the next against 0.05/3, ...
    assert holm([0.001, 0.02, 0.04]) == pytest.approx([0.003, 0.04, 0.04])
    assert holm([0.01, None]) == [0.02, None]  # a test that could not be made counts as p=1


def test_mcnemar_uses_the_pairing():
    a = [True, True, True, True, True, True, False, False, True, False]
    b = [False, False, False, False, False, False, False, False, True, False]
    r = mcnemar(a, b)
    assert r.counts == {"both": 1, "only_a": 6, "only_b": 0, "neither": 3}
    assert r.p == pytest.approx(sp.binomtest(6, 6, 0.5).pvalue)  # 2 / 64
    assert r.estimate == pytest.approx(0.6) and r.interval is None
    assert outcome(r, want=+1) == SUPPORTED and outcome(r, want=-1) == CONTRADICTED


def test_equal_collapse_rates_under_no_more_often_are_not_contradicted():
    # a collapses in seeds 0, 1; b in seeds 2, 3: equal rates, unpaired counts alike.
    r = mcnemar([True, True, False, False], [False, False, True, True])
    assert r.p == 1.0
    assert outcome(r, want=-1) == NOT_RESOLVED
    nothing = mcnemar([False] * 5, [False] * 5)
    assert outcome(nothing, want=-1) == NOT_RESOLVED
    assert stats.mcnemar_seeds(nothing) is None  # no number of seeds separates them


def test_similarity_is_an_equivalence_test():
    inside = similarity([0.002, 0.004, 0.001, 0.003], 0.01)
    lo, hi = inside.interval
    assert -0.01 < lo and hi < 0.01 and inside.p < ALPHA
    assert outcome(inside, want=0, delta=0.01) == SUPPORTED
    beyond = similarity([0.02, 0.021, 0.019, 0.022], 0.01)
    assert beyond.interval[0] > 0.01 and outcome(beyond, 0, delta=0.01) == CONTRADICTED
    wide = similarity([0.002, 0.02, -0.015], 0.01)
    assert outcome(wide, 0, delta=0.01) == NOT_RESOLVED
    # p < 0.05 exactly when the 95% interval lies inside the margin: at the margin's edge
    d = np.array([0.002, 0.004, 0.001, 0.003])
    edge = d.mean() + sp.t.ppf(0.975, 3) * d.std(ddof=1) / 2  # the interval's upper end
    assert similarity(d, edge * (1 + 1e-9)).p < ALPHA
    assert similarity(d, edge * (1 - 1e-9)).p >= ALPHA


def test_seeds_needed_gives_80_percent_power_at_the_upper_sigma():
    d = [0.004, -0.001, 0.006]
    n = seeds_needed(d, 0.002)
    sigma = stats.sigma_upper(np.std(d, ddof=1), 3)
    assert sigma == pytest.approx(np.std(d, ddof=1) * math.sqrt(2 / sp.chi2.ppf(0.2, 2)))

    def power(k: int) -> float:
        t = sp.t.ppf(0.975, k - 1)
        nc = 0.002 * math.sqrt(k) / sigma
        return sp.nct.sf(t, k - 1, nc) + sp.nct.cdf(-t, k - 1, nc)

    assert power(n) >= 0.8 > power(n - 1)
    # A simulation of the t test at that n and sigma agrees (5,000 draws: +-0.02).
    rng = np.random.default_rng(0)
    x = rng.normal(0.002, sigma, (5000, n))
    rate = np.mean(sp.ttest_1samp(x, 0, axis=1).pvalue < 0.05)
    assert rate == pytest.approx(0.8, abs=0.03)
    assert seeds_needed(d, 0.002, alpha=0.05 / 3) > n  # the strictest Holm step needs more
    assert seeds_needed([0.0, 0.0, 0.0], 0.002, exact=True) == stats.exact_min(0.05)
    assert seeds_needed([0.1], 0.002) == 2 and seeds_needed([], 0.002) is None


def test_exact_binomial_intervals():
    lo, hi = Rate(2, 3).ci95
    ci = sp.binomtest(2, 3).proportion_ci(0.95, method="exact")
    assert (lo, hi) == pytest.approx((ci.low, ci.high))
    assert Rate(2, 3).text() == "2 of 3 (95% CI 0.09–0.99)"


def test_the_variance_ratio_and_its_f_interval():
    a, b = (0.9706, 0.9781, 0.9744), (0.9752, 0.9743, 0.9737)
    v = VarianceRatio(a, b)
    ratio = np.var(a, ddof=1) / np.var(b, ddof=1)
    assert v.ratio == pytest.approx(ratio)
    lo, hi = v.ci95
    assert lo == pytest.approx(ratio / sp.f.ppf(0.975, 2, 2))
    assert hi == pytest.approx(ratio / sp.f.ppf(0.025, 2, 2))
    r = v.result()
    assert r.interval == pytest.approx((math.log(lo), math.log(hi)))
    assert (r.p < ALPHA) == (lo > 1 or hi < 1)  # the p and the interval agree
