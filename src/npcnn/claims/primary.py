"""What a clause's primary test sees: one number per seed, chosen by a rule fixed before
the data (``Sample``), and the steps described under it.

* ``Trend``: a sweep as a whole. Each seed's least-squares slope of the metric against
  the rank of the swept value (0, 1, 2, ... over the points the clause covers), over the
  points at which that seed trained (a collapsed run is counted apart, never fitted); a
  seed with fewer than two such points is left out. A slope is "per step of the sweep",
  in the metric's units, so it reads against the metric's margin.
* ``Pair``: the one comparison a clause names, ``a - b`` per seed in which both trained.
* ``Collapse``: whether two points collapsed, paired by seed.
* ``Level``: one point's runs (or claim 8's maps) against the claim's own bound.
* ``Fact``: a number with no sampling (a parameter count).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Protocol

import numpy as np

from npcnn import text
from npcnn.claims.metrics import SPREAD_BAND, Margin, Metric, get
from npcnn.claims.steps import (
    Check,
    collapse_check,
    paired_check,
    spread_check,
    threshold_check,
)
from npcnn.config import TrainConfig
from npcnn.sweep.results import PointResult, paired


class Clause(Protocol):
    """What a sample reads of its clause (``npcnn.claims.clauses.Clause``)."""

    words: str
    metric_words: str
    want: int
    h0: float
    exact: bool

    def margin(self, dataset: str) -> Margin: ...

Pick = Callable[[Sequence[PointResult]], "PointResult | None"]


@dataclass
class Sample:
    """One number per seed for a clause's primary test, and what it left out."""

    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)  # collapsed where the test needs it
    what: str = ""  # the numbers in words: "slope of late accuracy per step of k=3, 5, 7"
    steps: list[Check] = field(default_factory=list)
    collapses: tuple[list[bool], list[bool]] | None = None  # Collapse: per seed, a and b
    missing: str = ""  # why there is nothing to test
    fact: tuple[float, bool] | None = None  # Fact: the number, and whether it meets it


def swept(results: Sequence[PointResult], name: str) -> list[tuple[Any, PointResult]]:
    """(value, point) of the points that differ from the others only in ``name``, sorted
    by value: the sweep's points, without a study's extra points."""
    ok = [p for p in results if p.complete]
    if not ok:
        return []
    others = [{k: v for k, v in p.config.to_dict().items() if k not in (name, "threads")}
              for p in ok]
    base = max(others, key=others.count)  # the configuration most points share
    pts = [(getattr(p.config, name), p) for p, o in zip(ok, others, strict=True) if o == base]
    return sorted(pts, key=lambda x: x[0])


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """The least-squares slope of y on x, sum((x - mean x)(y - mean y)) / sum((x -
    mean x)^2): exactly 0 for flat integer data (a solver's rounding would make a tie
    look like a sign to the exact test)."""
    dx = x - x.mean()
    return float(np.dot(dx, y - y.mean()) / np.dot(dx, dx))


def _name(label: str, v: Any) -> str:
    return f"{label}={text.value(v)}"


@dataclass(frozen=True)
class Trend:
    """The sweep of ``field`` (named ``label`` in steps) as a whole; ``side`` +1 keeps
    the default value and above, -1 the default and below, 0 every value."""

    field: str
    metric: Metric
    label: str
    side: int = 0
    spread: bool = False  # steps also compare the spread over seeds

    def points(self, results: Sequence[PointResult]) -> list[tuple[Any, PointResult]]:
        pts = swept(results, self.field)
        default = getattr(TrainConfig(), self.field)
        return [(v, p) for v, p in pts if self.side * (v - default) >= 0] if self.side \
            else pts

    def sample(self, results: Sequence[PointResult], clause: Clause) -> Sample:
        pts = self.points(results)
        if len(pts) < 2:
            return Sample(missing=f"fewer than two points of the {self.field} sweep")
        seeds = sorted({s for _, p in pts for s in p.seeds})
        values, used, excluded = [], [], []
        for s in seeds:
            xy = [(rank, get(p.by_seed()[s], self.metric)) for rank, (_, p) in enumerate(pts)
                  if s in p.by_seed() and p.by_seed()[s].trained]
            if len(xy) < 2:
                excluded.append(s)
                continue
            values.append(slope(*np.array(xy, dtype=float).T))
            used.append(s)
        margin = clause.margin(pts[0][1].config.dataset)
        steps = []
        for (v0, lo), (v1, hi) in pairwise(pts):
            step = f"{_name(self.label, v0)} → {text.value(v1)}"
            steps.append(collapse_check(f"collapses: {hi.label} vs {lo.label}", hi, lo,
                                        +1, step))
            steps.append(paired_check(clause.words, hi, lo, self.metric, clause.want, margin,
                                      step=step, exact=clause.exact))
            if self.spread:
                steps.append(spread_check("spread of late accuracy over seeds, smaller "
                                          "value vs larger", lo, hi, "late_mean",
                                          SPREAD_BAND, step=step))
        what = (f"each seed's slope of {clause.metric_words} per step of "
                f"{self.label} = {', '.join(text.value(v) for v, _ in pts)}")
        return Sample(values, used, excluded, what, steps)


