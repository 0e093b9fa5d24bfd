"""Running a study: runs train in worker processes once per point and seed, the store
answers them afterwards, results come back grouped by point; a run at chance is
"collapsed"; the tables summarise the seeds. Tiny runs on the synthetic ``tiny_mnist``."""

from __future__ import annotations

import math

import pytest
from conftest import TINY

from npcnn import store
from npcnn.checkpoint import HISTORY
from npcnn.config import TrainConfig
from npcnn.sweep import collapse_acc, compare_table, plan, run, summary_table
from npcnn.sweep.tables import MIME, status_text


@pytest.fixture
def base(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=1, subset=300, dataset=TINY, data_dir=str(tiny_mnist))


def test_run_trains_each_point_and_seed_once_and_never_retrains(tmp_path, base):
    pts = plan(base, "lr", [0.01, 0.02])
    seen = []
    results = run(pts, seeds=[0, 1], jobs=2, runs_dir=str(tmp_path), progress=seen.append,
                  poll=0.5)
    assert [r.label for r in results] == ["lr=0.01", "lr=0.02"]
    assert [r.seeds for r in results] == [[0, 1], [0, 1]]
    # (1 epoch of 300 synthetic images may still be at chance: "collapsed" is fine here)
    assert all(len(r.epochs) == 1 and r.status in ("completed", "collapsed")
               for p in results for r in p.runs)
    assert seen and seen[-1].runs_done == seen[-1].runs_total == 4
    assert results[0].runs[0].history["iter_loss"] != results[0].runs[1].history["iter_loss"]
    paths = [store.run_dir(r.config, tmp_path) / HISTORY for p in results for r in p.runs]
    mtimes = [p.stat().st_mtime_ns for p in paths]
    # A second sweep sharing one point trains only the new one.
    more = plan(base, "lr", [0.02, 0.03])
    again = run(more, seeds=[0, 1], jobs=2, runs_dir=str(tmp_path))
    assert [p.stat().st_mtime_ns for p in paths] == mtimes
    assert again[0].runs[1].epochs == results[1].runs[1].epochs
    assert store.is_answered(more[1].config.replace(seed=1), tmp_path)


def test_a_lone_run_gets_the_idle_core_without_changing_its_numbers(tmp_path, base):
    big = base.replace(channels=16)  # a network whose batches split in two
    (alone,) = run(plan(big), jobs=2, runs_dir=str(tmp_path / "a"))
    assert alone.runs[0].history["config"]["threads"] == 2
    (narrow,) = run(plan(big), jobs=1, runs_dir=str(tmp_path / "b"))
    assert narrow.runs[0].history["config"]["threads"] == 1
    assert alone.runs[0].history["iter_loss"] == narrow.runs[0].history["iter_loss"]


def test_a_run_at_chance_is_collapsed_with_dead_relu_fraction(tmp_path, base):
    cfg = base.replace(init_std=0.001)
    (p,) = run(plan(cfg), jobs=1, runs_dir=str(tmp_path))
    r = p.runs[0]
    assert r.final_acc < collapse_acc(TINY) and r.status == "collapsed" and p.collapsed == [0]
    assert 0.0 <= r.dead_relu <= 1.0
    assert "collapsed (" in status_text(r) and "dead ReLU" in status_text(r)


def test_summary_table_shows_seeds_and_carries_their_numbers(tmp_path, base):
    results = run(plan(base), seeds=[0, 1], jobs=2, runs_dir=str(tmp_path))
    table = summary_table(results)
    html = table._repr_html_()
    assert html.startswith("<table") and "CNN k=3 C=4" in html and "epoch reaching" in html
    row = table._repr_mimebundle_()[MIME]["runs"][0]
    assert row["seeds"] == [0, 1] and row["n"] == 2 and row["key"] == base.key()
    assert [s["seed"] for s in row["per_seed"]] == [0, 1]
    # Means and sds over the trained seeds only: a collapsed one is counted apart.
    finals = [s["final_acc"] for s in row["per_seed"] if s["status"] == "completed"]
    assert row["n_trained"] == len(finals) and row["trained_seeds"] == [
        s["seed"] for s in row["per_seed"] if s["status"] == "completed"]
    if finals:
        assert row["final_acc_mean"] == pytest.approx(sum(finals) / len(finals))
    if len(finals) == 2:  # sample sd of two values: |a - b| / sqrt(2)
        assert row["final_acc_sd"] == pytest.approx(abs(finals[0] - finals[1]) / math.sqrt(2))
    assert row["collapsed"] == sum(s["status"] == "collapsed" for s in row["per_seed"])
    assert "2,158" in compare_table(results)._repr_html_()
