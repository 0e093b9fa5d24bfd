"""The rules that test the seed's claims on measured runs, one function per claim.

A claim about a sweep ("larger kernel → higher accuracy") is a claim about each step of
it: every step is its own comparison (k=3 → 5 and 5 → 7), and each comparison is a
collapse check and paired checks (``npcnn.claims.checks``). "Late" accuracy is the mean
test accuracy over the last third of a run's epochs, its "late std" the standard
deviation over those epochs (stability across epochs). Margins of practical difference
(``Margin``) are stated with their reason; those on test accuracy are counted in test
images, so they mean the same on every dataset of 10,000 test images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from npcnn import datasets
from npcnn.claims.checks import (
    Check,
    Margin,
    collapse_check,
    comparison,
    fixed_check,
    missing,
    paired_check,
    spread_check,
    threshold_check,
    within_check,
)
from npcnn.config import TrainConfig
from npcnn.sweep.results import PointResult, RunResult, converged_acc

SPREAD_BAND = 4.0  # variance ratio within 1/4..4 (sd within a factor 2): the same spread
STEADY_DROP = 0.005  # claim 6: a steady climb has no epoch-to-epoch drop larger than this
SIMILAR_GAP = 0.01  # claim 7: "similar best accuracy" = CNN minus MLP within this
PARAM_SHARE = 0.05  # claim 7: the CNN's parameters as a share of the MLP's (seed: 2.5%)
REACH_EPOCHS = 10  # claim 7: "about 0.98 within 10 epochs"
SLOWER = 3.0  # claims 2 and 7: "several-fold", "far slower": at least this ratio of time
SHAPE_CORR = 0.5  # claim 8: a map "shows the digit" when it correlates above this
EDGE_CORR = 0.3  # claim 8: a map "shows edges" above this, and more than the digit
SMALL_INIT, UNIT_INIT = 0.01, 1.0  # claim 5's two init_std values
BIG_MLP = (100, 50)  # the seed's 784-100-50-10 MLP (its hidden widths)
EPOCHS = Margin(1.0, "one epoch, what an epoch count can resolve")
NOISE = Margin(0.05, "5% of the loss's mean")
TIME = Margin(math.log(1.1), "10% of the time per epoch")


def acc_margin(dataset: str) -> Margin:
    """0.002 test accuracy on 10,000 test images: 20 images."""
    n = datasets.get(dataset).n_test
    return Margin(20 / n, f"20 of the {n:,} test images")


def wobble_margin(dataset: str) -> Margin:
    n = datasets.get(dataset).n_test
    return Margin(10 / n, f"10 of the {n:,} test images from epoch to epoch")


# -- metrics --------------------------------------------------------------------------


def mean_drop(r: RunResult) -> float:
    """Mean fall of test accuracy from one epoch to the next (rises count as 0)."""
    acc = r.acc()
    if acc.size < 2:
        return float("nan")
    return float(np.mean(np.maximum(0.0, acc[:-1] - acc[1:])))


def largest_drop(r: RunResult) -> float:
    """The largest fall of test accuracy from one epoch to the next (0 if none)."""
    acc = r.acc()
    return float(max(0.0, np.max(acc[:-1] - acc[1:]))) if acc.size > 1 else 0.0


def loss_noise(r: RunResult) -> float:
    """Relative noise of the per-iteration training loss over the last third of the
    iterations: std / mean (scale-free, so two different losses compare)."""
    loss = np.asarray(r.history.get("iter_loss", []), dtype=float)
    loss = loss[-max(1, len(loss) // 3):]
    if loss.size < 2 or not np.all(np.isfinite(loss)) or loss.mean() <= 0:
        return float("nan")
    return float(loss.std() / loss.mean())


def log_seconds(r: RunResult) -> float:
    """log of the median seconds per epoch: a difference of two is the log of a ratio."""
    return math.log(r.seconds_per_epoch)


def _swept(results: Sequence[PointResult], field: str) -> list[tuple[Any, PointResult]]:
    """(value, point) of the points that differ from the others only in ``field``,
    sorted by value: the sweep's points, without the extra points of a study."""
    ok = [p for p in results if p.complete]
    if not ok:
        return []
    others = [{k: v for k, v in p.config.to_dict().items() if k not in (field, "threads")}
              for p in ok]
    base = max(others, key=others.count)  # the configuration most points share
    pts = [(getattr(p.config, field), p) for p, o in zip(ok, others, strict=True) if o == base]
    return sorted(pts, key=lambda x: x[0])


def _dataset(results: Sequence[PointResult]) -> str:
    return results[0].config.dataset if results else datasets.DEFAULT


