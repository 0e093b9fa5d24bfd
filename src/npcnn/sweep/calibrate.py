"""How fast this machine trains, against the machine ``plan.estimate_seconds`` is exact on.

``estimate_seconds`` is a fit of the seconds a full report's runs took on this project's
2-core machine on one day; machines of that kind have since trained reports in 0.74 to
2.03 times the seconds it gives, and a user's computer may differ more.
``speed_factors`` times a slice of training here: a few steps of the default network (C=4)
and of C=16, one BLAS thread, on random images (the numbers of the data do not change the
cost of the math), the fastest of a few repeats so that a passing hiccup does not count,
and divides it by the seconds that slice takes where the fit is exact, by each of the
``CHECKS`` in which a report's training was timed beside slices on the same machine. Those
disagree by 1.4 times (the slice does not see all that makes an epoch slow on a given
machine), so the report's first line gives the estimate as the range between them.
"""

from __future__ import annotations

import time

import numpy as np

from npcnn import datasets, threads
from npcnn.config import TrainConfig
from npcnn.trainer import fresh, train_step

STEPS = 20  # training steps per network and repeat: ~0.2-0.4 s here
REPEATS = 5  # the fastest of 5: one repeat varies by 15% on this machine, their minimum less
CHANNELS = (4, 16)  # the networks most of the report's runs train
# Reports from empty run stores on the 2-core AMD EPYC, each timed beside slices on the
# same machine (nothing else running): (slice seconds, median of the readings; stored
# epoch seconds of the runs over the seconds the fit gives them; what was run). The fit is
# exact on a machine that many times faster, where the slice takes their quotient.
CHECKS = (
    (0.51, 1.47, "2026-12-02, the full MNIST report's 123 runs (157.7 core-minutes against "
                 "107.3); 10 slices, timed after it"),
    (0.49, 2.03, "2026-12-02, another machine: the kernel_size, weight_decay and cnn_vs_mlp "
                 "studies' 24 runs (30.1 core-minutes against 14.8); 7 slices, timed "
                 "before, at the start of and after them"),
)
REFERENCES_S = tuple(slice_s / ratio for slice_s, ratio, _ in CHECKS)


def slice_seconds(steps: int = STEPS, repeats: int = REPEATS) -> float:
    """Seconds of ``steps`` training steps (forward, backward, SGD update; one batch of
    the config's default size each) of each network in ``CHANNELS``, the fastest of
    ``repeats``, summed over the networks."""
    from npcnn.losses import get_loss

    total = 0.0
    with threads.blas_limit(1):
        for channels in CHANNELS:
            config = TrainConfig(channels=channels, threads=1)
            model, opt = fresh(config)
            loss_fn = get_loss(config.loss)
            ds = datasets.get(config.dataset)
            rng = np.random.default_rng(0)
            x = rng.random((config.batch_size, *ds.image_shape), dtype=np.float32)
            y = rng.integers(0, ds.n_classes, config.batch_size)

            train_step(model, loss_fn, opt, x, y)  # the first step allocates the buffers
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(steps):
                    train_step(model, loss_fn, opt, x, y)
                best = min(best, time.perf_counter() - t0)
            total += best
    return total


def speed_factors() -> tuple[float, float]:
    """``(low, high)``: how many times longer than ``estimate_seconds`` says a run takes
    here, by the check that makes this machine fastest and by the one that makes it
    slowest (> 1: slower than the machine the fit is exact on)."""
    seconds = slice_seconds()
    return seconds / max(REFERENCES_S), seconds / min(REFERENCES_S)


__all__ = ["STEPS", "REPEATS", "CHANNELS", "CHECKS", "REFERENCES_S", "slice_seconds",
           "speed_factors"]
