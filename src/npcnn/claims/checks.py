"""A claim's checks: each one a stated rule, the numbers it decided on, and its outcome.

Four kinds, each a standard test of ``npcnn.stats``:

* **paired**: a metric of two points, seed by seed over the seeds in which *neither*
  collapsed (the others named as excluded): the paired t interval of the mean
  difference against the null value, with a margin ``delta`` of practical difference;
* **collapse**: how often two points collapsed (or diverged), k of n each with its exact
  binomial interval, compared with Fisher's exact test. Every comparison of two points is
  a collapse check and a paired check. A collapse check in which neither point collapsed
  in any seed compares nothing and does not count toward the verdict;
* **spread**: how much a metric varies over seeds at one point against another, the
  variance ratio with its F interval (over the trained seeds of each);
* **threshold**: a property each run has or lacks, claimed for every run ("climbs
  steadily", "some channel shows the digit"), or a number with no seeds at all (a
  parameter count). It stays a threshold because the claim is about each run, not about
  a mean: supported when every seed meets it, contradicted when none does, otherwise not
  resolved; the share that meets it is given with its exact binomial interval.

Outcomes: supported, contradicted, equivalent, not resolved (``npcnn.stats``). Whether an
outcome agrees with the claim is ``holds``: True for supported (and for equivalent where
the claim is one of "about" or "at least", ``equivalent_holds``), False for contradicted
or equivalent, None when not resolved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from npcnn import stats
from npcnn.safeio import json_safe
from npcnn.stats import CollapseTest, Paired, Rate, VarianceRatio
from npcnn.sweep.results import PointResult, RunResult, paired

Metric = str | Callable[[RunResult], float]


@dataclass(frozen=True)
class Margin:
    """A margin of practical difference for a metric, and why it is that size."""

    delta: float
    why: str


@dataclass
class Check:
    """One check of a claim.

    ``rule`` is the claim's words this check tests; ``aspect`` groups the checks of one
    statement over a claim's steps ("higher", at k=3 → 5 and 5 → 7); ``step`` names the
    points compared; ``data`` carries the numbers of its kind for ``report.json``.
    """

    rule: str
    aspect: str
    step: str
    kind: str  # "paired", "collapse", "spread" or "threshold"
    status: str  # npcnn.stats.STATUSES
    holds: bool | None
    measured: str
    counts: bool = True  # False: the check enters no verdict (nothing to compare)
    data: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return json_safe({"rule": self.rule, "aspect": self.aspect, "step": self.step,
                          "kind": self.kind, "status": self.status, "holds": self.holds,
                          "counts": self.counts, "measured": self.measured, **self.data})


def _holds(status: str, equivalent_holds: bool = False) -> bool | None:
    if status == stats.SUPPORTED:
        return True
    if status == stats.CONTRADICTED:
        return False
    if status == stats.EQUIVALENT:
        return equivalent_holds
    return None


def seed_words(seeds: Sequence[int]) -> str:
    """``seed 0`` or ``seeds 0, 2``."""
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def get(r: RunResult, metric: Metric) -> float:
    return float(metric(r) if callable(metric) else getattr(r, metric))


def metric_name(metric: Metric) -> str:
    return metric if isinstance(metric, str) else getattr(metric, "__name__", "metric")


def step_of(a: PointResult, b: PointResult) -> str:
    return f"{b.label} → {a.label}"


# -- the four kinds -------------------------------------------------------------------


def paired_check(rule: str, aspect: str, a: PointResult, b: PointResult, metric: Metric,
                 want: int, margin: Margin, h0: float = 0.0, step: str = "",
                 equivalent_holds: bool = False, name: str = "") -> Check:
    """``metric(a) - metric(b)`` seed by seed over the seeds both trained, claimed
    ``want`` (+1 above ``h0``, -1 below)."""
    seeds, xa, xb, excluded = paired(a, b, lambda r: get(r, metric))
    p = Paired.of(xa, xb, want, margin.delta, h0)
    lo, hi = p.ci95
    status = p.status
    out = "" if not excluded else f"; {seed_words(excluded)} left out (one of the two " \
        "collapsed)"
    numbers = p.text() if seeds else "no seed in which both trained"
    measured = f"{a.label} − {b.label}: {numbers}{out}"
    if h0:
        measured += f"; null value {h0:+.4g}"
    data = {"a": a.label, "b": b.label, "metric": name or metric_name(metric),
            "seeds": seeds, "excluded": excluded, "diffs": list(p.diffs), "n": p.n,
            "mean": p.mean, "ci95": [lo, hi], "delta": margin.delta,
            "delta_why": margin.why, "h0": h0, "want": want,
            "seeds_needed": p.seeds_needed}
    return Check(rule, aspect, step or step_of(a, b), "paired", status,
                 _holds(status, equivalent_holds), measured, data=data)


def collapse_check(rule: str, aspect: str, a: PointResult, b: PointResult, want: int,
                   step: str = "") -> Check:
    """Does ``a`` collapse (or diverge) more often than ``b`` (``want`` +1) or less (-1)?"""
    ra, rb = a.collapse(), b.collapse()
    t = CollapseTest(ra, rb, want)
    status = t.status
    measured = (f"collapsed: {a.label} {ra.text()}, {b.label} {rb.text()}; {t.text()}")
    if t.none_collapsed:
        measured = f"no seed collapsed at either point ({ra.k} of {ra.n}, {rb.k} of {rb.n})"
    data = {"a": a.label, "b": b.label,
            "collapsed_a": {"k": ra.k, "n": ra.n, "seeds": a.collapsed, "ci95": list(ra.ci95)},
            "collapsed_b": {"k": rb.k, "n": rb.n, "seeds": b.collapsed, "ci95": list(rb.ci95)},
            "p": t.p, "want": want, "seeds_needed": t.seeds_needed}
    return Check(rule, aspect, step or step_of(a, b), "collapse", status, _holds(status),
                 measured, counts=not t.none_collapsed, data=data)


def spread_check(rule: str, aspect: str, wide: PointResult, narrow: PointResult,
                 metric: Metric, band: float, step: str = "") -> Check:
    """Does ``wide``'s metric spread more over its trained seeds than ``narrow``'s?"""
    va = tuple(get(r, metric) for r in wide.trained)
    vb = tuple(get(r, metric) for r in narrow.trained)
    v = VarianceRatio(va, vb, +1, band)
    lo, hi = v.ci95
    status = v.status
    measured = f"{wide.label} vs {narrow.label}: {v.text()}"
    data = {"a": wide.label, "b": narrow.label, "metric": metric_name(metric),
            "values_a": list(va), "values_b": list(vb), "seeds_a": [r.seed for r in
                                                                    wide.trained],
            "seeds_b": [r.seed for r in narrow.trained], "ratio": v.ratio,
            "ci95": [lo, hi], "band": band, "seeds_needed": v.seeds_needed}
    return Check(rule, aspect, step or f"{narrow.label} vs {wide.label}", "spread", status,
                 _holds(status), measured, data=data)


def threshold_check(rule: str, aspect: str, per_seed: Sequence[tuple[int, bool, str]],
                    measured: str, step: str = "", threshold: Any = None) -> Check:
    """``per_seed``: (seed, meets the threshold, the number it decided on) per run."""
    meets = [m for _, m, _ in per_seed]
    if not meets:
        status, measured = stats.NOT_RESOLVED, "runs missing or failed: not computed"
    elif all(meets):
        status = stats.SUPPORTED
    elif not any(meets):
        status = stats.CONTRADICTED
    else:
        status = stats.NOT_RESOLVED
    rate = Rate(sum(meets), len(meets))
    if meets:
        measured = f"{measured}; {rate.text()} meet it"
    data = {"per_seed": [{"seed": s, "meets": m, "value": v} for s, m, v in per_seed],
            "k": rate.k, "n": rate.n, "ci95": list(rate.ci95), "threshold": threshold}
    return Check(rule, aspect, step, "threshold", status, _holds(status), measured,
                 data=data)


def fixed_check(rule: str, aspect: str, ok: bool, measured: str, step: str = "",
                threshold: Any = None) -> Check:
    """A threshold on a number with no seeds (e.g. a parameter count)."""
    status = stats.SUPPORTED if ok else stats.CONTRADICTED
    return Check(rule, aspect, step, "threshold", status, ok, measured,
                 data={"per_seed": [], "k": int(ok), "n": 1, "ci95": [math.nan, math.nan],
                       "threshold": threshold})


def within_check(rule: str, aspect: str, of: Check, bound: float) -> Check:
    """Does the 95% interval of the paired check ``of`` lie within ``±bound`` (a claim of
    similarity: "similar best accuracy")? Supported inside, contradicted entirely
    outside, otherwise not resolved."""
    lo, hi = of.data.get("ci95", [math.nan, math.nan])
    if math.isnan(lo):
        status = stats.NOT_RESOLVED
    elif -bound < lo and hi < bound:
        status = stats.SUPPORTED
    elif lo > bound or hi < -bound:
        status = stats.CONTRADICTED
    else:
        status = stats.NOT_RESOLVED
    measured = ("no interval (fewer than 2 seeds)" if math.isnan(lo) else
                f"95% interval of {of.data.get('a')} − {of.data.get('b')}: "
                f"[{lo:+.4f}, {hi:+.4f}]")
    return Check(rule, aspect, of.step, "threshold", status, _holds(status), measured,
                 data={"per_seed": [], "k": None, "n": of.data.get("n", 0),
                       "ci95": [lo, hi], "threshold": bound})


def missing(rule: str, aspect: str, step: str = "", kind: str = "paired") -> Check:
    """A check whose runs are missing or failed."""
    return Check(rule, aspect, step, kind, stats.NOT_RESOLVED, None,
                 "runs missing or failed: not computed", data={"seeds_needed": None})


def comparison(a: PointResult, b: PointResult, aspects: Sequence[tuple[str, str, Metric,
               int, Margin]], better: int = 1, step: str = "",
               collapse_rule: str = "", collapse_aspect: str = "collapses no more often",
               collapse_want: int | None = None) -> list[Check]:
    """Two points compared: their collapse counts, then each ``(rule, aspect, metric,
    want, margin)`` paired over the seeds in which neither collapsed. ``better``: which
    point the claim favours (+1 ``a``, -1 ``b``), so the collapse check's direction is
    that it collapses less, unless ``collapse_want`` says otherwise."""
    want = -better if collapse_want is None else collapse_want
    rule = collapse_rule or (f"{a.label if better > 0 else b.label} collapses no more often "
                             f"than {b.label if better > 0 else a.label}")
    checks = [collapse_check(rule, collapse_aspect, a, b, want, step)]
    checks += [paired_check(r, asp, a, b, m, w, mg, step=step) for r, asp, m, w, mg in aspects]
    return checks


__all__ = ["Metric", "Margin", "Check", "seed_words", "get", "metric_name", "step_of",
           "paired_check", "collapse_check", "spread_check", "threshold_check", "fixed_check",
           "within_check", "missing", "comparison"]
