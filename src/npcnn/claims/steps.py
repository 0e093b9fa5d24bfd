"""The steps under a clause: descriptive comparisons, each at an unadjusted 95%, that say
where along a sweep an effect shows (k=3 → 5, 5 → 7). They never decide a clause: its
one primary test does (``npcnn.claims.primary``). Four kinds:

* **paired**: a metric of two points, seed by seed over the seeds in which *neither*
  collapsed (the others named as excluded), read against ``±delta`` like a clause;
* **collapse**: how often two points collapsed (or diverged), paired by seed (both, only
  one, only the other), McNemar's exact test; a step in which nothing collapsed compares
  nothing;
* **spread**: how much a metric varies over seeds at one point against another, the
  variance ratio with its F interval (on the log scale, negligible within the band);
* **threshold**: a property each run has or lacks, per seed: counted (k of n, status
  ``DESCRIBED``), never tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from npcnn import stats
from npcnn.claims.metrics import Margin, Metric, get, metric_name
from npcnn.safeio import json_safe
from npcnn.stats import Rate, VarianceRatio
from npcnn.sweep.results import PointResult, paired

DESCRIBED = "described"  # a threshold step's status: counted, never tested


@dataclass
class Check:
    """One step: ``rule`` (what it compares, in words), ``step`` (the points), ``kind``,
    its unadjusted ``status`` (``npcnn.stats.OUTCOMES``), what it ``measured``, and
    ``data``: its numbers for ``report.json``."""

    rule: str
    step: str
    kind: str  # "paired", "collapse", "spread" or "threshold"
    status: str
    measured: str
    counts: bool = True  # False: a collapse step in which nothing collapsed
    data: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool | None:
        return {stats.SUPPORTED: True, stats.CONTRADICTED: False,
                stats.NEGLIGIBLE: False}.get(self.status)

    def to_json(self) -> dict:
        return json_safe({"rule": self.rule, "step": self.step, "kind": self.kind,
                          "status": self.status, "holds": self.holds, "counts": self.counts,
                          "unadjusted": True, "measured": self.measured, **self.data})


def seed_words(seeds: Sequence[int]) -> str:
    """``seed 0`` or ``seeds 0, 2``."""
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def step_of(a: PointResult, b: PointResult) -> str:
    return f"{b.label} → {a.label}"


def interval_text(r: stats.Result, digits: int = 4) -> str:
    """``[+0.0001, +0.0058]`` or ``—``."""
    if r.interval is None:
        return "—"
    lo, hi = r.interval
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"


def paired_check(rule: str, a: PointResult, b: PointResult, metric: Metric, want: int,
                 margin: Margin, h0: float = 0.0, step: str = "", exact: bool = False
                 ) -> Check:
    """``metric(a) - metric(b)`` seed by seed over the seeds both trained, against the
    claimed side ``want`` of ``h0``; unadjusted."""
    seeds, xa, xb, excluded = paired(a, b, lambda r: get(r, metric))
    diffs = [x - y for x, y in zip(xa, xb, strict=True)]
    r = stats.sign_flip(diffs, h0) if exact else stats.t_test(diffs, h0)
    status = stats.outcome(r, want, h0, margin.delta)
    out = f"; {seed_words(excluded)} left out (one of the two collapsed)" if excluded else ""
    per = ", ".join(f"{d:+.4f}" for d in diffs) or "no seed in which both trained"
    measured = (f"{a.label} − {b.label}: diffs {per}; mean {r.estimate:+.4f}, 95% CI "
                f"{interval_text(r)}, n={r.n}{out}")
    effect = margin.delta or abs(r.estimate - h0)
    needed = (stats.seeds_needed(diffs, effect, exact=exact or r.test != "t")
              if status == stats.NOT_RESOLVED else None)
    data = {"a": a.label, "b": b.label, "metric": metric_name(metric), "test": r.test,
            "seeds": seeds, "excluded": excluded, "diffs": diffs, "n": r.n,
            "mean": r.estimate, "ci95": list(r.interval) if r.interval else None, "p": r.p,
            "delta": margin.delta, "h0": h0, "want": want, "seeds_needed": needed}
    return Check(rule, step or step_of(a, b), "paired", status, measured, data=data)


def collapse_check(rule: str, a: PointResult, b: PointResult, want: int = +1,
                   step: str = "") -> Check:
    """Does ``a`` collapse (or diverge) more often than ``b`` (``want`` +1) or less
    (-1)? Paired by seed over the seeds both finished; McNemar's exact test."""
    ra, rb = a.by_seed(), b.by_seed()
    seeds = [s for s in ra if s in rb and ra[s].finished and rb[s].finished]
    r = stats.mcnemar([ra[s].collapsed for s in seeds], [rb[s].collapsed for s in seeds])
    status = stats.outcome(r, want)
    c = r.counts
    nothing = not (c["both"] or c["only_a"] or c["only_b"])
    measured = (f"no seed collapsed at either point (n={r.n})" if nothing else
                f"collapsed at both {c['both']}, only {a.label} {c['only_a']}, only "
                f"{b.label} {c['only_b']}, neither {c['neither']} of {r.n} seeds; McNemar's "
                f"exact p = {r.p:.3g}")
    data = {"a": a.label, "b": b.label, "test": r.test, "seeds": seeds, "n": r.n,
            **c, "p": r.p, "want": want,
            "collapsed_a": Rate(c["both"] + c["only_a"], r.n).k,
            "collapsed_b": Rate(c["both"] + c["only_b"], r.n).k,
            "seeds_needed": stats.mcnemar_seeds(r) if status == stats.NOT_RESOLVED else None}
    return Check(rule, step or step_of(a, b), "collapse", status, measured,
                 counts=not nothing, data=data)


