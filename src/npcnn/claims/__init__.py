"""The original report's claims tested on measured runs.

``original`` (its numbers and eight claims), ``clauses`` (every clause of every claim
with the original's words and its one primary test, fixed before the data), ``primary``
(what each kind of test sees: a sweep's trend, a pair, collapses, a level, a fact),
``metrics`` (what is measured on a run, and the margins), ``steps`` (the descriptive
comparisons under a clause), ``verdict`` (Holm within a claim, the outcomes, the word,
the sentence, the forest plot), ``design`` (how the seeds were chosen), ``headline``
(our numbers beside the original's). Findings are computed, never written by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from npcnn.claims.clauses import CLAUSES
from npcnn.claims.headline import Headline, headline
from npcnn.claims.original import CLAIMS, DATASET, ORIGINAL, TOPICS
from npcnn.claims.verdict import Verdict
from npcnn.claims.verdict import verdict as judge_claim
from npcnn.datasets import DEFAULT
from npcnn.sweep.results import PointResult
from npcnn.sweep.tables import Note


def verdict(claim: int, results: Sequence[PointResult] = (), is_headline: bool = False,
            stats: Sequence[dict] = (), dataset: str = "") -> Verdict | Headline | Note:
    """The verdict on the original report's claim ``claim`` (1..8) from measured
    ``results``.

    ``is_headline=True``: the default network (the first point) and the best network
    beside the original's two accuracies. Claim 8 takes ``stats`` (one ``map_stats`` per
    seed) instead of results. ``claim=0``: a note that the study tests no claim.
    ``dataset``: what the runs trained on (default: the results' own).
    """
    n = max((p.n for p in results), default=len(stats) or 1)
    dataset = dataset or (results[0].config.dataset if results else DEFAULT)
    if is_headline:
        return headline(results)
    if claim == 8:
        return judge_claim(8, CLAUSES[8], stats, CLAIMS[8], n, dataset)
    if claim in CLAUSES:
        return judge_claim(claim, CLAUSES[claim], results, CLAIMS[claim], n, dataset)
    if claim == 0:
        return Note("This study tests none of the original report's eight claims; it is "
                    "reported as measured.")
    raise ValueError(f"claim must be 0..8, got {claim!r}")


__all__ = ["ORIGINAL", "CLAIMS", "CLAUSES", "TOPICS", "DATASET", "Verdict", "Headline",
           "verdict"]
