"""A claim's verdict: each clause's primary test, Holm's adjustment over the claim's
tests, the four outcomes, the claim's word and its one sentence; shown as a forest plot,
then the table, then the steps.

The word comes from the clauses:

    holds            every clause supported
    holds in part    some supported (the page names which)
    does not hold    none supported, and one contradicted or negligible
    not resolved     none settled
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from npcnn import datasets, stats
from npcnn.claims.clauses import Clause
from npcnn.claims.design import seeds_note
from npcnn.claims.metrics import Margin
from npcnn.claims.original import TOPICS
from npcnn.claims.primary import Sample
from npcnn.claims.steps import seed_words
from npcnn.plots.forest import forest, rows_of
from npcnn.safeio import json_safe
from npcnn.stats import CONTRADICTED, NEGLIGIBLE, NOT_RESOLVED, SUPPORTED
from npcnn.sweep.tables import MIME, Table

HOLDS, IN_PART, FAILS, OPEN = "holds", "holds in part", "does not hold", "not resolved"
WORDS = (HOLDS, IN_PART, FAILS, OPEN)
WORD_RULE = ("A claim holds when every clause is supported; holds in part when some are "
             "(named); does not hold when none is and one is contradicted or negligible; is "
             "not resolved when no clause is settled. The steps under a clause describe "
             "where along a sweep an effect shows, each at an unadjusted 95%: they never "
             "decide.")
MARKS = {SUPPORTED: "✔ supported", CONTRADICTED: "✘ contradicted",
         NEGLIGIBLE: "≈ negligible", NOT_RESOLVED: "— not resolved"}
SAYS = {SUPPORTED: "yes", CONTRADICTED: "the opposite", NEGLIGIBLE: "too small to matter",
        NOT_RESOLVED: "not resolved"}


@dataclass
class Finding:
    """A clause, what its test saw, and what it found (``p_holm``, ``outcome`` and
    ``seeds_needed`` set by the verdict, which knows the family)."""

    clause: Clause
    sample: Sample
    result: stats.Result
    margin: Margin
    p_holm: float | None = None
    outcome: str = NOT_RESOLVED
    seeds_needed: int | None = None

    @property
    def is_test(self) -> bool:
        return self.sample.fact is None

    def settle(self, p_holm: float | None, family: int) -> None:
        c, r = self.clause, self.result
        self.p_holm = p_holm
        if not self.is_test:
            self.outcome = SUPPORTED if self.sample.fact[1] else CONTRADICTED
            return
        self.outcome = stats.outcome(r, c.want, c.h0, self.margin.delta, p_holm)
        if self.outcome != NOT_RESOLVED or not r.n:
            return
        alpha = stats.ALPHA / max(1, family)
        if r.counts:
            self.seeds_needed = stats.mcnemar_seeds(r, alpha)
        else:
            # The smallest effect that matters, or the one seen if larger: what the clause
            # needs detected to be settled either way.
            effect = max(self.margin.delta, abs(r.estimate - c.h0))
            self.seeds_needed = stats.seeds_needed(self.sample.values, effect, alpha,
                                                   exact=r.test != "t")

    def numbers(self) -> str:
        """``slope +0.0003 per step, 95% CI [-0.0020, +0.0030], n=3``."""
        r, c = self.result, self.clause
        if self.sample.missing:
            return self.sample.missing
        if not self.is_test:
            return self.sample.what
        if r.counts:
            k = r.counts
            return (f"collapsed at both {k['both']}, only the first {k['only_a']}, only the "
                    f"second {k['only_b']}, neither {k['neither']}, n={r.n}")
        if c.log:
            ci = ("no interval" if r.interval is None else
                  f"95% CI {math.exp(r.interval[0]):.1f}–{math.exp(r.interval[1]):.1f}×")
            return f"ratio {math.exp(r.estimate):.1f}×, {ci}, n={r.n}"
        f = number_format(self.margin.scale)
        what, unit = ("slope", " per step") if c.trend else ("mean", "")
        bound = f" against {c.h0:g}" if c.h0 else ""
        ci = ("no interval" if r.interval is None else
              f"95% CI [{r.interval[0]:{f}}, {r.interval[1]:{f}}]")
        return f"{what} {r.estimate:{f}}{unit}{bound}, {ci}, n={r.n}"

    def to_json(self) -> dict:
        c, r, s = self.clause, self.result, self.sample
        return json_safe({
            "key": c.key, "text": c.words, "name": c.short, "log": c.log,
            "measures": c.metric_words, "what": s.what, "numbers": self.numbers(),
            "kind": c.kind, "test": r.test, "n": r.n, "estimate": r.estimate,
            "interval": list(r.interval) if r.interval else None, "delta": self.margin.delta,
            "delta_why": self.margin.why, "unit": self.margin.scale, "h0": c.h0,
            "want": c.want, "p": r.p, "p_holm": self.p_holm, "outcome": self.outcome,
            "seeds_needed": self.seeds_needed, "seeds": s.seeds, "excluded": s.excluded,
            "values": s.values, "counts": r.counts or None, "missing": s.missing or None,
            "steps": [x.to_json() for x in s.steps]})


def judge(clauses: Sequence[Clause], data: Sequence[Any], dataset: str) -> list[Finding]:
    """Each clause's test on ``data``, then Holm over the claim's tests."""
    found = []
    for c in clauses:
        s = c.sample(data)
        found.append(Finding(c, s, c.test(s, dataset), c.margin(dataset)))
    tests = [f for f in found if f.is_test]
    for f, p in zip(tests, stats.holm([f.result.p for f in tests]), strict=True):
        f.settle(p, len(tests))
    for f in found:
        if not f.is_test:
            f.settle(None, len(tests))
    return found


def word(outcomes: Sequence[str]) -> str:
    if not outcomes:
        return OPEN
    if all(o == SUPPORTED for o in outcomes):
        return HOLDS
    if SUPPORTED in outcomes:
        return IN_PART
    if CONTRADICTED in outcomes or NEGLIGIBLE in outcomes:
        return FAILS
    return OPEN


@dataclass
class Verdict:
    """A claim's findings on one dataset; displays as HTML in a notebook (the forest plot,
    the table, the steps) and carries its numbers (MIME ``application/vnd.npcnn+json``)
    for the report's index."""

    claim: int
    text: str
    findings: list[Finding]
    n: int = 1  # seeds per point
    dataset: str = datasets.DEFAULT
    notes: list[str] = field(default_factory=list)

    @property
    def tests(self) -> int:
        """The size of the claim's Holm family."""
        return sum(f.is_test for f in self.findings)

    @property
    def word(self) -> str:
        return word([f.outcome for f in self.findings])

    @property
    def supported(self) -> list[str]:
        return [f.clause.short for f in self.findings if f.outcome == SUPPORTED]

    @property
    def sentence(self) -> str:
        """The finding in plain words: the claim's topic, then ``detail``."""
        return f"{TOPICS.get(self.claim, '')}: {self.detail}"

    @property
    def detail(self) -> str:
        """Each clause in plain words, one after another."""
        parts = []
        for f in self.findings:
            says = "no: beyond the margin" if (f.clause.want == 0 and
                                               f.outcome == CONTRADICTED) else SAYS[f.outcome]
            part = f"{f.clause.short}: {says} ({f.numbers()}"
            if f.seeds_needed:
                part += f"; {f.seeds_needed} seeds would give 80% power"
            parts.append(part + ")")
        return "; ".join(parts) + "."

    def table(self) -> Table:
        cols = ["clause (the original's words)", "measured", "test", "n (excluded)",
                "estimate", "95% interval", "δ", "p", "p (Holm)", "outcome",
                "seeds for 80% power"]
        rows = []
        for f in self.findings:
            r, s = f.result, f.sample
            n = str(r.n) + (f" ({seed_words(s.excluded)} left out: collapsed)"
                            if s.excluded else "")
            fmt = number_format(f.margin.scale)
            ci = "—" if r.interval is None else f"[{r.interval[0]:{fmt}}, {r.interval[1]:{fmt}}]"
            if f.clause.h0:
                ci += f" vs {f.clause.h0:{fmt}}"
            rows.append([f.clause.words, s.missing or s.what, r.test, n,
                         "—" if math.isnan(r.estimate) else f"{r.estimate:{fmt}}", ci,
                         f"{f.margin.delta:g} ({f.margin.why})" if f.margin.delta
                         else f.margin.why, _p(r.p), _p(f.p_holm), MARKS[f.outcome],
                         f.seeds_needed or "—"])
        return Table(cols, rows)

    def _repr_html_(self) -> str:
        on = escape(datasets.get(self.dataset).title)
        png = forest(rows_of(self.to_json()), f"Claim {self.claim} on {on}").b64()
        part = f" ({', '.join(self.supported)})" if self.word == IN_PART else ""
        steps = "".join(
            f"<h4>{escape(f.clause.words)}</h4>" + _steps_table(f)._repr_html_()
            for f in self.findings if f.sample.steps)
        notes = "".join(f"<p><small>{escape(x)}</small></p>" for x in self.notes)
        return (f'<div class="verdict"><p><b>The original report\'s claim {self.claim}</b> '
                f"(tested on {on}): “{escape(self.text)}”</p>"
                f"<p><b>On {on}: {escape(self.word)}{escape(part)}.</b> "
                f"{escape(self.sentence)}</p>"
                f'<img alt="forest plot of claim {self.claim}" '
                f'src="data:image/png;base64,{png}">'
                f"{self.table()._repr_html_()}"
                f"<p><small>Holm's adjustment over this claim's {self.tests} tests. "
                f"{escape(stats.RULE)} {escape(WORD_RULE)} {escape(stats.SEEDS_RULE)}"
                f"</small></p>{notes}"
                f"<details><summary>Steps under each clause (descriptive, unadjusted)"
                f"</summary>{steps}</details></div>")

    def __repr__(self) -> str:
        lines = [f"claim {self.claim} on {self.dataset}: {self.text}"]
        lines += [f"  [{f.outcome}] {f.clause.words}: {f.numbers()}; p={_p(f.result.p)}, "
                  f"p_holm={_p(f.p_holm)}" for f in self.findings]
        return "\n".join([*lines, f"{self.word}: {self.sentence}"])

    def to_json(self) -> dict:
        return json_safe({"kind": "verdict", "claim": self.claim, "text": self.text,
                          "topic": TOPICS.get(self.claim, ""),
                          "dataset": datasets.get(self.dataset).id, "word": self.word,
                          "supported": self.supported, "sentence": self.sentence,
                          "detail": self.detail,
                          "tests": self.tests, "n": self.n, "notes": self.notes,
                          "clauses": [f.to_json() for f in self.findings]})

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/html": self._repr_html_(), "text/plain": repr(self),
                MIME: self.to_json()}


def number_format(scale: float) -> str:
    """A format showing a tenth of ``scale``: ``+.4f`` for 0.002, ``+.3f`` for 0.095."""
    return f"+.{max(0, 1 - math.floor(math.log10(scale)))}f" if scale > 0 else "+.4g"


def _p(p: float | None) -> str:
    return "—" if p is None else f"{p:.3g}"


def _steps_table(f: Finding) -> Table:
    rows = [[c.rule, c.step, c.kind, c.measured, MARKS.get(c.status, c.status)
             + ("" if c.counts else " (nothing to compare)")] for c in f.sample.steps]
    return Table(["step", "points", "kind", "measured", "unadjusted outcome"], rows)


def verdict(claim: int, clauses: Sequence[Clause], data: Sequence[Any], text: str, n: int,
            dataset: str) -> Verdict:
    return Verdict(claim, text, judge(clauses, data, dataset), n, dataset,
                   [seeds_note(n, dataset)])


__all__ = ["HOLDS", "IN_PART", "FAILS", "OPEN", "WORDS", "WORD_RULE", "MARKS", "Finding",
           "Verdict", "judge", "word", "number_format", "verdict"]
