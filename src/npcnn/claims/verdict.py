"""A claim's verdict from its checks, where it holds, and how a page shows them.

Each check has an outcome (supported, contradicted, equivalent, not resolved) and says
whether that agrees with the claim (``Check.holds``). The verdict, over the checks that
count:

    holds                 every one agrees with the claim
    does not hold         none agrees and at least one disagrees
    not resolved at n=N   none is settled either way
    mixed                 otherwise

and ``where`` says, statement by statement and step by step, where the claim holds:
"higher: k=3 → k=5 yes, k=5 → k=7 not resolved; ...".
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from npcnn import datasets, text
from npcnn.claims.checks import Check, seed_words
from npcnn.safeio import json_safe
from npcnn.stats import CONTRADICTED, EQUIVALENT, RULE, SUPPORTED
from npcnn.sweep.tables import MIME, Table

VERDICT_RULE = ("Verdict: a claim holds when every check that counts agrees with it; does "
                "not hold when none agrees and one disagrees (contradicted, or equivalent "
                "where the claim says different); mixed when some agree and others do not "
                "or are not resolved; not resolved when none is settled. A collapse check in "
                "which neither point collapsed compares nothing and does not count.")
MARKS = {SUPPORTED: "✔ supported", CONTRADICTED: "✘ contradicted",
         EQUIVALENT: "≈ equivalent", "not resolved": "— not resolved"}


def word(c: Check) -> str:
    """What a check says of the claim at its step, in one word or three."""
    if c.holds is True:
        return "yes"
    if c.holds is False:
        return "no different" if c.status == EQUIVALENT else "the opposite"
    return "not resolved"


def where(checks: list[Check]) -> str:
    """Statement by statement (aspect), where the claim holds."""
    aspects: dict[str, list[Check]] = {}
    for c in checks:
        if c.counts:
            aspects.setdefault(c.aspect, []).append(c)
    parts = []
    for aspect, cs in aspects.items():
        words = [word(c) for c in cs]
        if len(set(words)) == 1:
            steps = ", ".join(c.step for c in cs if c.step)
            parts.append(f"{aspect}: {words[0]}" + (f" ({steps})" if steps else ""))
        else:
            parts.append(f"{aspect}: " + ", ".join(f"{c.step} {w}" for c, w in
                                                    zip(cs, words, strict=True)))
    return "; ".join(parts)


def _row(c: Check) -> list[Any]:
    """The page's row: claim's words | points | n (excluded) | per seed | 95% interval |
    δ | outcome."""
    d = c.data
    needed = d.get("seeds_needed")
    outcome = MARKS[c.status] + (f" (about {needed} seeds would resolve it)" if needed else "")
    if needed and c.kind == "paired":
        outcome = MARKS[c.status] + f" (about {needed} seeds in which both train would " \
            "resolve it)"
    if not c.counts:
        outcome += " (does not count)"
    if c.kind == "paired":
        n = str(d.get("n", 0)) + (f" ({seed_words(d['excluded'])} left out)"
                                   if d.get("excluded") else "")
        seeds = ", ".join(f"{s}: {x:+.4f}" for s, x in zip(d.get("seeds", []),
                                                           d.get("diffs", []), strict=True))
        lo, hi = d.get("ci95", [None, None])
        ci = "—" if lo is None or lo != lo else f"[{lo:+.4f}, {hi:+.4f}]"
        if d.get("h0"):
            ci += f" vs {d['h0']:+.3f}"
        delta = f"{d.get('delta', 0):g} ({d.get('delta_why', '')})"
        return [c.rule, c.step, n, seeds or "—", ci, delta, outcome]
    if c.kind == "collapse":
        a, b = d.get("collapsed_a", {}), d.get("collapsed_b", {})
        per = (f"{d.get('a')}: {a.get('k')} of {a.get('n')}, {d.get('b')}: {b.get('k')} of "
               f"{b.get('n')}")
        ci = (f"{a.get('ci95', [0, 1])[0]:.2f}–{a.get('ci95', [0, 1])[1]:.2f} vs "
              f"{b.get('ci95', [0, 1])[0]:.2f}–{b.get('ci95', [0, 1])[1]:.2f}; Fisher p = "
              f"{d.get('p', 1):.2g}") if a else "—"
        return [c.rule, c.step, f"{a.get('n', 0)}, {b.get('n', 0)}", per, ci, "—", outcome]
    if c.kind == "spread":
        lo, hi = d.get("ci95", [None, None])
        ci = "—" if lo is None or lo != lo else f"variance ratio {d['ratio']:.3g}, " \
            f"[{lo:.3g}, {hi:.3g}]"
        per = c.measured.split(": ", 1)[-1]
        return [c.rule, c.step, f"{len(d.get('values_a', []))}, "
                f"{len(d.get('values_b', []))}", per, ci,
                f"ratio within 1/{d.get('band', 4):g}–{d.get('band', 4):g}", outcome]
    per = ", ".join(f"{s['seed']}: {s['value']}" for s in d.get("per_seed", [])) or \
        c.measured
    lo, hi = d.get("ci95", [None, None])
    if lo is None or lo != lo:
        ci = "—"
    elif d.get("k") is None:  # a bound on another check's interval
        ci = f"[{lo:+.4f}, {hi:+.4f}]"
    else:
        ci = f"share meeting it {lo:.2f}–{hi:.2f}"
    return [c.rule, c.step or "—", str(d.get("n", "—")), per, ci,
            text.cell(d.get("threshold")), outcome]


@dataclass
class Verdict:
    """A claim's checks and the verdict they give; displays as HTML in a notebook and
    carries its numbers (MIME ``application/vnd.npcnn+json``) for the report's index."""

    claim: int | str  # 1..8, or "headline"
    text: str
    checks: list[Check]
    n: int = 1  # seeds per point
    dataset: str = datasets.DEFAULT
    note: str = ""
    numbers: dict | None = None  # extra JSON-ready numbers for the report's index

    @property
    def counted(self) -> list[Check]:
        return [c for c in self.checks if c.counts]

    @property
    def verdict(self) -> str:
        if not self.checks:
            return "no checks"
        holds = [c.holds for c in self.counted]
        if holds and all(h is True for h in holds):
            return "holds"
        if True in holds:
            return "mixed"
        if False in holds:
            return "does not hold"
        return f"not resolved at n={self.n}"

    @property
    def where(self) -> str:
        return where(self.checks)

    def _repr_html_(self) -> str:
        cols = ["the claim's words", "points compared", "n (excluded)",
                "per seed", "95% interval", "δ", "outcome"]
        table = (Table(cols, [_row(c) for c in self.checks])._repr_html_() if self.checks
                 else "<p>Nothing of the seed's to check here: its numbers are MNIST's. The "
                      "summary table above has ours.</p>")
        title = (f"Seed's claim {self.claim}" if self.claim != "headline"
                 else "The seed's headline numbers")
        on = datasets.get(self.dataset).title
        note = f"<p>{escape(self.note)}</p>" if self.note else ""
        detail = "".join(f"<li><b>{escape(c.rule)}</b> ({escape(c.step or c.kind)}): "
                         f"{escape(c.measured)}</li>" for c in self.checks)
        return (f'<div class="verdict"><p><b>{title}</b> (tested on {escape(on)}): '
                f"“{escape(self.text)}”</p>{table}{note}"
                f"<p><b>Verdict on {escape(on)}: {escape(self.verdict)}.</b> "
                f"{escape(self.where)}</p><details><summary>The numbers of every check"
                f"</summary><ul>{detail}</ul></details><p><small>{escape(VERDICT_RULE)} "
                f"{escape(RULE)}</small></p></div>")

    def __repr__(self) -> str:
        mark = {True: "ok", False: "no", None: "--"}
        lines = [f"claim {self.claim} on {self.dataset}: {self.text}"]
        lines += [f"  [{mark[c.holds]}] {c.rule} ({c.step}): {c.status}: {c.measured}"
                  for c in self.checks]
        return "\n".join([*lines, f"verdict: {self.verdict}: {self.where}"])

    def to_json(self) -> dict:
        return json_safe({"kind": "verdict", "claim": self.claim, "text": self.text,
                          "dataset": datasets.get(self.dataset).id,
                          "verdict": self.verdict, "where": self.where, "n": self.n,
                          "numbers": self.numbers or {},
                          "checks": [c.to_json() for c in self.checks]})

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/html": self._repr_html_(), "text/plain": repr(self),
                MIME: self.to_json()}


__all__ = ["VERDICT_RULE", "MARKS", "Verdict", "word", "where"]
