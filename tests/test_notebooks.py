"""Every notebook runs under papermill with tiny parameters on real MNIST (500 training
images, 1 epoch; evaluation still covers the 15,000 validation + test images, ~0.5 s);
``-p`` works with each parameter type; a bad parameter fails with a clear message; a
second run reads its runs back from the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pm = pytest.importorskip("papermill")
pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks"
MIME = "application/vnd.npcnn+json"
TINY = {"epochs": 1, "subset": 500}


@pytest.fixture(scope="module", autouse=True)
def kernel():
    from npcnn.report import ensure_kernel

    ensure_kernel()


@pytest.fixture
def env(mnist_dir, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    return mnist_dir


def run(name: str, out: Path, **params) -> dict:
    pm.execute_notebook(str(NB / f"{name}.ipynb"), str(out), parameters=params,
                        kernel_name="npcnn", cwd=str(ROOT), progress_bar=False)
    return json.loads(out.read_text())


def payloads(nb: dict, kind: str) -> list[dict]:
    return [o["data"][MIME] for c in nb["cells"] for o in c.get("outputs", [])
            if MIME in o.get("data", {}) and o["data"][MIME].get("kind") == kind]


def images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"]
               for o in c.get("outputs", []))


def test_every_training_notebook_declares_every_config_field():
    from npcnn.config import field_names
    from npcnn.report import parameters_cell

    for name in ("sweep", "cnn_vs_mlp", "feature_maps"):
        src = parameters_cell(NB / f"{name}.ipynb")
        missing = [f for f in field_names() if f"\n{f}: " not in src]
        assert not missing, f"{name}.ipynb lacks {missing}"


def test_sweep_notebook_runs_a_sweep_and_rereads_it(env, tmp_path):
    store = tmp_path / "runs"
    nb = run("sweep", tmp_path / "out.ipynb", sweep="kernel_size", values=[3, 5], claim=1,
             runs_dir=str(store), jobs=2, **TINY)
    (summary,) = payloads(nb, "summary")
    assert [r["label"] for r in summary["runs"]] == ["kernel_size=3", "kernel_size=5"]
    assert payloads(nb, "verdict")[0]["verdict"] in ("holds", "mixed", "does not hold")
    assert images(nb) >= 3
    histories = sorted(store.glob("*/history.json"))
    mtimes = [p.stat().st_mtime_ns for p in histories]
    run("sweep", tmp_path / "again.ipynb", sweep="kernel_size", values=[3, 5], claim=1,
        runs_dir=str(store), **TINY)
    assert [p.stat().st_mtime_ns for p in histories] == mtimes  # nothing retrained


def test_cli_p_works_with_each_parameter_type(env, tmp_path):
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(NB / "sweep.ipynb"), str(out),
           "-k", "npcnn", "--cwd", str(ROOT), "--no-progress-bar",
           "-p", "epochs", "1", "-p", "subset", "500",  # int
           "-p", "lr", "0.02",  # float
           "-p", "title", "typed parameters",  # str
           "-p", "show_iter_loss", "True",  # bool
           "-p", "runs_dir", str(tmp_path / "runs"),
           "-y", "{sweep: momentum, values: [0.5, 0.9], extra: [{schedule: constant}]}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    nb = json.loads(out.read_text())
    (summary,) = payloads(nb, "summary")
    assert [r["label"] for r in summary["runs"]] == ["momentum=0.5", "momentum=0.9",
                                                      "schedule=constant"]
    html = "".join("".join(o["data"].get("text/html", "")) for c in nb["cells"]
                   for o in c.get("outputs", []) if "data" in o)
    assert "typed parameters" in html and "lr=0.02" in html


@pytest.mark.parametrize("params, message", [
    ({"lrr": 0.1}, "unknown parameter(s) 'lrr'"),
    ({"lr": "fast"}, "lr must be a number, got 'fast'"),
    ({"values": 3, "sweep": "lr"}, "parameter values must be list"),
])
def test_a_bad_parameter_fails_in_the_first_cell(env, tmp_path, params, message):
    with pytest.raises(pm.PapermillExecutionError) as e:
        run("sweep", tmp_path / "bad.ipynb", runs_dir=str(tmp_path / "runs"), **params)
    assert "ConfigError" in str(e.value) and message in str(e.value)
    # The failing cell is the first one after the parameters (and papermill's injected one).
    assert e.value.source.startswith("cfg, opts = sweeps.read_params(globals())")
    assert not (tmp_path / "runs").exists()  # failed before any training


def test_cnn_vs_mlp_notebook(env, tmp_path):
    nb = run("cnn_vs_mlp", tmp_path / "out.ipynb", runs_dir=str(tmp_path / "runs"), **TINY)
    (summary,) = payloads(nb, "summary")
    assert [r["label"] for r in summary["runs"]] == ["CNN k=3 C=4", "MLP 784-100-10",
                                                      "MLP 784-100-50-10"]
    (verdict,) = payloads(nb, "verdict")
    assert verdict["claim"] == 7
    assert "2,158 vs 84,060" in verdict["checks"][1]["measured"]


def test_feature_maps_notebook(env, tmp_path):
    nb = run("feature_maps", tmp_path / "out.ipynb", runs_dir=str(tmp_path / "runs"),
             channels=4, digits=3, n_wrong=4, **TINY)
    assert images(nb) == 5  # maps, filters, second maps, confusion, misclassified
    assert payloads(nb, "verdict")[0]["claim"] == 8


def test_speed_notebook(env, tmp_path):
    nb = run("speed", tmp_path / "out.ipynb", channel_counts=[4], batch_sizes=[100],
             naive_batch=1, use_torch=False, runs_dir=str(tmp_path / "runs"))
    assert images(nb) == 4  # im2col, per-layer bars, epoch vs channels, vs batch size
    (speed,) = payloads(nb, "speed")
    assert speed["seconds_per_epoch"] > 0
    assert list((tmp_path / "runs" / "speed").glob("*.json"))  # stored for reuse
