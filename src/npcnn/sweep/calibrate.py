"""How fast this machine trains, against the machine ``plan.estimate_seconds`` is exact on.

``estimate_seconds`` is a fit of the seconds a full report's runs took on this project's
2-core machine on one day; the same machine has since trained a full report in 0.74 to
1.47 times the seconds it gives (at 3 seeds 29:52 for its 40:35 one day; at each study's
seeds 1:19:40 for its 53:40 on 2026-12-02), and a user's computer may differ more.
``speed_factor`` times a slice of training here: a few steps of the default network (C=4)
and of C=16, one BLAS thread, on random images (the numbers of the data do not change the
cost of the math), the fastest of a few repeats so that a passing hiccup does not count,
and divides it by the seconds that slice takes where the fit is exact (``REFERENCE_S``).
The report's first line multiplies its estimate by it.
"""

from __future__ import annotations

import time

import numpy as np

from npcnn import datasets, threads
from npcnn.config import TrainConfig
from npcnn.trainer import train_step

STEPS = 20  # training steps per network and repeat: ~0.2-0.4 s here
REPEATS = 5  # the fastest of 5: one repeat varies by 15% on this machine, their minimum less
CHANNELS = (4, 16)  # the networks most of the report's runs train
# Seconds of the slice where ``estimate_seconds`` is exact. Measured on 2026-12-02 on the
# 2-core AMD EPYC: the slice took SLICE_S (median of 10, nothing else running), and that
# day's full MNIST report, from an empty store, trained its 123 runs in RATIO times the
# seconds the fit gives them (157.7 core-minutes of stored epoch seconds against 107.3),
# so the fit is exact on a machine RATIO times faster.
SLICE_S = 0.51
RATIO = 1.47
REFERENCE_S = SLICE_S / RATIO


def slice_seconds(steps: int = STEPS, repeats: int = REPEATS) -> float:
    """Seconds of ``steps`` training steps (forward, backward, SGD update; one batch of
    the config's default size each) of each network in ``CHANNELS``, the fastest of
    ``repeats``, summed over the networks."""
    from npcnn.losses import get_loss
    from npcnn.models import build_model
    from npcnn.optim import SGD

    total = 0.0
    with threads.blas_limit(1):
        for channels in CHANNELS:
            config = TrainConfig(channels=channels, threads=1)
            model = build_model(config, threads=1)
            loss_fn = get_loss(config.loss)
            opt = SGD(config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
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


def speed_factor() -> float:
    """How many times longer than ``estimate_seconds`` says a run takes here (> 1: this
    machine is slower than the one the fit is exact on)."""
    return slice_seconds() / REFERENCE_S


__all__ = ["STEPS", "REPEATS", "CHANNELS", "REFERENCE_S", "slice_seconds", "speed_factor"]
