"""The headline: the default network and the best configuration, 100 epochs, against the
seed's two accuracies (on MNIST, the only dataset the seed trained on; on any other
dataset the numbers alone, with nothing of the seed's to check them against)."""

from __future__ import annotations

from collections.abc import Sequence

from npcnn.claims.checks import Check, missing, paired_check
from npcnn.claims.rules import acc_margin
from npcnn.claims.seed import DATASET, SEED
from npcnn.sweep.results import PointResult


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


def _constant(label: str, value: float, like: PointResult) -> PointResult:
    """A point whose every run "measures" ``value``: the seed's figure, to pair with."""
    import copy

    runs = []
    for r in like.runs:
        twin = copy.copy(r)
        twin.history = {"epochs": [{"epoch": 1, "test_acc": value}]}
        twin.status, twin.label = "completed", label
        runs.append(twin)
    return PointResult(label, value, runs)


def headline(results: Sequence[PointResult]) -> tuple[list[Check], dict]:
    """results[0]: the default network; the best of the others (by mean final accuracy
    over the trained seeds): the best network. On the seed's dataset, a paired check of
    each against the seed's number (ours − seed's, over the trained seeds); and the numbers
    the index shows."""
    ok = [p for p in results if p.complete]
    dataset = results[0].config.dataset if results else DATASET
    rules = [f"the default network's final test accuracy reaches the seed's "
             f"{SEED['default_acc']}: ours − the seed's ≥ 0 (or within the margin)",
             f"the best network's final test accuracy reaches the seed's {SEED['best_acc']}: "
             "ours − the seed's ≥ 0 (or within the margin)"]
    if not ok or ok[0] is not results[0]:
        return ([missing(r, "reaches the seed's accuracy") for r in rules]
                if dataset == DATASET else []), {}
    rows = {"default": results[0]}
    if ok[1:]:
        rows["best"] = max(ok[1:], key=lambda p: p.summary("final_acc").mean)
    checks, numbers = [], {}
    for (which, p), rule in zip(rows.items(), rules, strict=False):
        target = SEED[f"{which}_acc"]
        if dataset == DATASET:
            seed = _constant(f"the seed's {target}", target, p)
            checks.append(paired_check(rule, "reaches the seed's accuracy", p, seed,
                                       "final_acc", +1, acc_margin(dataset),
                                       step=f"{p.label} vs the seed's {target}",
                                       equivalent_holds=True))
        numbers[which] = {
            "label": p.label, "n": p.n, "n_trained": len(p.trained), "epochs": p.config.epochs,
            "seconds_per_epoch": p.summary("seconds_per_epoch").mean,
            "train_images": p.config.subset or None, "collapsed": len(p.collapsed),
            **{f"{m}_{k}": getattr(p.summary(m), k) for m in
               ("final_acc", "best_acc", "acc_at_best_val") for k in ("mean", "sd")},
        }
        if dataset == DATASET:
            numbers[which].update({f"{m}_place": place(target, p.values(m))
                                   for m in ("final_acc", "best_acc", "acc_at_best_val")})
            numbers[which]["seed_acc"] = target
    if dataset == DATASET and len(checks) < len(rules):
        checks.append(missing(rules[1], "reaches the seed's accuracy"))
    return checks, numbers


__all__ = ["place", "headline"]
