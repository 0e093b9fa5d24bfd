"""The rules that test the seed's claims on measured runs, one function per claim.

Every rule compares points of a study over the same seeds. Three kinds:

* paired: a metric of two points, seed by seed (``npcnn.stats.Paired``): supported when
  the difference is established in the claimed direction, contradicted when it is
  established the other way, not resolved otherwise;
* spread: how much a metric varies across seeds, ``sd(a) / sd(b)``, and how many seeds
  collapsed: supported when ``a`` spreads ``SPREAD_RATIO`` times more than ``b`` (or
  more of its seeds collapsed), contradicted when it spreads that much less (and no more
  collapsed), not resolved between;
* every seed: a stated threshold that every seed must meet (supported), that no seed
  meets (contradicted), or that some seeds meet (not resolved).

"Late" accuracy is the mean test accuracy over the last third of a run's epochs; its
"late std" the standard deviation over those epochs (stability across epochs). A run
that diverged counts as chance accuracy from the epoch it failed (``npcnn.sweep.results``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from npcnn.claims.seed import SEED
from npcnn.claims.verdict import Check
from npcnn.config import TrainConfig
from npcnn.stats import Paired
from npcnn.sweep.results import COLLAPSE_ACC, TARGET_ACC, PointResult, RunResult, paired

SPREAD_RATIO = 2.0  # one sd across seeds this many times the other: a different spread
TIME_RATIO_CHANNELS = 3.0  # "training time grows several-fold"
STEADY_DROP = 0.005  # claim 6: a steady climb has no epoch-to-epoch drop larger than this
SIMILAR_GAP = 0.01  # claim 7: "similar best accuracy" = CNN minus MLP within this
PARAM_SHARE = 0.05  # claim 7: the CNN's parameters as a share of the MLP's (seed: 2.5%)
REACH_EPOCHS = 10  # claim 7: "about 0.98 within 10 epochs"
CNN_EPOCH_RATIO = 3.0  # claim 7: "each epoch is far slower"
SHAPE_CORR = 0.5  # claim 8: a map "shows the digit" when it correlates above this
EDGE_CORR = 0.3  # claim 8: a map "shows edges" above this, and more than the digit
SMALL_INIT, UNIT_INIT = 0.01, 1.0  # claim 5's two init_std values
BIG_MLP = (100, 50)  # the seed's 784-100-50-10 MLP

Metric = str | Callable[[RunResult], float]


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


def _get(r: RunResult, metric: Metric) -> float:
    return float(metric(r) if callable(metric) else getattr(r, metric))


# -- the three kinds of rule ----------------------------------------------------------


def compare(rule: str, a: PointResult, b: PointResult, metric: Metric, want: int) -> Check:
    """Paired: ``metric(a) - metric(b)`` seed by seed, ``want`` its claimed sign."""
    xa, xb = paired(a, b, lambda r: _get(r, metric))
    if not xa:
        return missing(rule)
    p = Paired.of(xa, xb)
    ok = None if p.direction == 0 else p.direction == want
    return Check(rule, f"{a.label} − {b.label}: {p.text()}", ok)


def spread(rule: str, wide: PointResult, narrow: PointResult, metric: Metric) -> Check:
    """Spread across seeds: does ``wide`` vary more than ``narrow``?"""
    va = [_get(r, metric) for r in wide.runs if r.trained]
    vb = [_get(r, metric) for r in narrow.runs if r.trained]
    if len(va) < 2 or len(vb) < 2:
        return Check(rule, f"n={min(len(va), len(vb))}: a spread needs 2 seeds", None)
    sa, sb = float(np.std(va, ddof=1)), float(np.std(vb, ddof=1))
    ca, cb = len(wide.collapsed), len(narrow.collapsed)
    ratio = sa / sb if sb > 0 else (math.inf if sa > 0 else 1.0)
    measured = (f"sd over seeds: {wide.label} {sa:.4f}, {narrow.label} {sb:.4f} "
                f"(ratio {ratio:.2g}); collapsed: {ca} of {wide.n} vs {cb} of {narrow.n}")
    if ratio >= SPREAD_RATIO or ca > cb:
        return Check(rule, measured, True)
    if ratio <= 1 / SPREAD_RATIO and ca <= cb:
        return Check(rule, measured, False)
    return Check(rule, measured, None)


def every_seed(rule: str, meets: Sequence[bool], measured: str) -> Check:
    """Every seed meets the threshold (supported), none does (contradicted), some do."""
    if not meets:
        return missing(rule)
    ok = True if all(meets) else (False if not any(meets) else None)
    return Check(rule, f"{measured} ({sum(meets)} of {len(meets)} seeds meet it)", ok)


def missing(rule: str) -> Check:
    return Check(rule, "runs missing or failed: not computed", None)


def _swept(results: Sequence[PointResult], field: str) -> list[tuple[Any, PointResult]]:
    """(value, point) of the points that differ from the others only in ``field``,
    sorted by value: the sweep's points, without the extra points of a study."""
    ok = [p for p in results if p.trained]
    if not ok:
        return []
    others = [{k: v for k, v in p.config.to_dict().items() if k not in (field, "threads")}
              for p in ok]
    base = max(others, key=others.count)  # the configuration most points share
    pts = [(getattr(p.config, field), p) for p, o in zip(ok, others, strict=True) if o == base]
    return sorted(pts, key=lambda x: x[0])


