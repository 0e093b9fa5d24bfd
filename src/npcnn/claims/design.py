"""How the seeds were chosen, said on every page: a 3-seed pilot on MNIST, the seeds of
each study fixed from it in its ``params/*.yaml``, and what that interim look costs.

The pilot's seeds are tested again in the final runs. A study that looks at its pilot's
seeds, and later tests all of its seeds including those, has two chances to settle a null
effect: ``interim_rate`` simulates that rule and gives the rate at which it does, instead
of ``ALPHA``. Fashion-MNIST runs at the seeds fixed from MNIST: no Fashion-MNIST result
chose them, so its report is a replication.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats as sp

from npcnn import datasets
from npcnn.claims.original import DATASET
from npcnn.stats import ALPHA

PILOT = 3  # the pilot's seeds per point (0, 1, 2) on MNIST
SIMULATIONS = 200_000


@functools.cache
def interim_rate(n: int, pilot: int = PILOT, sims: int = SIMULATIONS) -> float:
    """The share of simulated null studies (normal per-seed numbers, mean 0) that a t test
    settles at 5% either on the first ``pilot`` seeds or on all ``n``: the false-settled
    rate of testing the pilot's seeds again after looking at them. ``ALPHA`` when n is
    the pilot. Fixed random numbers: the same n gives the same rate."""
    if n <= pilot:
        return ALPHA
    x = np.random.default_rng(0).standard_normal((sims, n))

    def settles(k: int) -> np.ndarray:
        y = x[:, :k]
        t = y.mean(1) / (y.std(1, ddof=1) / np.sqrt(k))
        return np.abs(t) > sp.t.ppf(1 - ALPHA / 2, k - 1)

    return float(np.mean(settles(pilot) | settles(n)))


def seeds_note(n: int, dataset: str) -> str:
    """How this page's ``n`` seeds per point were chosen, in one or two sentences."""
    title = datasets.get(dataset).title
    if dataset != DATASET:
        return (f"Seeds: {n} per point, fixed from MNIST's {PILOT}-seed pilot before any "
                f"{title} run: on {title} this is a replication, no result of its own "
                "chose them.")
    if n <= PILOT:
        return (f"Seeds: {n} per point, the {PILOT}-seed pilot's own (seeds 0–{PILOT - 1}); "
                "no look at the data added any.")
    return (f"Seeds: {n} per point, chosen after a look at a {PILOT}-seed pilot (seeds "
            f"0–{PILOT - 1}), which are tested again here: a study that looks at {PILOT} "
            f"seeds and then tests all {n} settles a null effect in "
            f"{interim_rate(n):.1%} of {SIMULATIONS:,} simulated studies, not "
            f"{ALPHA:.0%} (npcnn.claims.design.interim_rate).")


__all__ = ["PILOT", "SIMULATIONS", "interim_rate", "seeds_note"]
