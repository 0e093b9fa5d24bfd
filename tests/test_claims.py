"""The claim rules on synthetic results over seeds: each verdict, the paired rule, the
spread rule, collapse counts, and the headline's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fake

from npcnn import claims
from npcnn.claims.rules import SPREAD_RATIO, STEADY_DROP, mean_drop, place
from npcnn.config import TrainConfig
from npcnn.sweep.tables import MIME, Note

C = TrainConfig()


def kernel(accs_by_k):
    return [fake(f"k={k}", C.replace(kernel_size=k), accs, value=k) for k, accs in accs_by_k]


def shift(seq, d):
    return [a + d for a in seq]


def test_claim1_holds_when_every_seed_agrees():
    small = [[0.90, 0.95, 0.950], [0.90, 0.95, 0.951], [0.90, 0.94, 0.949]]
    # larger k: higher in every seed and flat over the late epochs (the last third: 2 of
    # 6); the small k wobbles there and spreads over seeds
    small_noisy = [[0.9, 0.92, 0.93, 0.94, 0.93, 0.96], [0.9, 0.92, 0.93, 0.94, 0.95, 0.91],
                   [0.9, 0.92, 0.93, 0.94, 0.90, 0.94]]
    large = [[0.9, 0.95, 0.96, 0.96, 0.97, 0.97], [0.9, 0.95, 0.96, 0.96, 0.971, 0.971],
             [0.9, 0.95, 0.96, 0.96, 0.969, 0.969]]
    v = claims.verdict(1, kernel([(3, small_noisy), (7, large)]))
    assert [c.ok for c in v.checks] == [True, True, True], v
    assert v.verdict == "holds" and v.n == 3
    # The same with only the first seed: nothing can be established.
    one = claims.verdict(1, kernel([(3, small_noisy[:1]), (7, large[:1])]))
    assert one.verdict == "not resolved at n=1"
    assert claims.verdict(1, kernel([(3, small), (7, [shift(a, -0.01) for a in small])])
                          ).checks[0].ok is False


def test_claim1_is_not_resolved_when_the_sign_flips():
    # The numbers: k=7 - k=3 is -0.0045, +0.0037, +0.0005 over seeds 0-2.
    k3 = [[0.97, 0.9754], [0.97, 0.9743], [0.97, 0.9740]]
    k7 = [[0.97, 0.9709], [0.97, 0.9780], [0.97, 0.9745]]
    v = claims.verdict(1, kernel([(3, k3), (7, k7)]))
    assert v.checks[0].ok is None
    assert "-0.0045, +0.0037, +0.0005" in v.checks[0].measured


def test_spread_counts_collapsed_seeds():
    base = fake("lr=0.01", C, [[0.9, 0.95], [0.9, 0.951], [0.9, 0.952]], value=0.01)
    big = fake("lr=0.5", C.replace(lr=0.5), [[0.9, 0.95], [0.1, 0.1], [0.9, 0.95]],
               statuses=["completed", "collapsed", "completed"], value=0.5)
    small = fake("lr=0.001", C.replace(lr=0.001), [[0.8, 0.90], [0.8, 0.91], [0.8, 0.92]],
                 value=0.001)
    v = claims.verdict(3, [small, base, big])
    assert v.checks[1].ok is True and "collapsed: 1 of 3 vs 0 of 3" in v.checks[1].measured
    assert v.checks[2].ok is True  # the smallest lr is lower in every seed, by > 2 SE
    assert SPREAD_RATIO == 2.0


def test_a_diverged_run_counts_as_chance_from_its_failed_epoch():
    d = fake("lr=1", C.replace(lr=1.0), [[0.9, 0.5]], statuses=["diverged"], epochs=4)
    r = d.runs[0]
    assert list(r.acc()) == [0.9, 0.5, 0.1, 0.1]
    assert r.final_acc == 0.1 and mean_drop(r) == pytest.approx((0.4 + 0.4 + 0) / 3)
    assert d.collapsed == [0]
    # Diverged in its first epoch: no record at all, still a run to compare (at chance).
    first = fake("lr=5", C.replace(lr=5.0), [[]], statuses=["diverged"], epochs=3)
    assert first.runs[0].trained and list(first.runs[0].acc()) == [0.1, 0.1, 0.1]
    assert first.summary("final_acc").mean == 0.1
    assert first.summary("seconds_per_epoch").n == 0  # no epoch, no time: left out


def test_claim5_needs_every_seed_to_collapse():
    small = fake("0.01", C.replace(init_std=0.01), [[0.11, 0.11]] * 3,
                 statuses=["collapsed"] * 3, value=0.01)
    one = fake("1", C, [[0.93, 0.97], [0.92, 0.97], [0.94, 0.97]], value=1.0)
    v = claims.verdict(5, [small, one])
    assert v.verdict == "holds" and "3 of 3 seeds meet it" in v.checks[0].measured
    partly = fake("0.01", C.replace(init_std=0.01), [[0.11, 0.11], [0.5, 0.9], [0.11, 0.11]],
                  statuses=["collapsed", "completed", "collapsed"], value=0.01)
    assert claims.verdict(5, [partly, one]).checks[0].ok is None


def test_claim6_steady_climb_and_noise():
    rng = np.random.default_rng(0)
    noisy = [0.1 + 0.05 * rng.random(90) for _ in range(3)]
    calm = [0.05 + 0.001 * rng.random(90) for _ in range(3)]
    soft = fake("softmax", C, [[0.9, 0.95, 0.96], [0.9, 0.95, 0.961], [0.9, 0.95, 0.962]],
                iter_loss=noisy)
    eucl = fake("euclidean", C.replace(loss="euclidean"),
                [[0.9, 0.93, 0.94], [0.9, 0.93, 0.941], [0.9, 0.93, 0.939]], iter_loss=calm)
    v = claims.verdict(6, [soft, eucl])
    assert [c.ok for c in v.checks] == [True, True, True], v
    drop = fake("softmax", C, [[0.9, 0.95, 0.95 - 2 * STEADY_DROP]] * 3, iter_loss=noisy)
    assert claims.verdict(6, [drop, eucl]).checks[2].ok is False


def test_a_verdict_displays_its_rules_and_carries_its_numbers():
    v = claims.verdict(1, kernel([(3, [[0.9, 0.95]] * 2), (7, [[0.9, 0.96]] * 2)]))
    html = v._repr_html_()
    assert f"Verdict: {v.verdict}." in html and "standard errors" in html
    data = v._repr_mimebundle_()[MIME]
    assert data["kind"] == "verdict" and data["claim"] == 1 and data["n"] == 2
    assert data["verdict"] == v.verdict and len(data["checks"]) == 3


def test_the_headline_places_the_seeds_numbers_and_checks_them():
    default = fake("default", C, [[0.98, 0.982], [0.98, 0.981], [0.98, 0.983]],
                   val_loss=[[0.1, 0.2], [0.2, 0.1], [0.1, 0.2]])
    best = fake("best", C.replace(channels=16), [[0.98, 0.991], [0.98, 0.992], [0.98, 0.993]])
    v = claims.verdict(0, [default, best], is_headline=True)
    assert [c.ok for c in v.checks] == [False, True]  # 0.985 above every seed; 0.990 below
    assert v.verdict == "mixed"
    d = v.numbers["default"]
    assert d["final_acc_mean"] == pytest.approx(0.982) and d["n"] == 3
    # the test accuracy at the epoch of lowest validation loss: epochs 1, 2, 1
    assert d["acc_at_best_val_mean"] == pytest.approx((0.98 + 0.981 + 0.98) / 3)
    assert d["final_acc_place"] == "above every seed (max 0.9830)"
    assert place(0.9815, [0.981, 0.982]) == "within our seeds' range (0.9810–0.9820)"


def test_one_seed_has_no_spread_and_its_numbers_stay_strict_json():
    import json

    v = claims.verdict(0, [fake("default", C, [[0.98, 0.982]]), fake("best", C, [[0.99]])],
                       is_headline=True)
    data = v._repr_mimebundle_()[MIME]
    assert data["numbers"]["default"]["final_acc_sd"] is None  # not NaN: no sd of one value
    json.dumps(data, allow_nan=False)
    assert v.verdict == "not resolved at n=1"


def test_claim0_is_a_note_and_bad_claims_raise():
    assert isinstance(claims.verdict(0, []), Note)
    assert "tests none" in claims.verdict(0, [])._repr_html_()
    with pytest.raises(ValueError):
        claims.verdict(9, [])
