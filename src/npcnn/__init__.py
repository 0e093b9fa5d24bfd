"""npcnn: a from-scratch NumPy convolutional network for MNIST.

``from npcnn import TrainConfig, train`` is all a notebook needs. Importing the package
does not import NumPy, so that it can choose the BLAS thread count first (below).

``npcnn.train`` (the attribute) is always the ``train`` function, even after the
submodule of the same name was imported; reach the module as
``importlib.import_module("npcnn.train")`` or ``from npcnn.train import evaluate``.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# One BLAS thread unless the user chose otherwise. This network's matmuls are thin (a few
# channels): a second OpenBLAS thread costs more in synchronisation than it gains, and
# on a busy machine it made an epoch 4x slower (measured). Parallelism comes from
# config.threads (batch split) or parallel runs instead. Only effective before NumPy loads.
if "numpy" not in sys.modules:
    for _var in BLAS_THREAD_VARS:
        os.environ.setdefault(_var, "1")

from npcnn.config import ConfigError, TrainConfig  # noqa: E402

__version__ = "0.1.0"
__all__ = ["TrainConfig", "ConfigError", "train", "TrainResult", "__version__"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the training module imports NumPy.
    if name == "TrainResult":
        from npcnn.train import TrainResult

        return TrainResult
    raise AttributeError(f"module 'npcnn' has no attribute {name!r}")


class _Package(types.ModuleType):
    @property
    def train(self) -> Any:
        from npcnn.train import train

        return train

    @train.setter
    def train(self, value: Any) -> None:
        # Importing the submodule npcnn.train binds it here; keep exporting the function.
        pass


sys.modules[__name__].__class__ = _Package
