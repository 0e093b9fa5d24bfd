"""``npcnn.report``: planning matches the notebooks, pages and index are written with
their figures and tables, and a failing notebook is marked while the others render."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npcnn import report, sweep
from npcnn.report import Study

pytest.importorskip("papermill")

PARAMS = Path(__file__).resolve().parents[1] / "params"


def test_every_study_plans(tmp_path):
    for s in report.STUDIES:
        p = report.params_of(s, quick=False, runs_dir=tmp_path, jobs=2)
        assert p["runs_dir"] == str(tmp_path)
        if s.trains:
            points = report.plan_study(s, p)
            assert points and all(isinstance(pt, sweep.Point) for pt in points)


def test_quick_mode_shrinks_every_run(tmp_path):
    for s in report.STUDIES:
        if s.trains:
            p = report.params_of(s, quick=True, runs_dir=tmp_path, jobs=2)
            for pt in report.plan_study(s, p):
                assert pt.config.epochs == 2 and pt.config.subset == 6000


def test_the_headline_and_feature_maps_share_the_best_run(tmp_path):
    def configs(name):
        s = next(x for x in report.STUDIES if x.name == name)
        return [p.config for p in report.plan_study(s, report.params_of(s, False, tmp_path, 2))]

    assert configs("feature_maps")[0] in configs("headline")[1:]


def test_progress_line(capsys):
    p = sweep.Progress(runs_done=3, runs_total=10, epochs_done=30, epochs_total=100,
                       work_done=60.0, work_total=200.0, elapsed=60.0, running=["lr: lr=0.1"],
                       finished="lr: lr=0.01")
    report.Printer(start=0.0)(p)
    line = capsys.readouterr().out
    assert "3/10 runs" in line and "left ~2:20" in line and "running: lr: lr=0.1" in line
    assert report._clock(3725) == "1:02:05"


@pytest.mark.notebooks
def test_report_renders_pages_and_marks_a_failed_notebook(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    good = tmp_path / "good.yaml"
    good.write_text("title: tiny\nepochs: 1\nsubset: 500\nsweep: lr\nvalues: [0.01, 0.02]\n"
                    "claim: 3\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\nlrr: 0.1\n")
    studies = [Study("good", "sweep.ipynb", str(good), "A tiny sweep"),
               Study("broken", "sweep.ipynb", str(bad), "A broken study")]
    out = tmp_path / "reports"
    code = report.run_report(out=out, runs_dir=str(tmp_path / "runs"), jobs=2,
                             studies=studies)
    assert code == 1  # a notebook failed
    page = (out / "good.html").read_text()
    assert page.count('src="data:image/png;base64,') >= 3  # figures inline
    assert "<table" in page and "sweeps.run(" not in page  # tables; inputs hidden
    broken = (out / "broken.html").read_text()
    assert "unknown parameter(s) &#x27;lrr&#x27;" in broken or "unknown parameter(s)" in broken
    index = (out / "index.html").read_text()
    assert '<a href="good.html">A tiny sweep</a>' in index
    assert '<a href="broken.html">A broken study</a>' in index
    assert "failed: " in index and "ConfigError" in index
    assert "The seed's eight claims" in index and "Environment" in index
    data = json.loads((out / "report.json").read_text())
    assert [s["status"] for s in data["studies"]] == ["ok", "failed"]
