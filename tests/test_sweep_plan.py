"""A study's plan: labelled points, the seeds, and what a run costs."""

from __future__ import annotations

import pytest

from npcnn.config import ConfigError, TrainConfig
from npcnn.sweep.plan import describe, estimate_seconds, plan, runs_of, seed_list


def test_plan_labels_points():
    base = TrainConfig()
    pts = plan(base, "kernel_size", [3, 5], [{"label": "constant", "schedule": "constant"},
                                             {"momentum": 0.5}])
    assert [p.label for p in pts] == ["kernel_size=3", "kernel_size=5", "constant",
                                      "momentum=0.5"]
    assert pts[1].config.kernel_size == 5 and pts[1].value == 5
    assert pts[2].config.schedule == "constant" and pts[2].value is None
    assert [p.label for p in plan(base)] == ["CNN k=3 C=4"]
    mlp = plan(base, extra=[{"model": "mlp"}])[1]
    assert describe(mlp.config) == "MLP 784-100-50-10"


@pytest.mark.parametrize("args, message", [
    (("kernel", [3]), "unknown field 'kernel'"),
    (("lr", []), "needs a non-empty list"),
    (("", [1]), "values given without sweep"),
    (("kernel_size", [4]), "kernel_size must be an odd integer"),
])
def test_plan_errors_name_the_problem(args, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        plan(TrainConfig(), *args)


def test_plan_rejects_a_non_mapping_extra():
    with pytest.raises(ConfigError, match=r"extra\[0\] must be a mapping"):
        plan(TrainConfig(), extra=["constant"])


def test_seeds_default_to_the_configs_and_must_be_distinct_naturals():
    assert seed_list([], TrainConfig(seed=4)) == [4]
    assert seed_list([0, 1, 2], TrainConfig()) == [0, 1, 2]
    for bad in ([0, 0], [-1], ["a"], "012", [True]):
        with pytest.raises(ConfigError, match="seeds must be"):
            seed_list(bad, TrainConfig())
    runs = runs_of(plan(TrainConfig(), "lr", [0.01, 0.02]), [0, 1])
    assert [(c.lr, c.seed) for c in runs] == [(0.01, 0), (0.01, 1), (0.02, 0), (0.02, 1)]


def test_estimate_grows_with_the_network():
    e = estimate_seconds
    c = TrainConfig()
    assert e(c.replace(channels=32)) > e(c.replace(channels=8)) > e(c) > e(c.replace(
        model="mlp")) > 0
    assert e(c.replace(kernel_size=7)) > e(c.replace(kernel_size=5)) > e(c)
    assert e(c.replace(epochs=20)) == pytest.approx(2 * e(c.replace(epochs=10)))
    assert e(c.replace(subset=6000)) < e(c) / 4