# -- the claims -----------------------------------------------------------------------


def _higher_and_stabler(lo: PointResult, hi: PointResult, step: str,
                        what: str) -> list[Check]:
    """"Higher and more stable accuracy" for the larger setting ``hi`` against ``lo``:
    collapse, late accuracy, stability across late epochs and across seeds."""
    ds = lo.config.dataset
    checks = comparison(hi, lo, [
        (f"higher accuracy: late accuracy, larger {what} − smaller, > 0", "higher",
         "late_mean", +1, acc_margin(ds)),
        (f"more stable across late epochs: late std, larger {what} − smaller, < 0",
         "more stable across late epochs", "late_std", -1, wobble_margin(ds)),
    ], step=step)
    checks.append(spread_check(
        f"more stable across seeds: late accuracy spreads more over seeds at the smaller "
        f"{what}", "more stable across seeds", lo, hi, "late_mean", SPREAD_BAND, step=step))
    return checks


def _steps(results: Sequence[PointResult], field: str, name: str) -> list[tuple]:
    pts = _swept(results, field)
    return [(p0, p1, f"{name}={v0:g} → {v1:g}" if isinstance(v0, float)
             else f"{name}={v0} → {v1}") for (v0, p0), (v1, p1) in pairwise(pts)]


def claim1(results: Sequence[PointResult]) -> list[Check]:
    steps = _steps(results, "kernel_size", "k")
    if not steps:
        return [missing("higher and more stable accuracy", "higher")]
    return [c for lo, hi, step in steps for c in _higher_and_stabler(lo, hi, step, "kernel")]


def claim2(results: Sequence[PointResult]) -> list[Check]:
    steps = _steps(results, "channels", "C")
    if not steps:
        return [missing("higher accuracy, more stable, faster, slower epochs", "higher")]
    ds = _dataset(results)
    checks = []
    for lo, hi, step in steps:
        checks += _higher_and_stabler(lo, hi, step, "C")
        checks.append(paired_check(
            f"faster convergence: epochs to reach {converged_acc(ds):g} (never = one past "
            "the last), more channels − fewer, < 0", "converges faster", hi, lo,
            lambda r: r.epochs_to(), -1, EPOCHS, step=step, name="epochs_to"))
    first, last = steps[0][0], steps[-1][1]
    checks.append(paired_check(
        f"training time grows several-fold: log seconds per epoch, most channels − fewest, "
        f"> log {SLOWER:g}", "training time grows several-fold", last, first, log_seconds,
        +1, TIME, h0=math.log(SLOWER), step=f"{first.label} → {last.label}",
        equivalent_holds=True))
    return checks


def claim3(results: Sequence[PointResult], default_lr: float = TrainConfig().lr) -> list[Check]:
    pts = _swept(results, "lr")
    base = [p for v, p in pts if math.isclose(v, default_lr)]
    if len(pts) < 2 or not base:
        return [missing("a large lr fluctuates, a small one needs care", "large lr")]
    b, ds = base[0], _dataset(results)
    checks = []
    for v, p in pts:
        step = f"lr={default_lr:g} → {v:g}"
        if v > default_lr:
            checks += comparison(p, b, [
                (f"a large lr fluctuates more: mean epoch-to-epoch drop of test accuracy, "
                 f"lr − {default_lr:g}, > 0", "a larger lr fluctuates more", mean_drop, +1,
                 wobble_margin(ds))], step=step,
                collapse_rule=f"a large lr is less reliable: it collapses or diverges more "
                f"often than lr {default_lr:g}", collapse_aspect="a larger lr collapses "
                "more often", collapse_want=+1)
            checks.append(spread_check(
                f"a large lr is less reliable: its final accuracy spreads more over seeds "
                f"than at lr {default_lr:g}", "a larger lr spreads more over seeds", p, b,
                "final_acc", SPREAD_BAND, step=step))
        elif v < default_lr:
            checks += comparison(p, b, [
                (f"a small lr needs care: late accuracy, lr − {default_lr:g}, < 0",
                 "a smaller lr ends lower", "late_mean", -1, acc_margin(ds))], better=-1,
                step=step)
    return checks


