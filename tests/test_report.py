"""``npcnn report``: studies are discovered from their YAML and planned from it alone,
exactly as their notebooks compute them; a report writes offline pages with their
figures, a bar between pages and an index; a failing notebook is marked while the others
render; a repeated report executes only what changed; ``--only`` updates its studies in
the index; a preview never touches the full report; a data problem stops it before any
notebook runs; another dataset's report goes beside MNIST's, which it never changes but
for the link to the comparison of the two."""

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
from npcnn.sweep.params import read_params
from npcnn.sweep.plan import Point, plan, seed_list
from npcnn.text import clock, clock_range

pytest.importorskip("papermill")


def test_every_study_plans_and_names_its_claim(tmp_path):
    claimed = {}
    found = st.studies()
    assert [s.name for s in found][:2] == ["headline", "lr"]  # in their YAML's order
    assert len(found) == len(list((st.paths.studies_dir("params")).glob("*.yaml")))
    for s in found:
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
    assert [s.name for s in found if s.timing] == ["speed"]


def test_a_study_is_planned_from_its_yaml_as_its_notebook_computes_it(tmp_path):
    """What the report plans from the YAML alone equals what the notebook computes from
    its parameters cell and the injected parameters (the test runs the cell; the report
    never does), on either dataset."""
    for dataset in ("mnist", "fashion"):
        for s in (s for s in st.studies() if s.trains):
            s.params = st.params_of(s, seeds=0, runs_dir=tmp_path, jobs=1, dataset=dataset)
            st.plan_study(s)
            ns: dict = {}
            cell = next("".join(c["source"]) for c in json.loads(s.notebook.read_text())[
                "cells"] if "parameters" in c["metadata"].get("tags", []))
            exec(cell, ns)
            ns.pop("__builtins__")
            ns.update(s.params)
            cfg, opts = read_params(ns)
            points = plan(cfg, getattr(opts, "sweep", ""), getattr(opts, "values", []),
                          getattr(opts, "extra", []))
            assert [(p.label, p.config) for p in points] == \
                [(p.label, p.config) for p in s.points], s.name
            assert seed_list(opts.seeds, cfg) == s.seeds == s.yaml["seeds"]
            assert all(p.config.dataset == dataset for p in s.points)


def test_quick_mode_shrinks_every_run_and_uses_one_seed(tmp_path):
    for s in st.studies():
        if s.trains:
            s.params = st.params_of(s, quick=True, runs_dir=tmp_path, jobs=2)
            st.plan_study(s)
            assert all(p.config.epochs == 2 and p.config.subset == 6000 for p in s.points)
            assert s.seeds == [0]


def test_the_headline_and_feature_maps_share_the_best_runs(tmp_path):
    def configs(name, epochs=None):
        (s,) = st.studies([name])
        s.params = st.params_of(s, False, 3, tmp_path, 2)
        st.plan_study(s)
        return {c.replace(epochs=epochs or c.epochs) for c in s.configs}

    assert configs("feature_maps") <= configs("headline")
    # claim 7's best CNN is the headline's best network: its first 15 epochs
    assert len(configs("cnn_vs_mlp", 100) & configs("headline")) == 6


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
    monkeypatch.setenv("NPCNN_DATA_FASHION", str(tmp_path / "empty"))
    assert build.build_report("fashion", out=tmp_path / "r") == 2
    assert "$NPCNN_DATA_FASHION" in capsys.readouterr().err
    monkeypatch.delenv("NPCNN_DATA")


