"""The wheel: an installed npcnn carries its notebooks, study parameters, templates and
the original report's digest, and finds them without a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the sources (pip builds in the tree it is given), without what git ignores.
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "reports", "data", "build", "*.egg-info", "__pycache__"))
    # Built as pip builds it for a user: in an isolated environment from the registry.
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = out.glob("npcnn-*.whl")
    return path


def test_the_wheel_ships_the_studies(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for nb in ("sweep", "cnn_vs_mlp", "feature_maps", "speed"):
        assert f"npcnn/notebooks/{nb}.ipynb" in names
    assert {f"npcnn/params/{p.name}" for p in (ROOT / "params").glob("*.yaml")} <= names
    for f in ("ORIGINAL.md", "templates/index.html.j2", "templates/bar.html.j2",
              "templates/datasets.html.j2", "templates/findings.md.j2",
              "templates/report.css", "templates/npcnn_page/index.html.j2",
              "templates/npcnn_page/conf.json"):
        assert f"npcnn/report/{f}" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_an_installed_package_finds_its_studies_and_runs_report_help(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    code = ("import json, npcnn.paths as p; from npcnn.report import studies as s; "
            "print(json.dumps([str(p.checkout()), [str(x.notebook) for x in s.studies()], "
            "[x.title for x in s.studies()]]))")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    checkout, notebooks, titles = json.loads(out)
    assert checkout == "None"
    assert all(n.startswith(str(target)) and os.path.exists(n) for n in notebooks)
    assert "Channels" in titles
    proc = subprocess.run([sys.executable, "-m", "npcnn", "report", "--help"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--quick" in proc.stdout
