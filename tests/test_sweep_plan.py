"""A study's plan: labelled points, the seeds, every run once, and what a run costs."""

from __future__ import annotations

import pytest

from npcnn.config import ConfigError, TrainConfig
from npcnn.models import network_name
from npcnn.sweep.plan import estimate_seconds, labels, longest_first, plan, runs, seed_list


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
    assert network_name(mlp.config) == "MLP 784-100-50-10"


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
    points = plan(TrainConfig(), "lr", [0.01, 0.02])
    every = runs(points, [0, 1])
    assert [(r.config.lr, r.seed) for r in every] == [(0.01, 0), (0.01, 1), (0.02, 0),
                                                      (0.02, 1)]
    assert [r.point for r in every] == [points[0]] * 2 + [points[1]] * 2
    assert [r.config for r in runs(points)] == [p.config for p in points]  # own seeds
    assert list(labels(points, [0, 1]).values()) == [
        "lr=0.01, seed 0", "lr=0.01, seed 1", "lr=0.02, seed 0", "lr=0.02, seed 1"]
    assert list(labels(points, [0], "lr: ").values()) == ["lr: lr=0.01", "lr: lr=0.02"]


def test_estimate_grows_with_the_network():
    e = estimate_seconds
    c = TrainConfig()
    assert e(c.replace(channels=32)) > e(c.replace(channels=8)) > e(c) > e(c.replace(
        model="mlp")) > 0
    assert e(c.replace(kernel_size=7)) > e(c.replace(kernel_size=5)) > e(c)
    assert e(c.replace(epochs=20)) == pytest.approx(2 * e(c.replace(epochs=10)))
    assert e(c.replace(subset=6000)) < e(c) / 4
    assert longest_first([c, c.replace(channels=32), c.replace(model="mlp")]) == [
        c.replace(channels=32), c, c.replace(model="mlp")]
