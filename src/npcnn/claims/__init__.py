"""The seed report's numbers and claims (``seed``), the rules that test the claims on
measured runs (``rules``), and the verdicts they give (``verdict``). Verdicts are
computed, never written by hand."""

from __future__ import annotations

from collections.abc import Sequence

from npcnn.claims.rules import RULES, claim8, headline
from npcnn.claims.seed import CLAIMS, SEED
from npcnn.claims.verdict import Check, Verdict
from npcnn.sweep.results import PointResult
from npcnn.sweep.tables import Note


def verdict(claim: int, results: Sequence[PointResult] = (), is_headline: bool = False,
            stats: Sequence[dict] = ()) -> Verdict | Note:
    """The verdict on seed claim ``claim`` (1..8) from measured ``results``.

    ``is_headline=True`` compares the first point and the best of the others with the
    seed's headline accuracies. Claim 8 takes ``stats`` (one ``map_stats`` per seed)
    instead of results. ``claim=0``: a note that the study tests no claim.
    """
    n = max((p.n for p in results), default=len(stats) or 1)
    if is_headline:
        checks, numbers = headline(results)
        return Verdict("headline", f"the default network reached about "
                       f"{SEED['default_acc']}; the best configuration "
                       f"({SEED['best_network']}) {SEED['best_acc']}.", checks, n,
                       numbers=numbers)
    if claim == 8:
        return Verdict(8, CLAIMS[8], claim8(stats), n)
    if claim in RULES:
        return Verdict(claim, CLAIMS[claim], RULES[claim](results), n)
    if claim == 0:
        return Note("This study tests none of the seed's eight claims; it is reported as "
                    "measured.")
    raise ValueError(f"claim must be 0..8, got {claim!r}")


__all__ = ["SEED", "CLAIMS", "Check", "Verdict", "verdict"]
