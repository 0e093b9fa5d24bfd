"""The seed report's numbers and claims (``seed``), the checks that test them
(``checks``: paired, collapse, spread, threshold), the rules that apply them to measured
runs (``rules``, ``headline``), and the verdicts they give (``verdict``). Verdicts are
computed, never written by hand."""

from __future__ import annotations

from collections.abc import Sequence

from npcnn.claims.checks import Check
from npcnn.claims.headline import headline
from npcnn.claims.rules import RULES, claim8
from npcnn.claims.seed import CLAIMS, DATASET, SEED
from npcnn.claims.verdict import Verdict
from npcnn.datasets import DEFAULT
from npcnn.sweep.results import PointResult
from npcnn.sweep.tables import Note


def verdict(claim: int, results: Sequence[PointResult] = (), is_headline: bool = False,
            stats: Sequence[dict] = (), dataset: str = "") -> Verdict | Note:
    """The verdict on seed claim ``claim`` (1..8) from measured ``results``.

    ``is_headline=True`` compares the first point and the best of the others with the
    seed's headline accuracies (on the seed's dataset; elsewhere it gives the numbers).
    Claim 8 takes ``stats`` (one ``map_stats`` per seed) instead of results. ``claim=0``:
    a note that the study tests no claim. ``dataset``: what the runs trained on (default:
    the results' own).
    """
    n = max((p.n for p in results), default=len(stats) or 1)
    dataset = dataset or (results[0].config.dataset if results else DEFAULT)
    if is_headline:
        checks, numbers = headline(results)
        text = (f"the default network reached about {SEED['default_acc']}; the best "
                f"configuration ({SEED['best_network']}) {SEED['best_acc']}."
                if dataset == DATASET else
                "the default network and the best configuration, 100 epochs (the seed "
                "trained on MNIST alone: it has no numbers to compare with here).")
        return Verdict("headline", text, checks, n, dataset, numbers=numbers)
    if claim == 8:
        return Verdict(8, CLAIMS[8], claim8(stats), n, dataset)
    if claim in RULES:
        return Verdict(claim, CLAIMS[claim], RULES[claim](results), n, dataset)
    if claim == 0:
        return Note("This study tests none of the seed's eight claims; it is reported as "
                    "measured.")
    raise ValueError(f"claim must be 0..8, got {claim!r}")


__all__ = ["SEED", "CLAIMS", "Check", "Verdict", "verdict"]
