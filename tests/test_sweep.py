"""Sweeps: notebook parameters, plans, parallel runs that reuse the store, summary tables,
the "collapsed" status, and the claim verdict rules (on synthetic histories)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from npcnn import claims, runs, sweep
from npcnn.config import ConfigError, TrainConfig

# -- parameters -----------------------------------------------------------------------


def _ns(**values):
    """A namespace as a notebook's parameters cell leaves it (annotations included)."""
    ann = {"lr": float, "epochs": int, "hidden": list, "sweep": str, "values": list,
           "jobs": int, "headline": bool}
    ns = {"__annotations__": ann, "lr": 0.01, "epochs": 2, "hidden": [100, 50],
          "sweep": "", "values": [], "jobs": 0, "headline": False}
    ns.update(values)
    return ns


def test_read_params_splits_config_and_options():
    cfg, opts = sweep.read_params(_ns(lr=0.05, sweep="momentum", values=[0, 0.9]))
    assert cfg == TrainConfig(lr=0.05, epochs=2)
    assert opts.sweep == "momentum" and opts.values == [0, 0.9] and opts.jobs == 0


def test_read_params_coerces_int_to_float_option():
    ann = {"lr": float, "scale": float}
    _, opts = sweep.read_params({"__annotations__": ann, "lr": 0.1, "scale": 2})
    assert opts.scale == 2.0 and isinstance(opts.scale, float)


@pytest.mark.parametrize("extra, message", [
    ({"lrr": 0.1}, "unknown parameter(s) 'lrr'"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"epochs": 1.5}, "epochs must be an integer"),
    ({"values": 3}, "parameter values must be list"),
    ({"jobs": "two"}, "parameter jobs must be int"),
    ({"headline": 1}, "parameter headline must be bool"),
])
def test_read_params_rejects_unknown_and_ill_typed(extra, message):
    with pytest.raises(ConfigError) as e:
        sweep.read_params(_ns(**extra))
    assert message in str(e.value)


def test_read_params_in_a_kernel_checks_only_injected_names():
    # In IPython, `In` holds the cells; papermill's injected cell starts "# Parameters".
    ns = _ns(cfg=object(), results=[1, 2])
    ns["In"] = ["", "lr: float = 0.01", "# Parameters\nlr = 0.02\n"]
    sweep.read_params(ns)  # names the notebook made itself are not parameters
    ns["In"].append("# Parameters\nlr = 0.02\nlrr = 3\n")
    with pytest.raises(ConfigError, match="unknown parameter.*'lrr'"):
        sweep.read_params(ns)


# -- plan -----------------------------------------------------------------------------


def test_plan_labels_points():
    base = TrainConfig()
    pts = sweep.plan(base, "kernel_size", [3, 5], [{"label": "constant", "schedule":
                                                     "constant"}, {"momentum": 0.5}])
    assert [p.label for p in pts] == ["kernel_size=3", "kernel_size=5", "constant",
                                      "momentum=0.5"]
    assert pts[1].config.kernel_size == 5 and pts[1].value == 5
    assert pts[2].config.schedule == "constant" and pts[2].value is None
    assert [p.label for p in sweep.plan(base)] == ["CNN k=3 C=4"]
    mlp = sweep.plan(base, extra=[{"model": "mlp"}])[1]
    assert sweep.describe(mlp.config) == "MLP 784-100-50-10"