def claim4(results: Sequence[PointResult]) -> list[Check]:
    pts = [(m, p) for m, p in _swept(results, "momentum") if not p.config.momentum_until]
    switched = [p for p in results if p.config.momentum_until and p.complete]
    if len(pts) < 2:
        return [missing("large momentum: faster early, worse late", "faster early")]
    ds = _dataset(results)
    checks = []
    for (v0, lo), (v1, hi) in pairwise(pts):
        checks += comparison(hi, lo, [
            ("faster early: test accuracy after epoch 1, larger momentum − smaller, > 0",
             "faster early", "first_acc", +1, acc_margin(ds)),
            ("worse late: late accuracy, larger momentum − smaller, < 0", "worse late",
             "late_mean", -1, acc_margin(ds))], step=f"momentum={v0:g} → {v1:g}")
    big = pts[-1][1]
    if switched:
        checks += comparison(switched[0], big, [
            ("momentum early and none late ends better: late accuracy, switched − largest "
             "momentum throughout, > 0", "momentum early, none late ends better",
             "late_mean", +1, acc_margin(ds))])
    else:
        checks.append(missing("momentum early and none late ends better",
                              "momentum early, none late ends better"))
    return checks


def claim5(results: Sequence[PointResult]) -> list[Check]:
    """init_std 0.01 against every other value (collapses more often; where it trains,
    ends lower), init_std 1 against every other (after epoch 1, higher): one collapse
    check per pair of points, paired checks over the seeds both trained."""
    pts = _swept(results, "init_std")
    ds = _dataset(results)
    statements = [  # (value, collapse: want, aspect, rule), (metric, want, aspect, rule)
        (SMALL_INIT, (+1, "does not start training (collapses more often)",
                      f"init_std {SMALL_INIT:g} does not start training: it collapses more "
                      "often than init_std {v:g}"),
         ("final_acc", -1, "where it trains, ends lower", "where it does train, it ends "
          f"lower: final accuracy, init_std {SMALL_INIT:g} − {{v:g}}, < 0")),
        (UNIT_INIT, (-1, "collapses no more often", f"init_std {UNIT_INIT:g} collapses no "
                     "more often than {v:g}"),
         ("first_acc", +1, "converges fast", f"init_std {UNIT_INIT:g} converges fast: test "
          f"accuracy after epoch 1, init_std {UNIT_INIT:g} − {{v:g}}, > 0")),
    ]
    checks: list[Check] = []
    compared: set[frozenset] = set()
    for value, (c_want, c_aspect, c_rule), (metric, want, aspect, rule) in statements:
        anchor = next((p for v, p in pts if math.isclose(v, value)), None)
        if anchor is None or len(pts) < 2:
            checks.append(missing(rule.format(v=0), aspect))
            continue
        for v, p in pts:
            if p is anchor:
                continue
            step = f"init_std={v:g} → {value:g}"
            if (pair := frozenset((id(anchor), id(p)))) not in compared:
                compared.add(pair)
                checks.append(collapse_check(c_rule.format(v=v), c_aspect, anchor, p, c_want,
                                             step=step))
            checks.append(paired_check(rule.format(v=v), aspect, anchor, p, metric, want,
                                       acc_margin(ds), step=step))
    return checks


def claim6(results: Sequence[PointResult]) -> list[Check]:
    by = {p.config.loss: p for p in results if p.complete}
    if "softmax" not in by or "euclidean" not in by:
        return [missing("noisier loss, steady climb, ends higher", "ends higher")]
    s, e = by["softmax"], by["euclidean"]
    checks = comparison(s, e, [
        ("softmax's loss curve is noisier: std/mean of the per-iteration training loss "
         "over the last third, softmax − Euclidean, > 0", "noisier loss", loss_noise, +1,
         NOISE),
        ("softmax ends higher: late accuracy, softmax − Euclidean, > 0", "ends higher",
         "late_mean", +1, acc_margin(s.config.dataset))], step="Euclidean → softmax")
    per = [(r.seed, r.trained and largest_drop(r) <= STEADY_DROP,
            "collapsed" if r.collapsed else f"{largest_drop(r):.4f}") for r in s.finished]
    checks.append(threshold_check(
        f"softmax climbs steadily: no epoch-to-epoch drop of test accuracy above "
        f"{STEADY_DROP} and no collapse, in every seed", "climbs steadily", per,
        "largest drop per seed", step="softmax", threshold=STEADY_DROP))
    return checks