def _seeds_text(values: Sequence[float], digits: int = 4) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


# -- the claims -----------------------------------------------------------------------


def _higher_and_stabler(lo: PointResult | None, hi: PointResult | None,
                        bigger: str) -> list[Check]:
    """"Higher and more stable accuracy" for the ``bigger`` (larger) setting ``hi``
    against ``lo``: late accuracy, stability across late epochs and across seeds."""
    rules = [f"higher accuracy: late accuracy, {bigger} − the smallest, is established > 0",
             f"more stable across late epochs: late std, {bigger} − the smallest, is "
             "established < 0",
             f"more stable across seeds: late accuracy spreads ≥ {SPREAD_RATIO:g}x more over "
             f"seeds (or collapses more often) at the smallest than at {bigger}"]
    if lo is None or hi is None:
        return [missing(r) for r in rules]
    return [compare(rules[0], hi, lo, "late_mean", +1),
            compare(rules[1], hi, lo, "late_std", -1),
            spread(rules[2], lo, hi, "late_mean")]


def _extremes(results: Sequence[PointResult], field: str) -> tuple[Any, Any]:
    """The points of the smallest and the largest swept value (None, None if < 2)."""
    pts = _swept(results, field)
    return (pts[0][1], pts[-1][1]) if len(pts) >= 2 else (None, None)


def claim1(results: Sequence[PointResult]) -> list[Check]:
    return _higher_and_stabler(*_extremes(results, "kernel_size"), "the largest kernel")


def claim2(results: Sequence[PointResult]) -> list[Check]:
    lo, hi = _extremes(results, "channels")
    checks = _higher_and_stabler(lo, hi, "the most channels")
    rules = [f"faster convergence: epochs to reach {TARGET_ACC} (never = one past the last), "
             "most channels − fewest, is established < 0",
             f"training time grows several-fold: seconds per epoch, most channels / fewest, "
             f"≥ {TIME_RATIO_CHANNELS:g} in every seed"]
    if lo is None:
        return checks + [missing(r) for r in rules]
    s_hi, s_lo = paired(hi, lo, lambda r: r.seconds_per_epoch)
    ratios = [a / b for a, b in zip(s_hi, s_lo, strict=True)]
    return checks + [
        compare(rules[0], hi, lo, lambda r: r.epochs_to(), -1),
        every_seed(rules[1], [x >= TIME_RATIO_CHANNELS for x in ratios],
                   f"{hi.label} / {lo.label}: " + ", ".join(f"{x:.1f}x" for x in ratios))]


