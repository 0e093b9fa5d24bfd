"""The clauses on hand-made histories: each clause's one primary test (a sweep's trend,
a pair, collapses, a level, a fact), collapsed seeds counted apart, Holm within a claim,
the claim's word from its clauses, the steps that describe but never vote, selection on
validation, and the original's single runs against a prediction interval."""

from __future__ import annotations

import json
from html import unescape

import numpy as np
import pytest
from conftest import fake
from scipy import stats as sp

from npcnn import claims, stats
from npcnn.claims import CLAUSES
from npcnn.claims.headline import place
from npcnn.claims.metrics import EDGE_CORR, SHAPE_CORR, STEADY_DROP, mean_drop
from npcnn.config import BEST, TrainConfig
from npcnn.sweep.tables import MIME, Note

C = TrainConfig()
CLAUSE_KEYS = {"text", "test", "n", "estimate", "interval", "delta", "p", "p_holm",
               "outcome", "seeds_needed", "steps"}


def kernel(accs_by_k, statuses=None):
    return [fake(f"k={k}", C.replace(kernel_size=k), accs, value=k,
                 statuses=(statuses or {}).get(k)) for k, accs in accs_by_k]


def flat(values, epochs=6, rise=0.9):
    """Per seed: a run at ``rise`` after epoch 1, then flat at its value."""
    return [[rise] + [v] * (epochs - 1) for v in values]


def clause(v, key):
    (f,) = [f for f in v.findings if f.clause.key == key]
    return f


def test_every_claim_is_split_into_clauses_with_the_originals_words():
    assert set(CLAUSES) == set(range(1, 9))
    assert [c.key for c in CLAUSES[1]] == ["higher", "stable"]
    assert [c.words for c in CLAUSES[6]] == [
        "the loss curve is noisier with softmax cross-entropy",
        "yet its accuracy climbs steadily", "and ends higher"]
    for number, cs in CLAUSES.items():
        assert len({c.key for c in cs}) == len(cs), number  # keys match across datasets
        assert all(c.want in (-1, 0, 1) for c in cs)


def test_a_sweep_is_decided_by_its_trend_and_its_steps_do_not_vote():
    # k=5 the highest, k=7 back below it in every seed: the steps disagree (up, then
    # down), the trend over the whole sweep is up by less than the margin per step.
    k3 = flat([0.9740, 0.9745, 0.9750])
    k5 = flat([0.9790, 0.9800, 0.9795])
    k7 = flat([0.9760, 0.9770, 0.9768])
    v = claims.verdict(1, kernel([(3, k3), (5, k5), (7, k7)]))
    higher = clause(v, "higher")
    # Each seed's least-squares slope against the rank (0, 1, 2): (y2 - y0) / 2 here.
    slopes = [(0.9760 - 0.9740) / 2, (0.9770 - 0.9745) / 2, (0.9768 - 0.9750) / 2]
    assert higher.sample.values == pytest.approx(slopes)
    ci = sp.ttest_1samp(slopes, 0).confidence_interval(0.95)
    assert higher.result.interval == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert higher.outcome == stats.NEGLIGIBLE  # about 0.001 per step, inside ±0.002
    steps = [s for s in higher.sample.steps if s.kind == "paired"]
    assert [s.step for s in steps] == ["k=3 → 5", "k=5 → 7"]
    assert [s.status for s in steps] == ["supported", "contradicted"]  # described only
    assert all(s.to_json()["unadjusted"] for s in higher.sample.steps)
    assert v.word == "does not hold"


def test_a_collapsed_seed_is_left_out_and_counted_apart():
    # Claim 6's shape: the Euclidean loss collapses in seed 0 and trains in seeds 1, 2.
    soft = fake("softmax", C, flat([0.97, 0.971, 0.969], 15), iter_loss=[[0.5, 0.1] * 30] * 3)
    eucl = fake("euclidean", C.replace(loss="euclidean"),
                [[0.1135] * 15] + flat([0.9346, 0.9362], 15),
                statuses=["collapsed", "completed", "completed"],
                iter_loss=[[0.2, 0.19] * 30] * 3)
    v = claims.verdict(6, [soft, eucl])
    higher = clause(v, "higher")
    assert higher.sample.seeds == [1, 2] and higher.sample.excluded == [0]
    assert higher.sample.values == pytest.approx([0.971 - 0.9346, 0.969 - 0.9362])
    (collapse,) = [s for s in higher.sample.steps if s.kind == "collapse"]
    assert (collapse.data["only_b"], collapse.data["neither"]) == (1, 2)
    assert eucl.summary("final_acc").n == 2  # the summary leaves it out too