def claim7(results: Sequence[PointResult]) -> list[Check]:
    """The best CNN (the headline's best configuration) against the best MLP for
    accuracy, convergence and time; the default CNN against the seed's 784-100-50-10 MLP
    for the parameter share."""
    from npcnn.models import build_network, count_params

    cnns = [p for p in results if p.config.model == "cnn" and p.complete]
    mlps = [p for p in results if p.config.model == "mlp" and p.complete]
    if not cnns or not mlps:
        return [missing("CNN vs MLP", "similar best accuracy")]
    default = cnns[0]
    best = max(cnns, key=lambda p: p.summary("best_acc").mean)
    mlp = max(mlps, key=lambda p: p.summary("best_acc").mean)
    big = next((p for p in mlps if tuple(p.config.hidden) == BIG_MLP), mlps[-1])
    ds = _dataset(results)
    target = converged_acc(ds)
    step = f"{mlp.label} → {best.label}"
    higher = comparison(best, mlp, [
        ("the CNN slightly higher: best test accuracy, best CNN − best MLP, > 0",
         "the CNN higher", "best_acc", +1, acc_margin(ds)),
        (f"the CNN converges in fewer epochs: epochs to reach {target:g}, best CNN − best "
         "MLP, < 0", "converges in fewer epochs", lambda r: r.epochs_to(), -1, EPOCHS)],
        step=step)
    similar = within_check(f"similar best accuracy: the 95% interval of best CNN − best MLP "
                           f"lies within ±{SIMILAR_GAP}", "similar best accuracy", higher[1],
                           SIMILAR_GAP)
    slower = paired_check(f"each CNN epoch is far slower: log seconds per epoch, best CNN − "
                          f"best MLP, > log {SLOWER:g}", "each epoch far slower", best, mlp,
                          log_seconds, +1, TIME, h0=math.log(SLOWER), step=step,
                          equivalent_holds=True)
    checks = [*higher[:2], similar, higher[2], slower]
    n_cnn = count_params(build_network(default.config))
    n_mlp = count_params(build_network(big.config))
    reach = [(r.seed, r.epochs_to() <= REACH_EPOCHS, str(r.epoch_reaching() or "never"))
             for r in best.finished]
    return checks + [
        fixed_check(f"with about 2.5% of the parameters: the default CNN's parameters / "
                    f"the {big.label}'s < {PARAM_SHARE:g}", "a small share of the "
                    "parameters", n_cnn / n_mlp < PARAM_SHARE,
                    f"{default.label} {n_cnn:,} vs {big.label} {n_mlp:,} = "
                    f"{100 * n_cnn / n_mlp:.2f}%", step=f"{big.label} → {default.label}",
                    threshold=PARAM_SHARE),
        threshold_check(f"about {target:g} within {REACH_EPOCHS} epochs: the best CNN "
                        f"reaches {target:g} by epoch {REACH_EPOCHS}, in every seed",
                        f"reaches the converged accuracy within {REACH_EPOCHS} epochs", reach,
                        f"epoch reaching {target:g} per seed", step=best.label,
                        threshold=REACH_EPOCHS),
    ]


def claim8(stats: Sequence[dict]) -> list[Check]:
    """``stats``: one ``npcnn.probe.map_stats`` per seed (seed, per-channel correlations
    of the first ReLU maps with the input image and with its edge strength)."""
    shapes, edges = [], []
    for s in stats:
        img, edge = np.asarray(s["corr_image"]), np.asarray(s["corr_edges"])
        j = int(np.argmax(img))
        shapes.append((s.get("seed", 0), bool(img[j] > SHAPE_CORR), f"ch {j} r={img[j]:.2f}"))
        # The channel that meets the rule, if one does (the strongest edge map of those);
        # else the closest to meeting it: the numbers shown are the ones decided on.
        ok = np.flatnonzero((edge > img) & (edge > EDGE_CORR))
        k = int(ok[np.argmax(edge[ok])]) if ok.size else int(np.argmax(edge - img))
        edges.append((s.get("seed", 0), bool(ok.size),
                      f"ch {k} edges r={edge[k]:.2f} vs image r={img[k]:.2f}"))
    return [
        threshold_check(f"digit shapes: some channel's map correlates with the input image "
                        f"at r > {SHAPE_CORR}, in every seed", "digit shapes", shapes,
                        "best channel per seed", threshold=SHAPE_CORR),
        threshold_check(f"local edges: some channel's map correlates more with the image's "
                        f"edge strength (gradient magnitude) than with the image itself, at "
                        f"r > {EDGE_CORR}, in every seed", "local edges", edges,
                        "the channel deciding, per seed", threshold=EDGE_CORR),
    ]


RULES = {1: claim1, 2: claim2, 3: claim3, 4: claim4, 5: claim5, 6: claim6, 7: claim7}

__all__ = ["SPREAD_BAND", "STEADY_DROP", "SIMILAR_GAP", "PARAM_SHARE", "REACH_EPOCHS",
           "SLOWER", "SHAPE_CORR", "EDGE_CORR", "EPOCHS", "NOISE", "TIME", "RULES",
           "acc_margin", "wobble_margin", "mean_drop", "largest_drop", "loss_noise",
           "log_seconds", "claim8"]
