"""The numerics' version (``npcnn.config.NUMERICS``, part of every run's key) is pinned
to what the code computes: a tiny run's per-iteration losses. A change to the layers,
losses, optimizer, schedules or batch order that moves them fails this test until
``NUMERICS`` is bumped (so that no run stored before the change answers for the new
code) and the new losses are pinned under the new version."""

from __future__ import annotations

import numpy as np
from conftest import synthetic_digits

from npcnn import config
from npcnn.config import TrainConfig
from npcnn.data import VAL_SIZE
from npcnn.trainer import train

# NUMERICS -> the training losses of the run below, iteration by iteration.
PINNED = {
    1: [3.27854, 2.64372, 1.69186, 1.1341, 0.964122, 0.718709],
}


def blank_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic digits on a blank (exactly 0) background, as MNIST's: blank windows make
    exact-zero pre-activations, where ReLU's mask decides the gradient."""
    images, labels = synthetic_digits(n, seed)
    images[images < 60] = 0
    x = (images[:, None] / np.float32(255)).astype(np.float32)
    return x, labels.astype(np.int64)


def tiny_run() -> list[float]:
    x, y = blank_digits(VAL_SIZE + 300, seed=11)
    xt, yt = blank_digits(100, seed=12)
    cfg = TrainConfig(epochs=2, subset=300, lr=0.05, weight_decay=1e-3, momentum_until=1)
    return train(cfg, progress=False, data=(x, y, xt, yt)).iter_loss


def test_the_numerics_version_pins_a_tiny_run():
    losses = tiny_run()
    assert config.NUMERICS in PINNED, (
        f"NUMERICS is {config.NUMERICS}: pin its losses in PINNED: {losses}")
    # rtol 1e-4: float32 sums in another order (another BLAS, CPU or thread count) move
    # these losses by ~1e-6 relative over 6 steps; any change of what is computed (a
    # mask, a formula, the batch order) moves them by far more.
    np.testing.assert_allclose(losses, PINNED[config.NUMERICS], rtol=1e-4)