def claim3(results: Sequence[PointResult], default_lr: float = TrainConfig().lr) -> list[Check]:
    pts = _swept(results, "lr")
    rules = [f"the largest lr fluctuates more: mean epoch-to-epoch drop of test accuracy, "
             f"largest lr − default {default_lr:g}, is established > 0",
             f"the largest lr is less reliable across seeds: its final accuracy spreads "
             f"≥ {SPREAD_RATIO:g}x more than the default's, or more of its seeds collapse "
             "or diverge",
             f"a small lr needs care: late accuracy, smallest lr − default {default_lr:g}, is "
             "established < 0"]
    base = [p for v, p in pts if math.isclose(v, default_lr)]
    if len(pts) < 2 or not base:
        return [missing(r) for r in rules]
    lo, hi = pts[0][1], pts[-1][1]
    return [compare(rules[0], hi, base[0], mean_drop, +1),
            spread(rules[1], hi, base[0], "final_acc"),
            compare(rules[2], lo, base[0], "late_mean", -1)]


def claim4(results: Sequence[PointResult]) -> list[Check]:
    pts = _swept(results, "momentum")
    constant = [(m, p) for m, p in pts if not p.config.momentum_until]
    switched = [p for p in results if p.config.momentum_until and p.trained]
    rules = ["faster early: test accuracy after epoch 1, largest momentum − smallest, is "
             "established > 0",
             "worse late: late accuracy, largest momentum − the best smaller one, is "
             "established < 0",
             "momentum early and none late ends better: late accuracy, switched − largest "
             "momentum throughout, is established > 0"]
    if len(constant) < 2:
        return [missing(r) for r in rules]
    lo, hi = constant[0][1], constant[-1][1]
    best_lower = max((p for _, p in constant[:-1]), key=lambda p: p.summary("late_mean").mean)
    checks = [compare(rules[0], hi, lo, "first_acc", +1),
              compare(rules[1], hi, best_lower, "late_mean", -1)]
    checks.append(compare(rules[2], switched[0], hi, "late_mean", +1) if switched
                  else missing(rules[2]))
    return checks


def claim5(results: Sequence[PointResult]) -> list[Check]:
    pts = _swept(results, "init_std")
    rules = [f"init_std {SMALL_INIT:g} does not start training: every seed collapses (final "
             f"test accuracy < {COLLAPSE_ACC}) or diverges",
             f"init_std {UNIT_INIT:g} converges fast: test accuracy after epoch 1, init_std "
             f"{UNIT_INIT:g} − every other swept value, is established > 0"]
    small = [p for v, p in pts if math.isclose(v, SMALL_INIT)]
    one = [p for v, p in pts if math.isclose(v, UNIT_INIT)]
    checks = []
    if small:
        s = small[0]
        dead = [f"{100 * r.dead_relu:.0f}%" for r in s.runs if r.dead_relu is not None]
        checks.append(every_seed(
            rules[0], [r.seed in s.collapsed for r in s.runs if r.trained],
            f"final accuracy per seed {_seeds_text(s.values('final_acc'))}"
            + (f"; dead ReLU units {', '.join(dead)}" if dead else "")))
    else:
        checks.append(missing(rules[0]))
    others = [p for v, p in pts if not math.isclose(v, UNIT_INIT)]
    if one and others:
        parts = [compare(rules[1], one[0], p, "first_acc", +1) for p in others]
        oks = [c.ok for c in parts]
        ok = True if all(o is True for o in oks) else (False if False in oks else None)
        checks.append(Check(rules[1], "; ".join(c.measured for c in parts), ok))
    else:
        checks.append(missing(rules[1]))
    return checks