def test_the_report_json_of_a_verdict_follows_the_format_and_p_holm_recomputes():
    rng = np.random.default_rng(3)
    pts = [fake(f"C={c}", C.replace(channels=c),
                [[0.9] + list(0.97 + 0.002 * i + 0.001 * rng.standard_normal(8))
                 for _ in range(4)], value=c, seconds=1 + c / 4 + 0.01 * i)
           for i, c in enumerate([4, 8, 16, 32])]
    data = claims.verdict(2, pts)._repr_mimebundle_()[MIME]
    json.dumps(data, allow_nan=False)  # strict JSON
    assert {"word", "tests", "clauses", "sentence"} <= set(data)
    tests = [c for c in data["clauses"] if c["kind"] != "fact"]
    assert data["tests"] == len(tests) == 4
    adjusted = stats.holm([c["p"] for c in tests])
    for c, p_holm in zip(tests, adjusted, strict=True):
        assert CLAUSE_KEYS <= set(c)
        assert c["outcome"] in stats.OUTCOMES
        assert c["p_holm"] == pytest.approx(p_holm)
        if c["outcome"] in ("supported", "contradicted"):
            assert c["p_holm"] < 0.05
            assert c["interval"] is None or c["interval"][1] > c["interval"][0]
    assert data["word"] == "holds in part"  # higher accuracy supported, not all
    assert "higher accuracy" in data["supported"]


def test_the_claims_word_comes_from_its_clauses():
    from npcnn.claims.verdict import word

    S, X, N, O = stats.SUPPORTED, stats.CONTRADICTED, stats.NEGLIGIBLE, stats.NOT_RESOLVED
    assert word([S, S]) == "holds"
    assert word([S, O]) == word([S, X]) == "holds in part"
    assert word([X, O]) == word([N, O]) == "does not hold"
    assert word([O, O]) == "not resolved"


def test_collapse_is_paired_by_seed_in_claim5():
    # init_std 0.01 collapses in 7 of 10 seeds, init_std 1 in none: McNemar 2/2^7.
    statuses = ["collapsed"] * 7 + ["completed"] * 3
    small = fake("init_std=0.01", C.replace(init_std=0.01),
                 [[0.1135] * 4] * 7 + [[0.5, 0.9, 0.95, 0.96]] * 3, statuses=statuses,
                 value=0.01)
    mid = fake("init_std=0.1", C.replace(init_std=0.1), [[0.90, 0.96, 0.97, 0.975]] * 10,
               value=0.1)
    one = fake("init_std=1", C, [[0.93 + 0.001 * s, 0.97, 0.975, 0.976] for s in range(10)],
               value=1.0)
    v = claims.verdict(5, [small, mid, one])
    no_start = clause(v, "no start")
    assert no_start.result.counts == {"both": 0, "only_a": 7, "only_b": 0, "neither": 3}
    assert no_start.result.p == pytest.approx(2 / 2 ** 7)
    fast = clause(v, "fast")
    assert no_start.p_holm == pytest.approx(stats.holm([no_start.result.p,
                                                        fast.result.p])[0])
    assert no_start.outcome == "supported"


def test_claim7_picks_its_mlp_and_epoch_on_validation():
    best_cfg = C.replace(**BEST)
    default = fake("CNN k=3 C=4", C, [[0.95, 0.975, 0.980]] * 3, seconds=1.0)
    best = fake("best", best_cfg, [[0.975, 0.985, 0.988], [0.976, 0.985, 0.989],
                                   [0.977, 0.986, 0.990]], seconds=4.0,
                val_acc=[[0.97, 0.99, 0.98]] * 3)
    # The small MLP has the higher test accuracy, the big one the higher validation
    # accuracy: claim 7 must take the big one.
    small = fake("MLP 784-100-10", C.replace(model="mlp", hidden=(100,), init_std=0.01),
                 [[0.96, 0.980, 0.985]] * 3, seconds=0.3, val_acc=[[0.9, 0.95, 0.96]] * 3)
    big = fake("MLP 784-100-50-10", C.replace(model="mlp", init_std=0.01),
               [[0.96, 0.976, 0.984], [0.96, 0.975, 0.983], [0.96, 0.977, 0.982]],
               seconds=0.35, val_acc=[[0.97, 0.98, 0.975]] * 3)
    v = claims.verdict(7, [default, best, small, big])
    higher = clause(v, "higher")
    assert higher.sample.what.endswith("best − MLP 784-100-50-10, per seed")
    # The CNN at its best validation epoch (2): 0.985, 0.985, 0.986; the MLP at its (2).
    assert higher.sample.values == pytest.approx([0.985 - 0.976, 0.985 - 0.975,
                                                  0.986 - 0.977])
    params = clause(v, "params")
    assert params.outcome == "supported" and "2,158" in params.sample.what
    assert params.result.p is None and v.tests == 4  # a count is not a test
    fewer = clause(v, "fewer epochs")
    assert fewer.result.test.startswith("sign-flip")  # an epoch count: exact
    assert fewer.outcome == "not resolved"  # 3 seeds: the exact test cannot reach 0.05