def test_report_help_from_the_console_script():
    exe = Path(sys.executable).with_name("npcnn")
    proc = subprocess.run([str(exe), "report", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    for flag in ("--dataset", "--quick", "--seeds", "--jobs", "--scheduler", "--only",
                 "--open"):
        assert flag in proc.stdout


@pytest.fixture
def two_studies(tmp_path, monkeypatch):
    """The report's studies read from this test's params: a tiny sweep and a broken one."""
    params = tmp_path / "params"
    params.mkdir()
    (params / "lr.yaml").write_text("title: A tiny sweep\nreport: {notebook: sweep.ipynb, "
                                    "order: 1}\nepochs: 1\nsubset: 500\nsweep: lr\n"
                                    "values: [0.01, 0.02]\nclaim: 3\nseeds: [0, 1]\n")
    (params / "momentum.yaml").write_text("title: A broken study\nreport: {notebook: "
                                          "sweep.ipynb, order: 2}\nepochs: 1\nlrr: 0.1\n")
    real = st.paths.studies_dir
    monkeypatch.setattr(st.paths, "studies_dir", lambda kind: params if kind == "params"
                        else real(kind))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    old = os.umask(0o022)  # as a user's shell has it
    yield tmp_path
    os.umask(old)


@pytest.mark.notebooks
def test_a_report_renders_offline_pages_and_redoes_only_what_changed(mnist_dir, two_studies,
                                                                      capsys, monkeypatch):
    out, runs = two_studies / "reports", two_studies / "runs"

    def report(*only: str) -> tuple[int, str]:
        code = build.main(["--out", str(out), "--runs", str(runs), "--seeds", "2",
                           "--jobs", "2", "--only", *(only or ("lr", "momentum"))])
        return code, capsys.readouterr().out

    code, log = report()
    assert code == 1  # a notebook failed
    assert "to train (about " in log and "at this machine's speed" in log
    page = (out / "lr.html").read_text()
    assert page.count('src="data:image/png;base64,') >= 3  # figures inline
    assert "<title>A tiny sweep (MNIST)</title>" in page and "run(points" not in page
    assert 'href="index.html"' in page and 'href="momentum.html"' in page  # the bar
    broken = (out / "momentum.html").read_text()
    assert "unknown parameter(s)" in broken and "This notebook failed" in broken
    index = (out / "index.html").read_text()
    assert '<a href="lr.html">A tiny sweep</a>' in index and "original.html" in index
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
    # The estimate and what the training took, side by side: each report checks it.
    info = data["info"]
    low, high = info["train_estimate_seconds"]
    assert info["train_seconds"] > 0 and 0 < low <= high
    assert 0 < info["speed_factors"][0] <= info["speed_factors"][1]
    said = clock_range(low, high)
    assert f"to train (about {said} at this machine's speed)" in log
    core = f"{info['train_core_seconds'] / 60:.0f} core-minutes"
    assert 0 < info["train_core_seconds"] <= info["train_seconds"] * info["jobs"] * 1.05
    assert f"(training {clock(info['train_seconds'])}, {core}, estimated {said})" in log
    assert f"trained in {clock(info['train_seconds'])}" in index
    # Every run behind this report was trained by it: their cost is the training's.
    assert info["runs_core_seconds"] == pytest.approx(info["train_core_seconds"])

    mtime = (out / "notebooks" / "lr.ipynb").stat().st_mtime_ns
    # Nothing to train: no time spent measuring this machine's speed.
    monkeypatch.setattr(build, "speed_factors", lambda: pytest.fail("calibrated for 0 runs"))
    code, log = report()
    assert "notebook lr: unchanged, not executed again" in log and "0 to train" in log
    assert "(training " not in log
    assert (out / "notebooks" / "lr.ipynb").stat().st_mtime_ns == mtime
    # Nothing trained, and still what the runs behind the findings cost to train.
    again = json.loads((out / "report.json").read_text())["info"]
    assert again["trained"] == 0 and again["runs"] == info["runs"] > 0
    assert again["runs_core_seconds"] == pytest.approx(info["runs_core_seconds"])
    minutes = f"{info['runs_core_seconds'] / 60:.0f} core-minutes"
    assert f"| {info['runs']}: {minutes} | 0 / " in (out / "FINDINGS.md").read_text()

    code, log = report("momentum")
    assert code == 1 and "notebook lr" not in log
    index = (out / "index.html").read_text()
    assert '<a href="lr.html">A tiny sweep</a>' in index  # kept from the earlier report
    assert "A broken study" in index


@pytest.mark.notebooks
def test_another_datasets_report_goes_beside_mnists_and_compares_them(
        mnist_dir, fashion_dir, two_studies, capsys):
    out, runs = two_studies / "reports", two_studies / "runs"

    def report(*args: str) -> int:
        code = build.main(["--out", str(out), "--runs", str(runs), "--jobs", "2",
                           "--only", "lr", *args])
        capsys.readouterr()
        return code

    assert report() == 0
    mnist_json = (out / "report.json").read_bytes()
    assert json.loads(mnist_json)["dataset"] == "mnist"
    assert not (out / "datasets.html").exists()  # one report: nothing to compare yet
    assert report("--dataset", "fashion") == 0
    fashion = out / "fashion"
    data = json.loads((fashion / "report.json").read_text())
    assert data["dataset"] == "fashion-mnist"
    (lr,) = data["studies"]
    (summary,) = [d for d in lr["data"] if d["kind"] == "summary"]
    assert all(r["dataset"] == "fashion-mnist" for r in summary["runs"])
    mnist = json.loads(mnist_json)["studies"][0]
    (mnist_summary,) = [d for d in mnist["data"] if d["kind"] == "summary"]
    # Other runs, other accuracies: never answered from MNIST's run store entries.
    assert {r["key"] for r in summary["runs"]}.isdisjoint(
        {r["key"] for r in mnist_summary["runs"]})
    assert [r["per_seed"] for r in summary["runs"]] != \
        [r["per_seed"] for r in mnist_summary["runs"]]
    page = (fashion / "lr.html").read_text()
    assert "Fashion-MNIST" in page and "<title>A tiny sweep (Fashion-MNIST)</title>" in page
    index = (fashion / "index.html").read_text()
    assert "on Fashion-MNIST" in index and "0.985" not in index  # the original's: MNIST only
    # MNIST's report is untouched but for the link its index gains to the comparison.
    assert (out / "report.json").read_bytes() == mnist_json
    assert 'href="datasets.html"' in (out / "index.html").read_text()
    assert 'href="../datasets.html"' in index
    compared = (out / "datasets.html").read_text()
    assert "Fashion-MNIST" in compared and "Claim 3" in compared
    assert "<script" not in compared
    table = json.loads((out / "datasets.json").read_text())
    (claim3,) = [c for c in table["claims"] if c["number"] == 3]
    words = claim3["words"]
    assert set(words) == {"mnist", "fashion"} and claim3["clauses"]
    assert claim3["over"] == (f"{words['mnist']} on both" if words["mnist"] == words["fashion"]
                              else f"MNIST: {words['mnist']}; Fashion-MNIST: {words['fashion']}")
    assert "neither" not in compared
    findings = (out / "FINDINGS.md").read_text()
    assert findings == (fashion / "FINDINGS.md").read_text()  # the same findings, both


def test_the_comparison_matches_clauses_by_key_and_never_says_neither():
    # Claim 7's best MLP can differ by dataset; its clauses are still the same clauses,
    # side by side in one row. A claim that holds in part on both says so.
    from npcnn.report.compare import comparison

    def report(ds: str, outcome: str) -> tuple:
        clause = {"key": "higher", "text": "the CNN slightly higher", "name": "the CNN "
                  "higher", "outcome": outcome, "n": 3, "estimate": 0.004,
                  "interval": [0.001, 0.007], "p_holm": 0.03}
        other = {**clause, "key": "similar", "text": "similar best accuracy",
                 "outcome": "not resolved"}
        verdict = {"kind": "verdict", "claim": 7, "word": "holds in part",
                   "supported": ["the CNN higher"], "sentence": "", "tests": 2, "n": 3,
                   "clauses": [clause, other]}
        return (None, {"dataset": ds, "info": {}, "studies": [
            {"name": "cnn_vs_mlp", "title": "CNN vs MLP", "claim": 7, "data": [verdict]}]})

    table = comparison({"mnist": report("mnist", "supported"),
                        "fashion": report("fashion-mnist", "supported")})
    (claim7,) = [c for c in table["claims"] if c["number"] == 7]
    assert claim7["over"] == "holds in part on both"
    assert [k["key"] for k in claim7["clauses"]] == ["higher", "similar"]
    assert claim7["clauses"][0]["per"]["fashion"]["outcome"] == "supported"
