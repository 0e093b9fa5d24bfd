"""The claim rules on hand-made histories: a collapsed seed is left out of the paired
check and counted in the collapse check; every step of a sweep is its own check; the
intervals are scipy's; each outcome is reached; each check carries the numbers it
decided on; the headline quotes the seed only on the seed's dataset."""

from __future__ import annotations

import json
import math
from html import unescape

import numpy as np
import pytest
from conftest import fake
from scipy import stats as sp

from npcnn import claims
from npcnn.claims.headline import place
from npcnn.claims.rules import EDGE_CORR, STEADY_DROP, mean_drop
from npcnn.config import TrainConfig
from npcnn.sweep.tables import MIME, Note

C = TrainConfig()
PAIRED_KEYS = {"a", "b", "metric", "seeds", "excluded", "diffs", "n", "mean", "ci95",
               "delta", "seeds_needed"}


def kernel(accs_by_k, statuses=None):
    return [fake(f"k={k}", C.replace(kernel_size=k), accs, value=k,
                 statuses=(statuses or {}).get(k)) for k, accs in accs_by_k]


def flat(values, epochs=6, rise=0.9):
    """Per seed: a run at ``rise`` after epoch 1, then flat at its value."""
    return [[rise] + [v] * (epochs - 1) for v in values]


def by(v, aspect, step=None):
    return [c for c in v.checks if c.aspect == aspect and (step is None or c.step == step)]


def test_a_collapsed_seed_is_left_out_of_the_paired_check_and_counted_apart():
    # Claim 6's shape: the Euclidean loss collapses in seed 0 and trains in seeds 1, 2.
    soft = fake("softmax", C, flat([0.97, 0.971, 0.969], 15), iter_loss=[[0.5, 0.1] * 30] * 3)
    eucl = fake("euclidean", C.replace(loss="euclidean"),
                [[0.1135] * 15] + flat([0.9346, 0.9362], 15),
                statuses=["collapsed", "completed", "completed"],
                iter_loss=[[0.2, 0.19] * 30] * 3)
    v = claims.verdict(6, [soft, eucl])
    (higher,) = by(v, "ends higher")
    assert higher.data["seeds"] == [1, 2] and higher.data["excluded"] == [0]
    assert higher.data["diffs"] == pytest.approx([0.971 - 0.9346, 0.969 - 0.9362])
    assert higher.status == "supported"  # +0.036, +0.033: no longer swamped by seed 0
    (collapse,) = [c for c in v.checks if c.kind == "collapse"]
    assert collapse.data["collapsed_b"] == {"k": 1, "n": 3, "seeds": [0], "ci95": pytest.approx(
        list(sp.binomtest(1, 3).proportion_ci(method="exact")))}
    assert collapse.status == "not resolved" and collapse.counts
    assert v.verdict == "mixed"
    # The mean curve and the summary leave the collapsed seed out too.
    assert eucl.summary("final_acc").n == 2
    assert eucl.summary("final_acc").mean == pytest.approx((0.9346 + 0.9362) / 2)


def test_every_step_of_a_sweep_is_its_own_check_and_says_where_it_holds():
    # k=5 is the highest, k=7 falls back below it in every seed: a non-monotone sweep.
    k3 = flat([0.9740, 0.9745, 0.9750])
    k5 = flat([0.9790, 0.9800, 0.9795])
    k7 = flat([0.9760, 0.9770, 0.9768])
    v = claims.verdict(1, kernel([(3, k3), (5, k5), (7, k7)]))
    steps = [c.step for c in by(v, "higher")]
    assert steps == ["k=3 → 5", "k=5 → 7"]
    up, down = by(v, "higher")
    assert up.status == "supported" and down.status == "contradicted"
    assert v.verdict == "mixed"
    assert "higher: k=3 → 5 yes, k=5 → 7 the opposite" in v.where
    # Nothing collapsed anywhere: the collapse checks compare nothing and do not count.
    assert all(not c.counts for c in v.checks if c.kind == "collapse")


def test_each_paired_check_carries_numbers_that_recompute():
    k3 = flat([0.9740, 0.9752, 0.9737])
    k5 = flat([0.9706, 0.9781, 0.9744])
    v = claims.verdict(1, kernel([(3, k3), (5, k5)]))
    data = v._repr_mimebundle_()[MIME]
    json.dumps(data, allow_nan=False)  # strict JSON
    for check in data["checks"]:
        assert check["kind"] in ("paired", "collapse", "spread", "threshold")
        assert check["status"] in ("supported", "contradicted", "equivalent", "not resolved")
        if check["kind"] != "paired":
            continue
        assert PAIRED_KEYS <= set(check)
        d = np.array(check["diffs"])
        if len(d) >= 2:
            ci = sp.ttest_1samp(d, 0).confidence_interval(0.95)
            # 1e-12: the same t interval, computed twice
            assert check["ci95"] == pytest.approx([ci.low, ci.high], abs=1e-12)
        if check["status"] == "not resolved":
            assert isinstance(check["seeds_needed"], int) and check["seeds_needed"] > 3
        else:
            assert check["seeds_needed"] is None
    (higher,) = [c for c in data["checks"] if c["aspect"] == "higher"]
    assert higher["diffs"] == pytest.approx([0.9706 - 0.9740, 0.9781 - 0.9752,
                                             0.9744 - 0.9737])
    assert higher["status"] == "not resolved" and higher["delta"] == 0.002


