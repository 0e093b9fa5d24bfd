"""Notebook parameters: a config and typed options from a notebook's namespace; unknown
and ill-typed parameters name themselves; every TrainConfig field is accepted."""

from __future__ import annotations

import pytest

from npcnn.config import ConfigError, TrainConfig
from npcnn.sweep.params import read_params


def _ns(**values):
    """A namespace as a notebook's parameters cell leaves it (annotations included)."""
    ann = {"lr": float, "epochs": int, "hidden": list, "sweep": str, "values": list,
           "jobs": int, "headline": bool, "seeds": list}
    ns = {"__annotations__": ann, "lr": 0.01, "epochs": 2, "hidden": [100, 50],
          "sweep": "", "values": [], "jobs": 0, "headline": False, "seeds": []}
    ns.update(values)
    return ns


def test_read_params_splits_config_and_options():
    cfg, opts = read_params(_ns(lr=0.05, sweep="momentum", values=[0, 0.9], seeds=[0, 1]))
    assert cfg == TrainConfig(lr=0.05, epochs=2)
    assert opts.sweep == "momentum" and opts.values == [0, 0.9] and opts.jobs == 0
    assert opts.seeds == [0, 1]


def test_every_config_field_is_accepted_without_a_declaration():
    # A page may declare only what it varies; papermill still passes any field.
    cfg, _ = read_params(_ns(channels=16, weight_decay=1e-4))
    assert cfg.channels == 16 and cfg.weight_decay == 1e-4


def test_read_params_coerces_int_to_float_option():
    ann = {"lr": float, "scale": float}
    _, opts = read_params({"__annotations__": ann, "lr": 0.1, "scale": 2})
    assert opts.scale == 2.0 and isinstance(opts.scale, float)


@pytest.mark.parametrize("extra, message", [
    ({"lrr": 0.1}, "unknown parameter(s) 'lrr'"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"epochs": 1.5}, "epochs must be an integer"),
    ({"channels": 0}, "channels must be >= 1"),
    ({"values": 3}, "parameter values must be list"),
    ({"jobs": "two"}, "parameter jobs must be int"),
    ({"headline": 1}, "parameter headline must be bool"),
])
def test_read_params_rejects_unknown_and_ill_typed(extra, message):
    with pytest.raises(ConfigError) as e:
        read_params(_ns(**extra))
    assert message in str(e.value)


def test_read_params_in_a_kernel_checks_only_injected_names():
    # In IPython, `In` holds the cells; papermill's injected cell starts "# Parameters".
    ns = _ns(cfg=object(), results=[1, 2])
    ns["In"] = ["", "lr: float = 0.01", "# Parameters\nlr = 0.02\n"]
    read_params(ns)  # names the notebook made itself are not parameters
    ns["In"].append("# Parameters\nlr = 0.02\nlrr = 3\n")
    with pytest.raises(ConfigError, match="unknown parameter.*'lrr'"):
        read_params(ns)