@pytest.mark.parametrize("args, message", [
    (("kernel", [3]), "unknown field 'kernel'"),
    (("lr", []), "needs a non-empty list"),
    (("", [1]), "values given without sweep"),
    (("kernel_size", [4]), "kernel_size must be an odd integer"),
])
def test_plan_errors_name_the_problem(args, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        sweep.plan(TrainConfig(), *args)


def test_plan_rejects_a_non_mapping_extra():
    with pytest.raises(ConfigError, match=r"extra\[0\] must be a mapping"):
        sweep.plan(TrainConfig(), extra=["constant"])


# -- run ------------------------------------------------------------------------------


@pytest.fixture
def base(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=1, subset=300, data_dir=str(tiny_mnist))


def test_run_trains_in_workers_and_never_retrains(tmp_path, base):
    pts = sweep.plan(base, "lr", [0.01, 0.02])
    seen = []
    results = sweep.run(pts, jobs=2, runs_dir=str(tmp_path), progress=seen.append, poll=0.5)
    # (1 epoch of 300 synthetic images may still be at chance: "collapsed" is fine here)
    assert [len(r.epochs) for r in results] == [1, 1]
    assert all(r.status in ("completed", "collapsed") for r in results)
    assert seen and seen[-1].runs_done == seen[-1].runs_total == 2
    paths = [runs.run_dir(p.config, tmp_path) / runs.HISTORY for p in pts]
    mtimes = [p.stat().st_mtime_ns for p in paths]
    # A second sweep sharing one point trains only the new one.
    more = sweep.plan(base, "lr", [0.02, 0.03])
    again = sweep.run(more, jobs=2, runs_dir=str(tmp_path))
    assert [p.stat().st_mtime_ns for p in paths] == mtimes
    assert again[0].epochs == results[1].epochs
    assert runs.is_finished(more[1].config, tmp_path)


def test_a_run_at_chance_is_collapsed_with_dead_relu_fraction(tmp_path, base):
    cfg = base.replace(init_std=0.001)
    (r,) = sweep.run(sweep.plan(cfg), jobs=1, runs_dir=str(tmp_path))
    assert r.final_acc < sweep.COLLAPSE_ACC
    assert r.status == "collapsed"
    assert 0.0 <= r.dead_relu <= 1.0
    assert "collapsed (" in sweep.status_text(r) and "dead ReLU" in sweep.status_text(r)


def test_summary_table_html_and_data(tmp_path, base):
    results = sweep.run(sweep.plan(base), jobs=1, runs_dir=str(tmp_path))
    table = sweep.summary_table(results)
    html = table._repr_html_()
    assert html.startswith("<table") and "CNN k=3 C=4" in html and "epoch reaching" in html
    data = table._repr_mimebundle_()["application/vnd.npcnn+json"]
    assert data["runs"][0]["key"] == base.key() and data["runs"][0]["epochs"] == 1
    assert "2,158" in sweep.compare_table(results)._repr_html_()


def test_estimate_grows_with_the_network():
    e = sweep.estimate_seconds
    c = TrainConfig()
    assert e(c.replace(channels=32)) > e(c.replace(channels=8)) > e(c) > e(c.replace(
        model="mlp")) > 0
    assert e(c.replace(epochs=20)) == pytest.approx(2 * e(c.replace(epochs=10)))
    assert e(c.replace(subset=6000)) < e(c) / 4


# -- verdict rules --------------------------------------------------------------------


def fake(label: str, config: TrainConfig, acc, seconds: float = 1.0, status="completed",
         value=None, iter_loss=()) -> sweep.RunResult:
    """A RunResult with the given per-epoch test accuracies, no training."""
    epochs = [{"epoch": i + 1, "test_acc": a, "test_loss": 1 - a, "seconds": seconds,
               "lr": config.lr} for i, a in enumerate(acc)]
    return sweep.RunResult(label, config, value, status, {"epochs": epochs,
                                                          "iter_loss": list(iter_loss)})


def test_late_accuracy_is_the_last_third():
    r = fake("a", TrainConfig(), [0.5, 0.6, 0.7, 0.8, 0.9, 0.9])
    assert r.late_mean == pytest.approx(0.9) and r.late_std == 0
    assert r.epoch_reaching(0.8) == 4 and r.epoch_reaching(0.95) is None
    assert r.best_epoch == 5 and math.isclose(r.final_acc, 0.9)


def _kernel(accs_by_k):
    c = TrainConfig()
    return [fake(f"k={k}", c.replace(kernel_size=k), a, value=k) for k, a in accs_by_k]


def test_claim1_holds_mixed_does_not():
    holds = _kernel([(3, [0.90, 0.95, 0.94]), (5, [0.9, 0.96, 0.96]), (7, [0.9, 0.97, 0.97])])
    assert claims.verdict(1, holds).verdict == "holds"
    mixed = _kernel([(3, [0.9, 0.95, 0.95]), (5, [0.9, 0.94, 0.94]), (7, [0.9, 0.97, 0.97])])
    assert claims.verdict(1, mixed).verdict == "mixed"
    worse = _kernel([(3, [0.9, 0.95, 0.97, 0.97, 0.97, 0.97]),
                     (5, [0.9, 0.95, 0.96, 0.96, 0.95, 0.96]),
                     (7, [0.9, 0.95, 0.97, 0.90, 0.97, 0.90])])
    assert claims.verdict(1, worse).verdict == "does not hold"
    assert claims.verdict(1, []).verdict == "does not hold"


def test_claim5_and_the_headline():
    c = TrainConfig()
    rs = [fake("0.01", c.replace(init_std=0.01), [0.11, 0.11], status="collapsed", value=0.01),
          fake("1", c, [0.93, 0.97], value=1.0)]
    v = claims.verdict(5, rs)
    assert v.verdict == "holds" and "0.1100" in v.checks[0].measured
    head = claims.verdict(0, [fake("default", c, [0.98, 0.986]),
                              fake("best", c.replace(channels=16), [0.98, 0.989])],
                          headline=True)
    assert head.verdict == "mixed"
    data = head._repr_mimebundle_()["application/vnd.npcnn+json"]
    assert data["numbers"]["best_acc"] == pytest.approx(0.989)
    assert data["numbers"]["default_epochs"] == 2
    assert "Verdict: mixed" in head._repr_html_()


def test_claim6_uses_scale_free_loss_noise():
    c = TrainConfig()
    rng = np.random.default_rng(0)
    soft = fake("softmax", c, [0.9, 0.95, 0.96], iter_loss=0.1 + 0.05 * rng.random(90))
    eucl = fake("euclidean", c.replace(loss="euclidean"), [0.9, 0.93, 0.94],
                iter_loss=0.05 + 0.001 * rng.random(90))
    v = claims.verdict(6, [soft, eucl])
    assert [ch.ok for ch in v.checks] == [True, True, True]


def test_claim0_is_a_note_and_bad_claims_raise():
    assert "tests none" in claims.verdict(0, [])._repr_html_()
    with pytest.raises(ValueError):
        claims.verdict(9, [])
