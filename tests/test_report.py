"""``npcnn report``: planning matches the notebooks; a report writes offline pages with
their figures, a bar between pages and an index; a failing notebook is marked while the
others render; a repeated report executes only what changed; ``--only`` updates its
studies in the index; a preview never touches the full report; a data problem stops it
before any notebook runs."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from npcnn.report import build
from npcnn.report import studies as st
from npcnn.sweep.plan import Point

pytest.importorskip("papermill")


def test_every_study_plans_and_names_its_claim(tmp_path):
    claimed = {}
    for s in st.studies():
        s.params = st.params_of(s, quick=False, seeds=3, runs_dir=tmp_path, jobs=2)
        assert s.params["runs_dir"] == str(tmp_path) and s.title
        if s.trains:
            st.plan_study(s)
            assert s.points and all(isinstance(p, Point) for p in s.points)
            assert s.seeds == [0, 1, 2] and len(s.configs) == 3 * len(s.points)
        if s.claim:
            claimed[s.claim] = s.name
    assert sorted(claimed) == list(range(1, 9))  # every claim has its page, from the YAML
    assert claimed[7] == "cnn_vs_mlp" and claimed[8] == "feature_maps"


def test_quick_mode_shrinks_every_run_and_uses_one_seed(tmp_path):
    for s in st.studies():
        if s.trains:
            s.params = st.params_of(s, quick=True, seeds=st.QUICK_SEEDS, runs_dir=tmp_path,
                                    jobs=2)
            st.plan_study(s)
            assert all(p.config.epochs == 2 and p.config.subset == 6000 for p in s.points)
            assert s.seeds == [0]


def test_the_headline_and_feature_maps_share_the_best_runs(tmp_path):
    def configs(name):
        (s,) = st.studies([name])
        s.params = st.params_of(s, False, 3, tmp_path, 2)
        st.plan_study(s)
        return s.configs

    assert set(configs("feature_maps")) <= set(configs("headline"))


def test_the_lr_sweep_reaches_a_rate_that_is_too_large(tmp_path):
    (s,) = st.studies(["lr"])
    s.params = st.params_of(s, False, 3, tmp_path, 2)
    st.plan_study(s)
    assert max(p.config.lr for p in s.points) >= 0.5


def test_unknown_study_and_missing_data_stop_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPCNN_DATA", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    assert build.build_report(out=tmp_path / "r", runs_dir=str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npcnn: error: data directory (from $NPCNN_DATA)")
    assert "is empty" in err and "\n" not in err
    assert not (tmp_path / "r").exists()  # no notebook ran, no page was written
    monkeypatch.delenv("NPCNN_DATA")


def test_report_help_from_the_console_script():
    exe = Path(sys.executable).with_name("npcnn")
    proc = subprocess.run([str(exe), "report", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    for flag in ("--quick", "--seeds", "--jobs", "--scheduler", "--only", "--open"):
        assert flag in proc.stdout


@pytest.fixture
def two_studies(tmp_path, monkeypatch):
    """The report's studies read from this test's params: a tiny sweep and a broken one."""
    params = tmp_path / "params"
    params.mkdir()
    (params / "lr.yaml").write_text("title: A tiny sweep\nepochs: 1\nsubset: 500\n"
                                    "sweep: lr\nvalues: [0.01, 0.02]\nclaim: 3\n")
    (params / "momentum.yaml").write_text("title: A broken study\nepochs: 1\nlrr: 0.1\n")
    real = st.paths.studies_file
    monkeypatch.setattr(st.paths, "studies_file", lambda kind, name: params / name
                        if kind == "params" else real(kind, name))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    old = os.umask(0o022)  # as a user's shell has it
    yield tmp_path
    os.umask(old)


@pytest.mark.notebooks
def test_a_report_renders_offline_pages_and_redoes_only_what_changed(mnist_dir, two_studies,
                                                                      capsys):
    out, runs = two_studies / "reports", two_studies / "runs"

    def report(*only: str) -> tuple[int, str]:
        code = build.main(["--out", str(out), "--runs", str(runs), "--seeds", "2",
                           "--jobs", "2", "--only", *(only or ("lr", "momentum"))])
        return code, capsys.readouterr().out

    code, _ = report()
    assert code == 1  # a notebook failed
    page = (out / "lr.html").read_text()
    assert page.count('src="data:image/png;base64,') >= 3  # figures inline
    assert "<title>A tiny sweep</title>" in page and "run(points" not in page  # no inputs
    assert 'href="index.html"' in page and 'href="momentum.html"' in page  # the bar
    broken = (out / "momentum.html").read_text()
    assert "unknown parameter(s)" in broken and "This notebook failed" in broken
    index = (out / "index.html").read_text()
    assert '<a href="lr.html">A tiny sweep</a>' in index and "seed.html" in index
    assert index.count('src="data:image/png;base64,') >= 1  # claim 3's figure
    assert "ConfigError" in index and 'href="logs/lr.log"' in index
    # Offline: nothing in any page is fetched from the network, no script at all.
    for html in out.glob("*.html"):
        text = html.read_text()
        assert not re.search(r"<(link|img)[^>]+(src|href)=[\"']?(https?:)?//", text), html
        assert "<script" not in text, html.name
    # Readable by others, as a web server needs.
    for f in out.rglob("*"):
        if f.is_file():
            assert f.stat().st_mode & stat.S_IROTH, f
    data = json.loads((out / "report.json").read_text())
    (lr,) = [s for s in data["studies"] if s["name"] == "lr"]
    (summary,) = [d for d in lr["data"] if d["kind"] == "summary"]
    for row in summary["runs"]:
        assert row["n"] == 2 and [p["seed"] for p in row["per_seed"]] == [0, 1]

    mtime = (out / "notebooks" / "lr.ipynb").stat().st_mtime_ns
    code, log = report()
    assert "notebook lr: unchanged, not executed again" in log and "0 to train" in log
    assert (out / "notebooks" / "lr.ipynb").stat().st_mtime_ns == mtime

    code, log = report("momentum")
    assert code == 1 and "notebook lr" not in log
    index = (out / "index.html").read_text()
    assert '<a href="lr.html">A tiny sweep</a>' in index  # kept from the earlier report
    assert "A broken study" in index
