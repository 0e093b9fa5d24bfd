"""The registry of datasets: a dataset is one entry (names, files' hashes, mirrors, image
shape, classes, the claims' numbers). A third one, registered by the test (MNIST with its
pixels inverted, written as IDX into a temporary directory), trains through a whole
one-epoch study in worker processes that learn of it from the runs they get; the command
line tells MNIST's files from Fashion-MNIST's and trains each as itself."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npcnn import claims, datasets
from npcnn.config import TrainConfig
from npcnn.data import load
from npcnn.datasets import FILES, Dataset
from npcnn.sweep import plan, run, summary_table
from npcnn.sweep.tables import MIME


def test_the_registry_names_its_datasets():
    assert datasets.names()[:2] == ["mnist", "fashion"]
    assert datasets.get("fashion").title == "Fashion-MNIST"
    assert datasets.get("fashion").classes[9] == "Ankle boot"
    assert datasets.get("mnist").env == "NPCNN_DATA"
    assert datasets.get("fashion").env == "NPCNN_DATA_FASHION"
    with pytest.raises(datasets.UnknownDataset, match="one of 'mnist', 'fashion'"):
        datasets.get("cifar")
    assert datasets.by_id("fashion-mnist") is datasets.FASHION


def test_an_entry_travels_as_json_and_registers_once(monkeypatch):
    monkeypatch.setattr(datasets, "REGISTRY", dict(datasets.REGISTRY))
    spec = json.loads(json.dumps(datasets.FASHION.to_dict()))
    assert Dataset.from_dict(spec) == datasets.FASHION  # lists back to tuples
    assert datasets.ensure(spec) is datasets.FASHION  # known: nothing registered again
    other = Dataset.from_dict({**spec, "converged_acc": 0.5})
    with pytest.raises(ValueError, match="a different dataset is registered as 'fashion'"):
        datasets.register(other)
    with pytest.raises(ValueError, match="one sha256 and one md5_gz per file"):
        Dataset.from_dict({**spec, "name": "x", "id": "x", "sha256": ["0"]})


def _idx(arr: np.ndarray) -> bytes:
    import struct

    return struct.pack(f">I{arr.ndim}I", 0x800 + arr.ndim, *arr.shape) + arr.tobytes()


@pytest.fixture
def inverted(mnist_dir, tmp_path, monkeypatch):
    """MNIST with every pixel inverted (255 - x), its four files in a temporary directory,
    registered as the dataset "inverted" for this test: one entry, nothing else."""
    x_tr, y_tr, x_te, y_te = load("mnist", mnist_dir)
    d = tmp_path / "inverted"
    d.mkdir()
    raw = {}
    for name, x, y in (("train", x_tr, y_tr), ("t10k", x_te, y_te)):
        u8 = np.rint(x[:, 0] * 255).astype(np.uint8)
        raw[f"{name}-images-idx3-ubyte"] = _idx(255 - u8)
        raw[f"{name}-labels-idx1-ubyte"] = _idx(y.astype(np.uint8))
    for name, blob in raw.items():
        (d / f"{name}.gz").write_bytes(gzip.compress(blob, 1))
    entry = Dataset(
        name="inverted", id="inverted-mnist", title="inverted MNIST",
        classes=datasets.MNIST.classes,
        sha256=tuple(hashlib.sha256(raw[f]).hexdigest() for f in FILES),
        md5_gz=tuple("0" * 32 for _ in FILES), mirrors=(), converged_acc=0.95,
        converged_why="a test's choice", notes="MNIST, white digits on black inverted")
    monkeypatch.setitem(datasets.REGISTRY, "inverted", entry)
    return d


@pytest.mark.slow
def test_a_registered_dataset_runs_a_one_epoch_study(inverted, tmp_path, mnist_dir):
    base = TrainConfig(dataset="inverted", data_dir=str(inverted), epochs=1, subset=1000)
    results = run(plan(base, "lr", [0.01, 0.05]), seeds=[0, 1], jobs=2,
                  runs_dir=str(tmp_path / "runs"))
    rows = summary_table(results)._repr_mimebundle_()[MIME]["runs"]
    assert [r["dataset"] for r in rows] == ["inverted-mnist"] * 2
    assert all(r["n"] == 2 and len(r["per_seed"]) == 2 for r in rows)
    assert all(s["status"] in ("completed", "collapsed") for r in rows for s in r["per_seed"])
    # Its own runs: not MNIST's, whose configuration differs in the dataset alone.
    mnist = base.replace(dataset="mnist", data_dir=str(mnist_dir))
    assert {r["key"] for r in rows}.isdisjoint({mnist.key(), mnist.replace(lr=0.05).key()})
    v = claims.verdict(3, results)
    assert v.dataset == "inverted" and v.findings
    assert "inverted MNIST" in v._repr_html_()


@pytest.mark.slow
def test_the_command_line_trains_each_dataset_as_itself(mnist_dir, fashion_dir, tmp_path):
    """The issue's repro: the same flags with MNIST's and then Fashion-MNIST's directory
    train twice, into two run directories, to two accuracies; Fashion's files named as
    MNIST's are refused in one line naming both."""
    exe = Path(sys.executable).with_name("npcnn")
    env = dict(os.environ, NPCNN_RUNS=str(tmp_path / "runs"), TQDM_DISABLE="1")

    def train(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe), "train", "--epochs", "1", "--subset", "1000",
                               "--no-progress", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    first = train("--data-dir", str(mnist_dir))
    second = train("--data-dir", str(fashion_dir))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "completed: 1 epochs" in first.stdout and "completed: 1 epochs" in second.stdout
    assert "already completed" not in second.stdout
    assert "holds Fashion-MNIST: training on it (--dataset fashion)" in second.stderr
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("_"))
    assert runs == sorted([TrainConfig(epochs=1, subset=1000).key(),
                           TrainConfig(epochs=1, subset=1000, dataset="fashion").key()])
    accs = [json.loads((tmp_path / "runs" / k / "history.json").read_text())["final_test_acc"]
            for k in runs]
    assert accs[0] != accs[1]
    refused = train("--dataset", "mnist", "--data-dir", str(fashion_dir))
    assert refused.returncode == 2 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith("npcnn: error: ") and "holds Fashion-MNIST" in line
    assert "not MNIST" in line and "--dataset fashion" in line
