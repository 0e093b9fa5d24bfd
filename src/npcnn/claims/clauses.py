"""Every clause of the original report's eight claims, listed once, with the original's
words and the one primary test fixed here, before any data is seen.

A claim makes several statements ("higher and more stable accuracy"); each is a clause
with its own test: what it measures (``primary``), the claimed side (``want``: +1 above
``h0``, -1 below, 0 "similar": within the margin), and the margin of practical
difference it is read against (``metrics``). The clauses of a claim form its Holm family
(``npcnn.claims.verdict``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from npcnn import datasets, stats
from npcnn.claims import metrics as m
from npcnn.claims.metrics import Margin, Metric
from npcnn.claims.primary import (
    Collapse,
    Fact,
    Level,
    MapLevel,
    Pair,
    Pick,
    Sample,
    Trend,
    swept,
)
from npcnn.claims.steps import Check, paired_check, threshold_check
from npcnn.config import BEST, TrainConfig
from npcnn.models import build_network, count_params
from npcnn.sweep.results import PointResult

Source = Trend | Pair | Collapse | Level | MapLevel | Fact


@dataclass(frozen=True)
class Clause:
    """One statement of a claim and its primary test."""

    key: str  # its name in report.json and across datasets, e.g. "higher"
    words: str  # the original report's words, e.g. "higher accuracy"
    metric_words: str  # what is measured, e.g. "late accuracy"
    source: Source
    want: int  # +1: above h0; -1: below; 0: within the margin ("similar")
    margins: Callable[[str], Margin]
    h0: float = 0.0
    exact: bool = False  # an integer or censored metric: the exact sign-flip test
    name: str = ""  # short, for lists and plots: "more stable"; default the words
    log: bool = False  # the metric is a log: numbers are shown as ratios

    @property
    def short(self) -> str:
        return self.name or self.words

    def margin(self, dataset: str) -> Margin:
        return self.margins(dataset)

    @property
    def trend(self) -> bool:
        return isinstance(self.source, Trend)

    @property
    def kind(self) -> str:
        return {Collapse: "collapse", Fact: "fact"}.get(type(self.source), "paired")

    def sample(self, data: Sequence[Any]) -> Sample:
        return self.source.sample(data, self)

    def test(self, s: Sample, dataset: str) -> stats.Result:
        """The clause's test on its sample (``p`` against ``h0``, two-sided)."""
        if s.fact is not None:
            return stats.Result("a count, not a sample: no test", 1, s.fact[0], None, None)
        if s.collapses is not None:
            return stats.mcnemar(*s.collapses)
        if self.want == 0:
            return stats.similarity([v - self.h0 for v in s.values],
                                    self.margin(dataset).delta)
        if self.exact:
            return stats.sign_flip(s.values, self.h0)
        return stats.t_test(s.values, self.h0)


# -- which points a clause compares -----------------------------------------------------


def at(name: str, value: Any) -> Pick:
    """The point of the ``name`` sweep at ``value``."""
    def pick(results: Sequence[PointResult]) -> PointResult | None:
        return next((p for v, p in swept(results, name)
                     if (math.isclose(v, value) if isinstance(v, float) else v == value)),
                    None)
    return pick


def end(name: str, which: int) -> Pick:
    """The smallest (``which`` -1) or largest (+1) point of the ``name`` sweep."""
    def pick(results: Sequence[PointResult]) -> PointResult | None:
        pts = swept(results, name)
        return (pts[-1] if which > 0 else pts[0])[1] if len(pts) >= 2 else None
    return pick


def switched(results: Sequence[PointResult]) -> PointResult | None:
    """Momentum early, none late: the point whose momentum stops after some epochs."""
    return next((p for p in results if p.complete and p.config.momentum_until), None)


def largest_momentum(results: Sequence[PointResult]) -> PointResult | None:
    pts = [(v, p) for v, p in swept(results, "momentum") if not p.config.momentum_until]
    return pts[-1][1] if pts else None


def best_cnn(results: Sequence[PointResult]) -> PointResult | None:
    """The best network (``npcnn.config.BEST``), chosen before this study's data."""
    return next((p for p in results if p.complete and p.config.model == "cnn" and all(
        getattr(p.config, k) == v for k, v in BEST.items())), None)


def default_cnn(results: Sequence[PointResult]) -> PointResult | None:
    """The original's default network (kernel size and channels at their defaults)."""
    d = TrainConfig()
    return next((p for p in results if p.complete and p.config.model == "cnn"
                 and (p.config.kernel_size, p.config.channels) == (d.kernel_size,
                                                                    d.channels)), None)