def test_equivalent_and_not_resolved_and_one_seed():
    same = flat([0.9750, 0.9760, 0.9755, 0.9752])
    nearly = flat([0.9751, 0.9760, 0.9754, 0.9753])
    v = claims.verdict(1, kernel([(3, same), (5, nearly)]))
    (higher,) = by(v, "higher")
    assert higher.status == "equivalent" and higher.holds is False
    assert "higher: no different" in v.where
    one = claims.verdict(1, kernel([(3, same[:1]), (5, nearly[:1])]))
    assert one.verdict == "not resolved at n=1"
    (h1,) = by(one, "higher")
    assert h1.data["seeds_needed"] == 2


def test_collapse_is_the_finding_of_claim5():
    # init_std 0.01 collapses in seeds 0 and 2 and trains in seed 1, as in the issue.
    small = fake("init_std=0.01", C.replace(init_std=0.01),
                 [[0.1135] * 4, [0.5, 0.9, 0.95, 0.9627], [0.1135] * 4],
                 statuses=["collapsed", "completed", "collapsed"], value=0.01)
    mid = fake("init_std=0.1", C.replace(init_std=0.1), [[0.90, 0.96, 0.97, 0.975]] * 3,
               value=0.1)
    one = fake("init_std=1", C, [[0.93, 0.97, 0.975, 0.976], [0.935, 0.97, 0.975, 0.976],
                                 [0.94, 0.97, 0.975, 0.976]], value=1.0)
    v = claims.verdict(5, [small, mid, one])
    starts = by(v, "does not start training (collapses more often)")
    assert [c.data["collapsed_a"]["k"] for c in starts] == [2, 2]
    assert all(c.status == "not resolved" and c.data["seeds_needed"] for c in starts)
    assert "2 of 3 (95% CI 0.09–0.99)" in starts[0].measured
    (trained,) = by(v, "where it trains, ends lower", "init_std=0.1 → 0.01")
    assert trained.data["seeds"] == [1] and trained.data["excluded"] == [0, 2]
    fast = by(v, "converges fast")
    assert [c.step for c in fast] == ["init_std=0.01 → 1", "init_std=0.1 → 1"]
    assert fast[1].status == "supported"  # after epoch 1: +0.03, +0.035, +0.04


def test_claim7_compares_the_best_cnn_with_the_best_mlp():
    default = fake("CNN k=3 C=4", C, [[0.95, 0.975, 0.980]] * 3, seconds=1.0)
    best = fake("best", C.replace(channels=16, lr=0.05, init_std=0.1),
                [[0.975, 0.985, 0.988], [0.976, 0.985, 0.989], [0.977, 0.986, 0.990]],
                seconds=4.0)
    small = fake("MLP 784-100-10", C.replace(model="mlp", hidden=(100,), init_std=0.01),
                 [[0.95, 0.970, 0.975]] * 3, seconds=0.3)
    big = fake("MLP 784-100-50-10", C.replace(model="mlp", init_std=0.01),
               [[0.96, 0.976, 0.984], [0.96, 0.975, 0.983], [0.96, 0.977, 0.984]],
               seconds=0.35)
    v = claims.verdict(7, [default, best, small, big])
    (higher,) = by(v, "the CNN higher")
    assert (higher.data["a"], higher.data["b"]) == ("best", "MLP 784-100-50-10")
    assert higher.status == "supported"
    (similar,) = by(v, "similar best accuracy")
    assert similar.status == "supported"  # the interval lies within ±0.01
    (share,) = by(v, "a small share of the parameters")
    assert "CNN k=3 C=4 2,158 vs MLP 784-100-50-10 84,060 = 2.57%" in share.measured
    (slower,) = by(v, "each epoch far slower")
    assert slower.data["h0"] == pytest.approx(math.log(3))
    assert slower.data["diffs"] == pytest.approx([math.log(4 / 0.35)] * 3)
    assert slower.status == "supported"
    (reach,) = by(v, "reaches the converged accuracy within 10 epochs")
    assert reach.status == "supported"  # epoch 2 at 0.985 >= 0.98


def test_claim8_shows_the_channel_that_decided():
    # Channel 1 meets the edge rule (edges 0.35 > image 0.2); channel 2 has the largest
    # edge-minus-image gap but edges below the threshold: the page must show channel 1.
    stats = [{"seed": 0, "corr_image": [0.9, 0.2, -0.5], "corr_edges": [0.1, 0.35, 0.25]}]
    v = claims.verdict(8, stats=stats)
    shapes, edges = v.checks
    assert edges.status == "supported"
    assert edges.data["per_seed"] == [{"seed": 0, "meets": True,
                                       "value": "ch 1 edges r=0.35 vs image r=0.20"}]
    assert float(edges.data["per_seed"][0]["value"].split("r=")[1].split()[0]) > EDGE_CORR
    none = claims.verdict(8, stats=[{"seed": 3, "corr_image": [0.9, 0.2],
                                     "corr_edges": [0.1, 0.25]}])
    assert none.checks[1].status == "contradicted"
    assert none.checks[1].data["per_seed"][0]["seed"] == 3