def claim6(results: Sequence[PointResult]) -> list[Check]:
    by = {p.config.loss: p for p in results if p.trained}
    rules = ["softmax's loss curve is noisier: std/mean of the per-iteration training loss "
             "over the last third, softmax − Euclidean, is established > 0",
             "softmax ends higher: late accuracy, softmax − Euclidean, is established > 0",
             f"softmax climbs steadily: no epoch-to-epoch drop of test accuracy above "
             f"{STEADY_DROP} and no collapse, in every seed"]
    if "softmax" not in by or "euclidean" not in by:
        return [missing(r) for r in rules]
    s, e = by["softmax"], by["euclidean"]
    drops = [largest_drop(r) for r in s.runs if r.trained]
    steady = [d <= STEADY_DROP and r.seed not in s.collapsed
              for d, r in zip(drops, [r for r in s.runs if r.trained], strict=True)]
    return [compare(rules[0], s, e, loss_noise, +1),
            compare(rules[1], s, e, "late_mean", +1),
            every_seed(rules[2], steady, f"largest drop per seed {_seeds_text(drops)}; "
                       f"collapsed {len(s.collapsed)} of {s.n}")]


def claim7(results: Sequence[PointResult]) -> list[Check]:
    from npcnn.models import build_model, count_params

    cnn = [p for p in results if p.config.model == "cnn" and p.trained]
    mlps = [p for p in results if p.config.model == "mlp" and p.trained]
    rules = [f"similar best accuracy, the CNN slightly higher: best accuracy, CNN − best MLP, "
             f"is established > 0 with a mean of at most {SIMILAR_GAP}",
             f"the CNN has < {100 * PARAM_SHARE:g}% of the parameters of the MLP "
             f"{'-'.join(map(str, (784, *BIG_MLP, 10)))} (the seed: 2.5%)",
             f"the CNN reaches {TARGET_ACC} within {REACH_EPOCHS} epochs in every seed, and "
             "its epochs to get there, CNN − each MLP, are established < 0",
             f"a CNN epoch takes > {CNN_EPOCH_RATIO:g}x the seconds of an MLP "
             f"{'-'.join(map(str, (784, *BIG_MLP, 10)))} epoch, in every seed"]
    if not cnn or not mlps:
        return [missing(r) for r in rules]
    c = cnn[0]
    big = max(mlps, key=lambda p: (tuple(p.config.hidden) == BIG_MLP, len(p.config.hidden)))
    best_mlp = max(mlps, key=lambda p: p.summary("best_acc").mean)
    gap = compare(rules[0], c, best_mlp, "best_acc", +1)
    if gap.ok and Paired.of(*paired(c, best_mlp, lambda r: r.best_acc)).mean > SIMILAR_GAP:
        gap.ok = False
    n_cnn, n_mlp = count_params(build_model(c.config)), count_params(build_model(big.config))
    reach = [r.epochs_to() <= REACH_EPOCHS for r in c.runs if r.trained]
    vs = [compare(rules[2], c, m, lambda r: r.epochs_to(), -1) for m in mlps]
    if not all(reach) or any(v.ok is False for v in vs):
        ok_reach: bool | None = False
    else:
        ok_reach = True if all(v.ok for v in vs) else None
    sc, sm = paired(c, big, lambda r: r.seconds_per_epoch)
    ratios = [a / b for a, b in zip(sc, sm, strict=True)]
    return [
        gap,
        Check(rules[1], f"{n_cnn:,} vs {n_mlp:,} = {100 * n_cnn / n_mlp:.2f}%",
              n_cnn / n_mlp < PARAM_SHARE),
        Check(rules[2], f"CNN epochs to {TARGET_ACC}: "
              f"{', '.join(str(r.epochs_to()) for r in c.runs if r.trained)}; "
              + "; ".join(v.measured for v in vs), ok_reach),
        every_seed(rules[3], [x > CNN_EPOCH_RATIO for x in ratios],
                   f"{c.label} / {big.label}: " + ", ".join(f"{x:.1f}x" for x in ratios)),
    ]


