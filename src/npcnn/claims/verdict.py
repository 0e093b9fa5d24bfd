"""A claim's checks and the verdict they give.

Each check is a stated rule applied to measured numbers, with one of three outcomes:
supported (``ok=True``), contradicted (``ok=False``) or not resolved (``ok=None``: the
numbers do not settle it at this many seeds, or runs are missing). The verdict:

    holds                 every check is supported
    mixed                 some are supported, others contradicted or not resolved
    does not hold         none is supported and at least one is contradicted
    not resolved at n=N   none is supported or contradicted
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from npcnn.safeio import json_safe
from npcnn.stats import RULE as PAIRED_RULE
from npcnn.sweep.tables import MIME, Table

VERDICT_RULE = ("Verdict: holds if every check is supported; mixed if some are and the "
                "others are contradicted or not resolved; does not hold if none is "
                "supported and one is contradicted; not resolved if none is settled either "
                "way.")
MARKS = {True: "✔ supported", False: "✘ contradicted", None: "— not resolved"}


@dataclass
class Check:
    """One stated rule, the numbers it was applied to, and its outcome."""

    rule: str
    measured: str
    ok: bool | None  # None: not resolved (or not computable: ``measured`` says which)


@dataclass
class Verdict:
    """A claim's checks and the verdict they give; displays as HTML in a notebook and
    carries its numbers (MIME ``application/vnd.npcnn+json``) for the report's index."""

    claim: int | str  # 1..8, or "headline"
    text: str
    checks: list[Check]
    n: int = 1  # seeds per point
    note: str = ""
    numbers: dict | None = None  # extra JSON-ready numbers for the report's index

    @property
    def verdict(self) -> str:
        supported = sum(c.ok is True for c in self.checks)
        contradicted = sum(c.ok is False for c in self.checks)
        if self.checks and supported == len(self.checks):
            return "holds"
        if supported:
            return "mixed"
        if contradicted:
            return "does not hold"
        return f"not resolved at n={self.n}"

    def _repr_html_(self) -> str:
        rows = [[c.rule, c.measured, MARKS[c.ok]] for c in self.checks]
        table = Table(["check (rule)", "measured", "outcome"], rows)._repr_html_()
        title = (f"Seed's claim {self.claim}" if self.claim != "headline"
                 else "The seed's headline numbers")
        note = f"<p>{escape(self.note)}</p>" if self.note else ""
        return (f'<div class="verdict"><p><b>{title}:</b> “{escape(self.text)}”</p>{table}'
                f"{note}<p><b>Verdict: {escape(self.verdict)}.</b></p><p><small>"
                f"{escape(VERDICT_RULE)} {escape(PAIRED_RULE)}</small></p></div>")

    def __repr__(self) -> str:
        mark = {True: "ok", False: "no", None: "--"}
        lines = [f"claim {self.claim}: {self.text}"]
        lines += [f"  [{mark[c.ok]}] {c.rule}: {c.measured}" for c in self.checks]
        return "\n".join([*lines, f"verdict: {self.verdict}"])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        data = json_safe({"kind": "verdict", "claim": self.claim, "text": self.text,
                          "verdict": self.verdict, "n": self.n, "numbers": self.numbers or {},
                          "checks": [{"rule": c.rule, "measured": c.measured, "ok": c.ok}
                                     for c in self.checks]})
        return {"text/html": self._repr_html_(), "text/plain": repr(self), MIME: data}


__all__ = ["VERDICT_RULE", "Check", "Verdict"]