def test_claim8_scores_each_seeds_maps():
    maps = [{"seed": s, "corr_image": [0.9 - 0.01 * s, 0.2, -0.5],
             "corr_edges": [0.1, 0.45 + 0.01 * s, 0.25]} for s in range(4)]
    v = claims.verdict(8, stats=maps)
    shapes, edges = clause(v, "shapes"), clause(v, "edges")
    assert shapes.sample.values == pytest.approx([0.9, 0.89, 0.88, 0.87])
    assert shapes.clause.h0 == SHAPE_CORR and shapes.outcome == "supported"
    # Channel 1: min(r_edges - 0.3, r_edges - r_image) = 0.15 + 0.01 s.
    assert edges.sample.values == pytest.approx([0.45 + 0.01 * s - EDGE_CORR
                                                 for s in range(4)])


def test_claim6_steady_is_a_level_against_the_claims_bound():
    rng = np.random.default_rng(0)
    noisy = [0.1 + 0.05 * rng.random(90) for _ in range(3)]
    calm = [0.05 + 0.001 * rng.random(90) for _ in range(3)]
    eucl = fake("euclidean", C.replace(loss="euclidean"),
                [[0.9, 0.93, 0.94], [0.9, 0.93, 0.941], [0.9, 0.93, 0.939]], iter_loss=calm)
    drop = fake("softmax", C, [[0.9, 0.95, 0.95 - 2 * STEADY_DROP + 0.001 * s]
                               for s in range(3)], iter_loss=noisy)
    steady = clause(claims.verdict(6, [drop, eucl]), "steady")
    assert steady.clause.h0 == STEADY_DROP and steady.clause.want == -1
    assert steady.result.estimate > STEADY_DROP  # drops of about 0.01: not steady


def test_a_diverged_run_counts_as_chance_and_as_collapsed():
    d = fake("lr=1", C.replace(lr=1.0), [[0.9, 0.5]], statuses=["diverged"], epochs=4)
    r = d.runs[0]
    assert list(r.acc()) == [0.9, 0.5, 0.1, 0.1]
    assert r.final_acc == 0.1 and mean_drop(r) == pytest.approx((0.4 + 0.4 + 0) / 3)
    assert d.collapsed == [0] and d.summary("final_acc").n == 0  # counted apart


def test_the_headline_reads_the_originals_runs_against_a_prediction_interval():
    default = fake("default", C, [[0.98, 0.982], [0.98, 0.981], [0.98, 0.983]])
    best = fake("best", C.replace(**BEST), [[0.98, 0.989], [0.98, 0.990], [0.98, 0.991]])
    h = claims.verdict(0, [default, best], is_headline=True)
    d = h.rows["default"]
    assert d["final_acc_mean"] == pytest.approx(0.982) and d["n"] == 3
    lo, hi = d["final_acc_pi95"]
    hw = sp.t.ppf(0.975, 2) * 0.001 * np.sqrt(1 + 1 / 3)
    assert (lo, hi) == pytest.approx((0.982 - hw, 0.982 + hw))
    # 0.985 lies outside the mean's interval [0.9795, 0.9845] but inside one run's.
    assert d["final_acc_ci95"][1] < 0.985 < hi and d["final_acc_place"] == "inside"
    assert place(0.999, [0.981, 0.982, 0.983]) == "above"
    assert h.rows["best"]["label"] == "best"
    fashion = [fake(p.label, p.config.replace(dataset="fashion"), [[0.8, 0.88]] * 3)
               for p in (default, best)]
    hf = claims.verdict(0, fashion, is_headline=True)
    assert "original_acc" not in hf.rows["default"]
    assert hf.to_json()["dataset"] == "fashion-mnist"


def test_one_seed_stays_strict_json_and_is_not_resolved():
    v = claims.verdict(1, kernel([(3, flat([0.97])), (5, flat([0.975]))]))
    data = v._repr_mimebundle_()[MIME]
    json.dumps(data, allow_nan=False)
    assert v.word == "not resolved"
    h = claims.verdict(0, [fake("default", C, [[0.98, 0.982]]), fake("b", C, [[0.99]])],
                       is_headline=True)
    data = h.to_json()
    json.dumps(data, allow_nan=False)
    assert data["numbers"]["default"]["final_acc_sd"] is None  # no sd of one value


def test_a_verdict_shows_the_picture_first_then_the_table():
    v = claims.verdict(1, kernel([(3, flat([0.97, 0.971])), (5, flat([0.975, 0.974]))]))
    html = unescape(v._repr_html_())
    assert html.index("<img") < html.index("<table")  # the forest plot above the table
    assert "data:image/png;base64," in html and "http" not in html
    assert f"Holm's adjustment over this claim's {v.tests} tests" in html
    for col in ("clause (the original's words)", "95% interval", "δ", "p (Holm)",
                "outcome", "seeds for 80% power"):
        assert col in html


def test_claim0_is_a_note_and_bad_claims_raise():
    assert isinstance(claims.verdict(0, []), Note)
    with pytest.raises(ValueError):
        claims.verdict(9, [])
