"""MNIST, the run store and the studies are found the same from any working directory:
the environment, then the checkout, then a per-user cache for an installed package."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

from npcnn import paths


def test_the_checkout_is_found_from_the_package_not_the_working_directory(tmp_path):
    code = ("import json, npcnn.paths as p; print(json.dumps([str(p.checkout()), "
            "str(p.data_dir()), str(p.runs_root()), str(p.studies_file('params', 'lr.yaml'))]))")
    env = {k: v for k, v in os.environ.items() if k not in ("NPCNN_DATA", "NPCNN_RUNS")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    assert json.loads(out) == [str(ROOT), str(ROOT / "data" / "mnist"), str(ROOT / "runs"),
                               str(ROOT / "params" / "lr.yaml")]


def test_the_environment_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("NPCNN_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("NPCNN_RUNS", str(tmp_path / "r"))
    assert paths.data_dir() == tmp_path / "d" and paths.data_from_env()
    assert paths.runs_root() == tmp_path / "r"


def test_an_installed_package_uses_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "checkout", lambda: None)
    monkeypatch.delenv("NPCNN_DATA", raising=False)
    monkeypatch.delenv("NPCNN_RUNS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.data_dir() == tmp_path / "cache" / "npcnn" / "mnist"
    assert paths.runs_root() == tmp_path / "cache" / "npcnn" / "runs"
    assert paths.studies_file("notebooks", "sweep.ipynb") == \
        paths.PACKAGE / "notebooks" / "sweep.ipynb"