def best_mlp(results: Sequence[PointResult]) -> PointResult | None:
    """The MLP of the highest mean validation accuracy: chosen without the test set."""
    mlps = [p for p in results if p.complete and p.config.model == "mlp" and p.trained]
    return max(mlps, key=lambda p: p.summary("best_val_acc").mean, default=None)


def original_mlp(results: Sequence[PointResult]) -> PointResult | None:
    """The original report's 784-100-50-10 MLP (its hidden widths)."""
    return next((p for p in results if p.complete and p.config.model == "mlp"
                 and tuple(p.config.hidden) == (100, 50)), None)


# -- extra steps --------------------------------------------------------------------------

TIME_STEP = Margin(math.log(1.1), "10% of the time per epoch")


def each_step_slower(results: Sequence[PointResult]) -> list[Check]:
    """Claim 2: each step of the channel sweep, its log time ratio."""
    pts = swept(results, "channels")
    return [paired_check("each step slower: log seconds per epoch", hi, lo, m.log_seconds,
                         +1, TIME_STEP, step=f"C={v0} → {v1}")
            for (v0, lo), (v1, hi) in zip(pts, pts[1:], strict=False)]


def reach_within(results: Sequence[PointResult]) -> list[Check]:
    """Claim 7: whether the best CNN reaches the converged accuracy by epoch 10."""
    p = best_cnn(results)
    if p is None:
        return []
    return [threshold_check(f"reaches the converged accuracy within {m.REACH_EPOCHS} "
                            "epochs", [(r.seed, r.epochs_to() <= m.REACH_EPOCHS,
                                        str(r.epoch_reaching() or "never"))
                                       for r in p.finished], step=p.label,
                            threshold=m.REACH_EPOCHS)]


def param_share(results: Sequence[PointResult]) -> tuple[float, str] | None:
    cnn, mlp = default_cnn(results), original_mlp(results)
    if cnn is None or mlp is None:
        return None
    a, b = count_params(build_network(cnn.config)), count_params(build_network(mlp.config))
    return a / b, f"{cnn.label} {a:,} vs {mlp.label} {b:,} parameters = {100 * a / b:.2f}%"


def similar_margin(dataset: str) -> Margin:
    n = datasets.get(dataset).n_test
    return Margin(m.SIMILAR_GAP, f"{m.SIMILAR_GAP * n:,.0f} of the {n:,} test images")


LATE = "late accuracy (mean test accuracy over the last third of the epochs)"
LATE_STD = "late std (test accuracy's sd over the last third of the epochs)"
FIRST = "test accuracy after epoch 1"
EPOCHS_TO = "epochs to the converged accuracy (never: one past the last)"
LOG_TIME = "log seconds per epoch (a difference is the log of a time ratio)"
AT_VAL = "test accuracy at the epoch of best validation accuracy"
TIME_BOUND = m.bound(math.log(1.1), f"none: the bound, {m.SLOWER:g} times, is the claim's own")


def _sweep(key: str, words: str, metric_words: str, swept_field: str, label: str,
           metric: Metric, want: int, margins: Callable[[str], Margin], **kw: Any) -> Clause:
    spread = kw.pop("spread", False)
    side = kw.pop("side", 0)
    return Clause(key, words, metric_words, Trend(swept_field, metric, label, side, spread),
                  want, margins, **kw)


