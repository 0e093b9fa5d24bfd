"""The notebooks are the source a user edits and runs: the user's own papermill command
works as typed (no -k, from notebooks/ or any other directory), every TrainConfig field
is a parameter with its default, code cells stay thin, and each page shows what its
parameters ask for. Tiny runs on real MNIST (500 training images, 1 epoch)."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from npcnn.config import TrainConfig

pm = pytest.importorskip("papermill")

NB = ROOT / "notebooks"
MIME = "application/vnd.npcnn+json"
TINY = ["-p", "epochs", "1", "-p", "subset", "500"]
TRAINING = ("sweep", "cnn_vs_mlp", "feature_maps")


def papermill(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``papermill ...`` as a user types it: the console script, no kernel name."""
    exe = Path(sys.executable).with_name("papermill")
    return subprocess.run([str(exe), *args, "--no-progress-bar"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def payloads(nb: dict, kind: str) -> list[dict]:
    return [o["data"][MIME] for c in nb["cells"] for o in c.get("outputs", [])
            if MIME in o.get("data", {}) and o["data"][MIME].get("kind") == kind]


def parameters_cell(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    return next("".join(c["source"]) for c in nb["cells"]
                if "parameters" in c["metadata"].get("tags", []))


def images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"]
               for o in c.get("outputs", []))


@pytest.fixture
def env(mnist_dir, tmp_path):
    """The environment of a user's shell: MNIST and a run store of this test's own."""
    return dict(os.environ, TQDM_DISABLE="1", NPCNN_RUNS=str(tmp_path / "runs"))


# -- the sources ----------------------------------------------------------------------


@pytest.mark.parametrize("name", TRAINING)
def test_every_config_field_is_a_parameter_with_a_valid_default(name):
    src = parameters_cell(NB / f"{name}.ipynb")
    ns: dict = {}
    exec(src, ns)
    missing = [f.name for f in dataclasses.fields(TrainConfig) if f.name not in ns]
    assert not missing, f"{name}.ipynb's parameters cell lacks {missing}: add them"
    TrainConfig.from_dict({f.name: ns[f.name] for f in dataclasses.fields(TrainConfig)})
    if name == "sweep":  # the general page starts from the original's defaults
        assert TrainConfig.from_dict({f: ns[f] for f in TrainConfig().to_dict()}) == \
            TrainConfig()


@pytest.mark.parametrize("path", sorted(NB.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_stay_thin_and_use_the_standard_kernel(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        banned = [type(n).__name__ for n in ast.walk(tree) if isinstance(
            n, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.comprehension))]
        assert not banned, f"{path.name}: a cell holds {banned}; move it into src/npcnn"
        assert not cell.get("outputs"), f"{path.name} is committed with outputs"


# -- the user's command ---------------------------------------------------------------


def test_the_users_command_works_from_notebooks_and_elsewhere(env, tmp_path):
    """``cd notebooks && papermill sweep.ipynb out.ipynb -p lr 0.05``: no -k, the
    notebook's own python3 kernel; MNIST and the store found the same from anywhere;
    nothing but the output notebook lands in the working directory."""
    before = set(NB.iterdir())
    try:
        proc = papermill("sweep.ipynb", "out.ipynb", "-p", "lr", "0.05", *TINY, cwd=NB,
                         env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert set(NB.iterdir()) - before == {NB / "out.ipynb"}
        nb = json.loads((NB / "out.ipynb").read_text())
    finally:
        (NB / "out.ipynb").unlink(missing_ok=True)
    (summary,) = payloads(nb, "summary")
    assert summary["runs"][0]["label"] == "CNN k=3 C=4" and summary["runs"][0]["n"] == 1
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = papermill(str(NB / "sweep.ipynb"), "out.ipynb", "-p", "lr", "0.05", *TINY,
                     cwd=elsewhere, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["out.ipynb"]
    again = json.loads((elsewhere / "out.ipynb").read_text())
    assert payloads(again, "summary") == [summary]  # the same run, read from the store


def test_the_users_command_on_fashion_mnist(env, fashion_dir, tmp_path):
    """``cd notebooks && papermill sweep.ipynb out.ipynb -p dataset fashion``, as typed."""
    env = dict(env, NPCNN_DATA_FASHION=str(fashion_dir))
    out = tmp_path / "out.ipynb"
    proc = papermill("sweep.ipynb", str(out), "-p", "dataset", "fashion", *TINY, cwd=NB,
                     env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    (summary,) = payloads(nb, "summary")
    assert summary["runs"][0]["dataset"] == "fashion-mnist"
    html = "".join("".join(o["data"].get("text/html", "")) for c in nb["cells"]
                   for o in c.get("outputs", []) if "data" in o)
    assert "Fashion-MNIST" in html and "Fashion-MNIST test images" in html


def test_a_study_file_is_a_parameters_file(env, tmp_path):
    """``papermill sweep.ipynb out.ipynb -f ../params/momentum.yaml``: the study file
    (its report entry included) is what the notebook takes."""
    out = tmp_path / "out.ipynb"
    proc = papermill("sweep.ipynb", str(out), "-f", "../params/momentum.yaml", *TINY,
                     "-y", "{seeds: [0]}", cwd=NB, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (summary,) = payloads(json.loads(out.read_text()), "summary")
    assert [r["label"] for r in summary["runs"]][:3] == ["momentum=0", "momentum=0.5",
                                                         "momentum=0.9"]


def test_seeds_and_each_parameter_type(env, tmp_path):
    out = tmp_path / "out.ipynb"
    proc = papermill(str(NB / "sweep.ipynb"), str(out), *TINY,
                     "-p", "lr", "0.02",  # float
                     "-p", "title", "typed parameters",  # str
                     "-p", "show_iter_loss", "True",  # bool
                     "-y", "{sweep: momentum, values: [0.5, 0.9], seeds: [0, 1],"
                     " extra: [{schedule: constant}], claim: 4}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    (summary,) = payloads(nb, "summary")
    assert [r["label"] for r in summary["runs"]] == ["momentum=0.5", "momentum=0.9",
                                                      "schedule=constant"]
    row = summary["runs"][0]
    assert row["seeds"] == [0, 1] and row["n"] == 2
    assert row["per_seed"][0]["final_acc"] != row["per_seed"][1]["final_acc"]
    html = "".join("".join(o["data"].get("text/html", "")) for c in nb["cells"]
                   for o in c.get("outputs", []) if "data" in o)
    assert "typed parameters" in html and "lr=0.02" in html
    (verdict,) = payloads(nb, "verdict")
    assert verdict["claim"] == 4 and verdict["n"] == 2
    # momentum 0.5 -> 0.9: faster early and worse late as trends; no switched point
    assert [c["key"] for c in verdict["clauses"]] == ["early", "late", "switch"]
    assert verdict["clauses"][2]["missing"]
    assert images(nb) >= 4  # accuracy, loss, lr, per-iteration loss


@pytest.mark.parametrize("args, message", [
    (["-p", "lrr", "0.1"], "unknown parameter(s) 'lrr'"),
    (["-p", "lr", "fast"], "lr must be a number, got 'fast'"),
    (["-y", "{values: 3, sweep: lr}"], "parameter values must be list"),
    (["-y", "{seeds: [1, 1]}"], "seeds must be distinct"),
])
def test_a_bad_parameter_fails_in_the_first_cell(env, tmp_path, args, message):
    proc = papermill(str(NB / "sweep.ipynb"), str(tmp_path / "bad.ipynb"), *args,
                     cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "ConfigError" in proc.stderr and message in proc.stderr
    assert not (tmp_path / "runs").exists()  # failed before any training


def test_cnn_vs_mlp_notebook(env, tmp_path):
    out = tmp_path / "out.ipynb"
    proc = papermill(str(NB / "cnn_vs_mlp.ipynb"), str(out), *TINY, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    (summary,) = payloads(nb, "summary")
    assert [r["label"] for r in summary["runs"]] == [
        "CNN k=3 C=4", "best: CNN k=3 C=16, lr 0.05, init_std 0.1", "MLP 784-100-10",
        "MLP 784-100-50-10"]
    (verdict,) = payloads(nb, "verdict")
    assert verdict["claim"] == 7
    (share,) = [c for c in verdict["clauses"] if c["key"] == "params"]
    assert "2,158 vs MLP 784-100-50-10 84,060" in share["what"]


def test_feature_maps_notebook(env, tmp_path):
    out = tmp_path / "out.ipynb"
    proc = papermill(str(NB / "feature_maps.ipynb"), str(out), *TINY, "-p", "channels", "4",
                     "-p", "digits", "3", "-p", "n_wrong", "4", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    assert images(nb) == 5  # maps, filters, second maps, confusion, misclassified
    (verdict,) = payloads(nb, "verdict")
    assert verdict["claim"] == 8 and verdict["n"] == 1


def test_speed_notebook(env, tmp_path):
    out = tmp_path / "out.ipynb"
    proc = papermill(str(NB / "speed.ipynb"), str(out), "-y",
                     "{channel_counts: [4], batch_sizes: [100], naive_batch: 1, "
                     "use_torch: false, roofline_channels: [2]}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    assert images(nb) == 4  # im2col, per-layer bars, epoch vs channels, vs batch size
    (speed,) = payloads(nb, "speed")
    assert speed["seconds_per_epoch"] > 0
    (roof,) = payloads(nb, "roofline")
    assert [(r["channels"], r["threads"]) for r in roof["rows"]] == [(2, 1), (2, 2)]
    assert list((tmp_path / "runs" / "speed").glob("*.json"))  # stored for reuse