def claim8(stats: Sequence[dict]) -> list[Check]:
    """``stats``: one ``npcnn.activations.map_stats`` per seed: per-channel correlations
    of the first ReLU maps with the input digit and with its edge strength."""
    rules = [f"digit shapes: some channel's map correlates with the digit image at "
             f"r > {SHAPE_CORR}, in every seed",
             f"local edges: some channel's map correlates more with the digit's edge strength "
             f"(gradient magnitude) than with the digit itself, at r > {EDGE_CORR}, in every "
             "seed"]
    img = [np.asarray(s["corr_image"]) for s in stats]
    edge = [np.asarray(s["corr_edges"]) for s in stats]
    shapes = [bool(i.max() > SHAPE_CORR) for i in img]
    edges = [bool(np.any((e > i) & (e > EDGE_CORR))) for i, e in zip(img, edge, strict=True)]
    return [
        every_seed(rules[0], shapes, "best channel per seed: "
                   + ", ".join(f"{i.max():.2f}" for i in img)),
        every_seed(rules[1], edges, "best edge channel per seed: " + ", ".join(
            f"{e[np.argmax(e - i)]:.2f} (vs digit {i[np.argmax(e - i)]:.2f})"
            for i, e in zip(img, edge, strict=True))),
    ]


def place(seed_value: float, values: Sequence[float]) -> str:
    """Where the seed's number falls against ours: above or below every seed, or within
    their range."""
    if not values:
        return "not measured"
    if seed_value > max(values):
        return f"above every seed (max {max(values):.4f})"
    if seed_value < min(values):
        return f"below every seed (min {min(values):.4f})"
    return f"within our seeds' range ({min(values):.4f}–{max(values):.4f})"


def headline(results: Sequence[PointResult]) -> tuple[list[Check], dict]:
    """results[0]: the default network; the best of the others (by mean final accuracy):
    the best network. Checks against the seed's two numbers, and the numbers the index
    shows."""
    rules = [f"the default network's final test accuracy − the seed's {SEED['default_acc']}"
             " is established ≥ 0",
             f"the best network's final test accuracy − the seed's {SEED['best_acc']} is "
             "established ≥ 0"]
    ok = [p for p in results if p.trained]
    if not ok or ok[0] is not results[0]:
        return [missing(r) for r in rules], {}
    rows = {"default": results[0]}
    if ok[1:]:
        rows["best"] = max(ok[1:], key=lambda p: p.summary("final_acc").mean)
    checks, numbers = [], {}
    for (which, p), rule in zip(rows.items(), rules, strict=False):
        target = SEED[f"{which}_acc"]
        final = p.values("final_acc")
        d = Paired.of(final, [target] * len(final))
        checks.append(Check(rule, f"{p.label}: final {p.summary('final_acc').text()}; "
                            f"{d.text()}", None if d.direction == 0 else d.direction > 0))
        numbers[which] = {
            "label": p.label, "n": p.n, "epochs": p.config.epochs,
            "seconds_per_epoch": p.summary("seconds_per_epoch").mean,
            "train_images": p.config.subset or None, "collapsed": len(p.collapsed),
            **{f"{m}_{k}": getattr(p.summary(m), k) for m in
               ("final_acc", "best_acc", "acc_at_best_val") for k in ("mean", "sd")},
            **{f"{m}_place": place(target, p.values(m))
               for m in ("final_acc", "best_acc", "acc_at_best_val")},
            "seed_acc": target,
        }
    if len(checks) < len(rules):
        checks.append(missing(rules[1]))
    return checks, numbers


RULES = {1: claim1, 2: claim2, 3: claim3, 4: claim4, 5: claim5, 6: claim6, 7: claim7}

__all__ = ["SPREAD_RATIO", "TIME_RATIO_CHANNELS", "STEADY_DROP", "SIMILAR_GAP",
           "PARAM_SHARE", "REACH_EPOCHS", "CNN_EPOCH_RATIO", "SHAPE_CORR", "EDGE_CORR",
           "RULES", "mean_drop", "largest_drop", "loss_noise", "compare", "spread",
           "every_seed", "place", "headline", "claim8"]