CLAUSES: dict[int, list[Clause]] = {
    1: [_sweep("higher", "higher accuracy", LATE, "kernel_size", "k", "late_mean", +1,
               m.acc_margin),
        _sweep("stable", "more stable accuracy", LATE_STD, "kernel_size", "k", "late_std",
               -1, m.wobble_margin, spread=True, name="more stable")],
    2: [_sweep("higher", "higher accuracy", LATE, "channels", "C", "late_mean", +1,
               m.acc_margin),
        _sweep("stable", "more stability", LATE_STD, "channels", "C", "late_std", -1,
               m.wobble_margin, spread=True, name="more stable"),
        _sweep("faster", "faster convergence", EPOCHS_TO, "channels", "C", m.epochs_to, -1,
               m.epochs_margin, exact=True),
        Clause("slower", "but training time grows several-fold", LOG_TIME,
               Pair(end("channels", +1), end("channels", -1), m.log_seconds,
                    each_step_slower), +1, TIME_BOUND, h0=math.log(m.SLOWER),
               name="time grows several-fold", log=True)],
    3: [_sweep("fluctuates", "a large initial learning rate makes the accuracy fluctuate "
               "strongly", "mean epoch-to-epoch drop of test accuracy", "lr", "lr",
               m.mean_drop, +1, m.wobble_margin, side=+1, name="a large lr fluctuates"),
        _sweep("care", "a small one needs care (it ends lower)", LATE, "lr", "lr",
               "late_mean", +1, m.acc_margin, side=-1, name="a small lr ends lower")],
    4: [_sweep("early", "large momentum converges faster early", FIRST, "momentum",
               "momentum", "first_acc", +1, m.acc_margin, name="faster early"),
        _sweep("late", "but is worse late", LATE, "momentum", "momentum", "late_mean", -1,
               m.acc_margin, name="worse late"),
        Clause("switch", "momentum early and none late is suggested (it ends better)", LATE,
               Pair(switched, largest_momentum, "late_mean"), +1, m.acc_margin,
               name="momentum early, none late ends better")],
    5: [Clause("no start", "with init_std 0.01 the CNN does not start training",
               "collapsed (1) or trained (0)", Collapse(at("init_std", 0.01),
                                                        at("init_std", 1.0)), +1,
               m.bound(0.2, "none: a collapse rate, tested exactly"),
               name="init_std 0.01 does not start"),
        _sweep("fast", "with init_std about 1 it converges fast", FIRST, "init_std",
               "init_std", "first_acc", +1, m.acc_margin, name="init_std 1 converges fast")],
    6: [Clause("noisier", "the loss curve is noisier with softmax cross-entropy",
               "std / mean of the per-iteration training loss over the last third",
               Pair(at("loss", "softmax"), at("loss", "euclidean"), m.loss_noise), +1,
               m.noise_margin, name="noisier loss"),
        Clause("steady", "yet its accuracy climbs steadily",
               "largest epoch-to-epoch drop of softmax's test accuracy",
               Level(at("loss", "softmax"), m.largest_drop), -1,
               m.bound(0.001, f"none: the bound, a drop of {m.STEADY_DROP}, is the "
                       "clause's own"), h0=m.STEADY_DROP, name="climbs steadily"),
        Clause("higher", "and ends higher", LATE,
               Pair(at("loss", "softmax"), at("loss", "euclidean"), "late_mean"), +1,
               m.acc_margin, name="ends higher")],
    7: [Clause("similar", "similar best accuracy", AT_VAL,
               Pair(best_cnn, best_mlp, "acc_at_best_val"), 0, similar_margin,
               name="similar accuracy"),
        Clause("higher", "the CNN slightly higher", AT_VAL,
               Pair(best_cnn, best_mlp, "acc_at_best_val"), +1, m.acc_margin,
               name="the CNN higher"),
        Clause("params", "with 2.5% of the parameters",
               "the default CNN's parameters as a share of the 784-100-50-10 MLP's",
               Fact(param_share, lambda share: share < m.PARAM_SHARE), -1,
               m.bound(0.01, f"none: a count, read against {m.PARAM_SHARE:.0%}"),
               h0=m.PARAM_SHARE, name="a small share of the parameters"),
        Clause("fewer epochs", "the CNN converges in fewer epochs (about 0.98 within 10)",
               EPOCHS_TO, Pair(best_cnn, best_mlp, m.epochs_to, reach_within), -1,
               m.epochs_margin, exact=True, name="fewer epochs"),
        Clause("slower", "but each epoch is far slower", LOG_TIME,
               Pair(best_cnn, best_mlp, m.log_seconds), +1, TIME_BOUND,
               h0=math.log(m.SLOWER), name="each epoch far slower", log=True)],
    8: [Clause("shapes", "shows digit shapes",
               "the best channel's correlation of its map with the input image",
               MapLevel(m.shape_score), +1, m.bound(0.1, f"none: the bound, r = "
                                                        f"{m.SHAPE_CORR}, is the clause's own"),
               h0=m.SHAPE_CORR, name="digit shapes"),
        Clause("edges", "and local edges",
               f"how far the best channel clears r(edges) > {m.EDGE_CORR} and r(edges) > "
               "r(image)", MapLevel(m.edge_score), +1,
               m.bound(0.1, "none: the bound is the clause's own"), name="local edges")],
}

__all__ = ["Clause", "CLAUSES", "at", "end", "switched", "largest_momentum", "best_cnn",
           "default_cnn", "best_mlp", "original_mlp", "similar_margin"]
