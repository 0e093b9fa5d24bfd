"""npcnn: a from-scratch NumPy convolutional network for MNIST.

``from npcnn import TrainConfig, train`` is all a script needs: ``train`` and
``TrainResult`` come from ``npcnn.trainer`` (loaded on first use: it imports NumPy).
How the package is laid out, floor by floor, is in the README ("What is in the package").
"""

from __future__ import annotations

from typing import Any

from npcnn.config import ConfigError, TrainConfig

__version__ = "0.2.0"
__all__ = ["TrainConfig", "ConfigError", "train", "TrainResult", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult"):
        from npcnn import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'npcnn' has no attribute {name!r}")
