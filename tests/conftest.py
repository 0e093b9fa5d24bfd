"""Shared fixtures and helpers: synthetic MNIST-shaped data (arrays and IDX files), real
MNIST, small configs, random convolution shapes, fake results for the claim rules, training
starts read from logs.

The synthetic digits are learnable on purpose: class c lights up a 6x6 block at its own
spot of a 28x28 noise image, so a few hundred SGD steps already beat chance and a test
that expects learning can see it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from npcnn import datasets
from npcnn.config import TrainConfig
from npcnn.data import VAL_SIZE
from npcnn.sweep.results import PointResult, RunResult

ROOT = Path(__file__).resolve().parents[1]
# A directory whose sitecustomize logs every training start (tests/inject/sitecustomize.py).
INJECT = Path(__file__).resolve().parent / "inject"
START = re.compile(r"training run (\w+) after epoch (\d+) \(pid (\d+)\)")


def strip(epochs: list[dict]) -> list[dict]:
    """Per-epoch records without the wall time, the one field equal runs differ in."""
    return [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]


def starts(lines: list[str]) -> dict[str, list[tuple[int, int]]]:
    """``{run key: [(epoch it started after, pid), ...]}`` from ``npcnn.store``'s log."""
    out: dict[str, list[tuple[int, int]]] = {}
    for line in lines:
        m = START.search(line)
        if m:
            out.setdefault(m[1], []).append((int(m[2]), int(m[3])))
    return out


def fake(label: str, config: TrainConfig, accs: list[list[float]], seconds: float = 1.0,
         statuses: list[str] | None = None, value=None, iter_loss=None,
         val_loss: list[list[float]] | None = None, epochs: int = 0,
         val_acc: list[list[float]] | None = None) -> PointResult:
    """A point trained under seeds 0, 1, ... whose runs have the given per-epoch test
    accuracies (one list per seed; ``epochs`` of the config, default the longest; the
    validation accuracy, unless given, equal to the test accuracy); no training."""
    runs = []
    for s, acc in enumerate(accs):
        records = [{"epoch": i + 1, "test_acc": a, "test_loss": 1 - a, "seconds": seconds,
                    "lr": config.lr, "val_loss": (val_loss[s][i] if val_loss else 1 - a),
                    "val_acc": (val_acc[s][i] if val_acc else a)}
                   for i, a in enumerate(acc)]
        history = {"epochs": records, "iter_loss": list(iter_loss[s]) if iter_loss else []}
        status = statuses[s] if statuses else "completed"
        n = epochs or max(max(map(len, accs)), 1)
        runs.append(RunResult(label, config.replace(seed=s, epochs=n), value, status,
                              history))
    return PointResult(label, value, runs)


def random_conv_cases(n: int = 24, seed: int = 1) -> list[tuple[int, ...]]:
    """Convolutions to test, (N, C, F, H, W, k, s, p) each, of random shapes: strides
    1-2, paddings 0-2, kernels 1-7, non-square inputs."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        k = int(rng.integers(1, 8))
        s = int(rng.integers(1, 3))
        p = int(rng.integers(0, 3))
        H, W = int(rng.integers(k, k + 7)), int(rng.integers(k, k + 7))
        if H + 2 * p < k or W + 2 * p < k:
            continue
        cases.append((int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                      int(rng.integers(1, 5)), H, W, k, s, p))
    return cases


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


def dataset_entry(name: str, files: dict[str, bytes], **kw) -> datasets.Dataset:
    """A registry entry for the decompressed IDX ``files`` (``{file name: bytes}``)."""
    return datasets.Dataset(
        name=name, id=name, title=f"the {name} set", classes=tuple(map(str, range(10))),
        sha256=tuple(hashlib.sha256(files[f]).hexdigest() for f in datasets.FILES),
        md5_gz=tuple(kw.pop("md5_gz", ["0" * 32] * 4)), mirrors=tuple(kw.pop("mirrors", ())),
        converged_acc=kw.pop("converged_acc", 0.9), converged_why="a test's choice",
        n_train=kw.pop("n_train", 0), n_test=kw.pop("n_test", 0), **kw)


# The synthetic dataset most tests train on: registered under this name (a registry entry
# is all a dataset needs), its files in the ``tiny_mnist`` directory.
TINY = "tiny"


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """A directory of the four IDX file names, gzipped, with synthetic digits, registered
    as the dataset ``TINY``: train on it with ``TrainConfig(dataset=TINY, data_dir=...)``.

    5400 training images (400 left after the validation hold-out) and 200 test images.
    """
    d = tmp_path_factory.mktemp("tiny_mnist")
    parts = {
        "train": synthetic_digits(VAL_SIZE + 400, seed=3),
        "t10k": synthetic_digits(200, seed=4),
    }
    raw = {}
    for prefix, (images, labels) in parts.items():
        raw[f"{prefix}-images-idx3-ubyte"] = _idx(images)
        raw[f"{prefix}-labels-idx1-ubyte"] = _idx(labels)
    for name, blob in raw.items():
        # Level 1: these files only need to be valid, not small.
        (d / f"{name}.gz").write_bytes(gzip.compress(blob, 1))
    datasets.register(dataset_entry(TINY, raw, n_train=VAL_SIZE + 400, n_test=200))
    return d


@pytest.fixture
def mnist_dir() -> Path:
    """Real MNIST from ``$NPCNN_DATA``; skips the test when it is unset."""
    path = os.environ.get("NPCNN_DATA", "")
    if not path:
        pytest.skip("set NPCNN_DATA to a directory holding the MNIST files")
    return Path(path)


@pytest.fixture
def fashion_dir() -> Path:
    """Real Fashion-MNIST from ``$NPCNN_DATA_FASHION`` (CI: ../shared/data/fashion-mnist);
    skips the test when it is unset."""
    path = os.environ.get("NPCNN_DATA_FASHION", "")
    if not path:
        pytest.skip("set NPCNN_DATA_FASHION to a directory holding Fashion-MNIST")
    return Path(path)