@dataclass(frozen=True)
class Pair:
    """``metric(a) - metric(b)`` per seed in which both trained."""

    a: Pick
    b: Pick
    metric: Metric
    extra: Callable[[Sequence[PointResult]], list[Check]] | None = None  # more steps

    def sample(self, results: Sequence[PointResult], clause: Clause) -> Sample:
        a, b = self.a(results), self.b(results)
        if a is None or b is None:
            return Sample(missing="a point it compares is missing or unfinished")
        seeds, xa, xb, excluded = paired(a, b, lambda r: get(r, self.metric))
        steps = [collapse_check(f"collapses: {a.label} vs {b.label}", a, b, +1)]
        steps += self.extra(results) if self.extra else []
        return Sample([x - y for x, y in zip(xa, xb, strict=True)], seeds, excluded,
                      f"{clause.metric_words}, {a.label} − {b.label}, per seed", steps)


@dataclass(frozen=True)
class Collapse:
    """Whether ``a`` and ``b`` collapsed (or diverged), per seed both finished."""

    a: Pick
    b: Pick

    def sample(self, results: Sequence[PointResult], clause: Clause) -> Sample:
        a, b = self.a(results), self.b(results)
        if a is None or b is None:
            return Sample(missing="a point it compares is missing or unfinished")
        ra, rb = a.by_seed(), b.by_seed()
        seeds = [s for s in ra if s in rb and ra[s].finished and rb[s].finished]
        pairs = ([ra[s].collapsed for s in seeds], [rb[s].collapsed for s in seeds])
        steps = [threshold_check(f"collapsed: {p.label}", [(r.seed, r.collapsed, r.status)
                                                          for r in p.finished], step=p.label)
                 for p in (a, b)]
        return Sample([float(x) - float(y) for x, y in zip(*pairs, strict=True)], seeds, [],
                      f"collapsed, {a.label} vs {b.label}, paired by seed", steps,
                      collapses=pairs)


@dataclass(frozen=True)
class Level:
    """One point's trained runs' ``metric``, read against the clause's bound ``h0``."""

    point: Pick
    metric: Metric

    def sample(self, results: Sequence[PointResult], clause: Clause) -> Sample:
        p = self.point(results)
        if p is None:
            return Sample(missing="its point is missing or unfinished")
        values = [get(r, self.metric) for r in p.trained]
        steps = [threshold_check(f"{clause.metric_words} per seed, against {clause.h0:g}",
                                 [(r.seed, clause.want * (v - clause.h0) > 0, f"{v:.4f}")
                                  for r, v in zip(p.trained, values, strict=True)],
                                 step=p.label, threshold=clause.h0)]
        return Sample(values, [r.seed for r in p.trained], p.collapsed,
                      f"{clause.metric_words} of {p.label}, per seed", steps)


@dataclass(frozen=True)
class MapLevel:
    """Claim 8: one number per seed's maps (``npcnn.probe.map_stats``), against ``h0``."""

    score: Callable[[dict], float]

    def sample(self, maps: Sequence[dict], clause: Clause) -> Sample:
        if not maps:
            return Sample(missing="no trained network's maps")
        values = [self.score(m) for m in maps]
        seeds = [int(m.get("seed", 0)) for m in maps]
        steps = [threshold_check(f"{clause.metric_words} per seed, against {clause.h0:g}",
                                 [(s, clause.want * (v - clause.h0) > 0, f"{v:.2f}")
                                  for s, v in zip(seeds, values, strict=True)],
                                 threshold=clause.h0)]
        return Sample(values, seeds, [], f"{clause.metric_words}, per seed", steps)


@dataclass(frozen=True)
class Fact:
    """A number with no sampling: ``value(results)`` gives (number, words), and the clause
    holds when ``meets(number)``."""

    value: Callable[[Sequence[PointResult]], tuple[float, str] | None]
    meets: Callable[[float], bool]

    def sample(self, results: Sequence[PointResult], clause: Clause) -> Sample:
        got = self.value(results)
        if got is None:
            return Sample(missing="the networks it counts are missing")
        number, words = got
        return Sample([number], [], [], words, [], fact=(number, self.meets(number)))


__all__ = ["Clause", "Pick", "Sample", "swept", "slope", "Trend", "Pair", "Collapse", "Level",
           "MapLevel", "Fact"]