def spread_check(rule: str, wide: PointResult, narrow: PointResult, metric: Metric,
                 band: float, step: str = "") -> Check:
    """Does ``wide``'s metric spread more over its trained seeds than ``narrow``'s?"""
    va = tuple(get(r, metric) for r in wide.trained)
    vb = tuple(get(r, metric) for r in narrow.trained)
    v = VarianceRatio(va, vb, band)
    r = v.result()
    status = stats.outcome(r, +1, 0.0, math.log(band))
    ci = v.ci95
    data = {"a": wide.label, "b": narrow.label, "metric": metric_name(metric),
            "test": "F", "values_a": list(va), "values_b": list(vb),
            "seeds_a": [x.seed for x in wide.trained],
            "seeds_b": [x.seed for x in narrow.trained], "ratio": v.ratio,
            "ci95": list(ci) if ci else None, "p": r.p, "band": band}
    return Check(rule, step or f"{narrow.label} vs {wide.label}", "spread", status,
                 f"{wide.label} vs {narrow.label}: {v.text()}", data=data)


def threshold_check(rule: str, per_seed: Sequence[tuple[int, bool, str]], step: str = "",
                    threshold: object = None) -> Check:
    """``per_seed``: (seed, meets the threshold, the number it decided on) per run;
    described, k of n with the exact binomial interval, never decided."""
    meets = [m for _, m, _ in per_seed]
    rate = Rate(sum(meets), len(meets))
    measured = (f"{rate.text()} meet it: " + ", ".join(f"{s}: {v}" for s, _, v in per_seed)
                if meets else "runs missing or failed: not computed")
    data = {"per_seed": [{"seed": s, "meets": m, "value": v} for s, m, v in per_seed],
            "k": rate.k, "n": rate.n, "share_ci95": list(rate.ci95),
            "threshold": threshold}
    return Check(rule, step, "threshold", DESCRIBED, measured, data=data)


__all__ = ["DESCRIBED", "Check", "seed_words", "step_of", "interval_text", "paired_check",
           "collapse_check", "spread_check", "threshold_check"]