def test_claim6_steady_climb_is_a_threshold_on_every_seed():
    rng = np.random.default_rng(0)
    noisy = [0.1 + 0.05 * rng.random(90) for _ in range(3)]
    calm = [0.05 + 0.001 * rng.random(90) for _ in range(3)]
    soft = fake("softmax", C, [[0.9, 0.95, 0.96], [0.9, 0.95, 0.961], [0.9, 0.95, 0.962]],
                iter_loss=noisy)
    eucl = fake("euclidean", C.replace(loss="euclidean"),
                [[0.9, 0.93, 0.94], [0.9, 0.93, 0.941], [0.9, 0.93, 0.939]], iter_loss=calm)
    v = claims.verdict(6, [soft, eucl])
    assert [c.status for c in v.checks if c.counts] == ["supported"] * 3
    assert v.verdict == "holds"
    drop = fake("softmax", C, [[0.9, 0.95, 0.95 - 2 * STEADY_DROP]] * 3, iter_loss=noisy)
    (steady,) = by(claims.verdict(6, [drop, eucl]), "climbs steadily")
    assert steady.status == "contradicted" and steady.data["k"] == 0


def test_a_diverged_run_counts_as_chance_and_as_collapsed():
    d = fake("lr=1", C.replace(lr=1.0), [[0.9, 0.5]], statuses=["diverged"], epochs=4)
    r = d.runs[0]
    assert list(r.acc()) == [0.9, 0.5, 0.1, 0.1]
    assert r.final_acc == 0.1 and mean_drop(r) == pytest.approx((0.4 + 0.4 + 0) / 3)
    assert d.collapsed == [0] and d.summary("final_acc").n == 0  # counted apart
    first = fake("lr=5", C.replace(lr=5.0), [[]], statuses=["diverged"], epochs=3)
    assert first.runs[0].finished and list(first.runs[0].acc()) == [0.1, 0.1, 0.1]


def test_the_headline_pairs_ours_with_the_seeds_number_on_mnist_only():
    default = fake("default", C, [[0.98, 0.982], [0.98, 0.981], [0.98, 0.983]],
                   val_loss=[[0.1, 0.2], [0.2, 0.1], [0.1, 0.2]])
    best = fake("best", C.replace(channels=16), [[0.98, 0.993], [0.98, 0.994], [0.98, 0.995]])
    v = claims.verdict(0, [default, best], is_headline=True)
    assert [c.status for c in v.checks] == ["contradicted", "supported"]
    assert v.checks[0].data["diffs"] == pytest.approx([0.982 - 0.985, 0.981 - 0.985,
                                                       0.983 - 0.985])
    d = v.numbers["default"]
    assert d["final_acc_mean"] == pytest.approx(0.982) and d["n"] == 3
    assert d["acc_at_best_val_mean"] == pytest.approx((0.98 + 0.981 + 0.98) / 3)
    assert d["final_acc_place"] == "above every seed (max 0.9830)"
    assert place(0.9815, [0.981, 0.982]) == "within our seeds' range (0.9810–0.9820)"
    fashion = [fake(p.label, p.config.replace(dataset="fashion"),
                    [[0.8, 0.88]] * 3) for p in (default, best)]
    vf = claims.verdict(0, fashion, is_headline=True)
    assert vf.checks == [] and vf.verdict == "no checks"
    assert "seed_acc" not in vf.numbers["default"] and "MNIST alone" in vf.text
    assert vf.to_json()["dataset"] == "fashion-mnist"


def test_one_seed_stays_strict_json():
    v = claims.verdict(0, [fake("default", C, [[0.98, 0.982]]), fake("best", C, [[0.99]])],
                       is_headline=True)
    data = v._repr_mimebundle_()[MIME]
    assert data["numbers"]["default"]["final_acc_sd"] is None  # not NaN: no sd of one value
    json.dumps(data, allow_nan=False)
    assert v.verdict == "not resolved at n=1"


def test_a_verdict_displays_one_row_per_check():
    v = claims.verdict(1, kernel([(3, flat([0.97] * 2)), (5, flat([0.975] * 2))]))
    html = unescape(v._repr_html_())
    assert f"Verdict on MNIST: {v.verdict}." in html and "paired t interval" in html
    assert html.count("<tr>") == len(v.checks) + 1  # the header and one row per check
    for col in ("the claim's words", "points compared", "n (excluded)", "per seed",
                "95% interval", "δ", "outcome"):
        assert col in html


def test_claim0_is_a_note_and_bad_claims_raise():
    assert isinstance(claims.verdict(0, []), Note)
    assert "tests none" in claims.verdict(0, [])._repr_html_()
    with pytest.raises(ValueError):
        claims.verdict(9, [])
