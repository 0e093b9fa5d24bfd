"""Shared fixtures: synthetic MNIST-shaped data (arrays and IDX files) and real MNIST.

The synthetic digits are learnable on purpose: class c lights up a 6x6 block at its own
spot of a 28x28 noise image, so a few hundred SGD steps already beat chance and a test
that expects learning can see it.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import npcnn  # noqa: F401  (before NumPy: importing npcnn sets one BLAS thread)

# isort: split
import numpy as np
import pytest

# split() always holds out the last 5000 training images for validation.
VAL_SIZE = 5000


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``(n, 28, 28)`` uint8 and labels ``(n,)`` uint8, classes balanced."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for c in range(10):
        r, q = 2 + 8 * (c // 4), 2 + 6 * (c % 4)
        images[labels == c, r : r + 6, q : q + 6] = 230
    return images, labels


def _as_float(images: np.ndarray) -> np.ndarray:
    return (images[:, None] / np.float32(255)).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)`` as ``load_mnist`` returns them.

    x_train: (5300, 1, 28, 28) float32 in [0, 1] (300 for training after the 5000-image
    validation hold-out), y_train: (5300,) int64; x_test: (200, 1, 28, 28), y_test: (200,).
    """
    xi, yi = synthetic_digits(VAL_SIZE + 300, seed=1)
    ti, tl = synthetic_digits(200, seed=2)
    arrays = (_as_float(xi), yi.astype(np.int64), _as_float(ti), tl.astype(np.int64))
    # Read-only like load_mnist's cached arrays; shared by every test of the session.
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _idx(arr: np.ndarray) -> bytes:
    header = struct.pack(">I", 0x800 + arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """A directory of the four MNIST file names, gzipped IDX, with synthetic digits.

    5400 training images (400 left after the validation hold-out) and 200 test images.
    """
    d = tmp_path_factory.mktemp("tiny_mnist")
    files = {
        "train": synthetic_digits(VAL_SIZE + 400, seed=3),
        "t10k": synthetic_digits(200, seed=4),
    }
    for prefix, (images, labels) in files.items():
        # Level 1: these files only need to be valid, not small.
        (d / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images), 1))
        (d / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels), 1))
    return d


@pytest.fixture
def mnist_dir() -> Path:
    """Real MNIST from ``$NPCNN_DATA``; skips the test when it is unset."""
    path = os.environ.get("NPCNN_DATA", "")
    if not path:
        pytest.skip("set NPCNN_DATA to a directory holding the MNIST files")
    return Path(path)
