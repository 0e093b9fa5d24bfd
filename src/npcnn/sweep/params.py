"""Notebook parameters -> a ``TrainConfig`` and the study's options.

A notebook's ``parameters`` cell holds annotated plain values (``lr: float = 0.01``):
``TrainConfig`` fields and the study's options (``sweep``, ``values``, ``seeds``,
``jobs``, ...). papermill injects overrides in a cell after it; ``read_params`` reads the
notebook's namespace, validates every value and names the culprit of a typo or a bad
type. Every ``TrainConfig`` field is accepted, declared in the cell or not.
"""

from __future__ import annotations

import ast
import types
from typing import Any

from npcnn.config import PRESETS, ConfigError, TrainConfig, field_names, with_preset
from npcnn.data import recognise

# Names IPython puts into a notebook's namespace; they are never parameters.
IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
PLAIN_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list,
               "dict": dict}


def read_params(ns: dict[str, Any]) -> tuple[TrainConfig, types.SimpleNamespace]:
    """The config and the notebook options from a notebook's namespace.

    Parameters
    ----------
    ns
        ``globals()`` of the notebook, right after its ``parameters`` cell (and the
        cell papermill injects). The parameters cell's annotations declare the options
        and their types; ``TrainConfig`` fields need no declaration.

    Returns
    -------
    (config, options)
        ``TrainConfig`` of the names that are config fields (validated by it; on the
        dataset its ``data_dir`` holds when ``dataset`` was not given,
        ``npcnn.data.recognise``; a declared ``preset``, e.g. "best", sets its fields
        unless a parameter does), and a namespace of the other declared parameters, each
        checked against its annotation.

    Raises
    ------
    ConfigError
        A parameter that is neither declared nor a config field (a typo such as
        ``-p lrr 0.1``), a value of the wrong type, or a bad config value; the message
        names it.
    """
    declared = dict(ns.get("__annotations__", {}))
    fields = set(field_names())
    unknown = sorted(set(given_names(ns)) - set(declared) - fields)
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; this notebook takes "
            f"the TrainConfig fields and: "
            f"{', '.join(sorted(k for k in declared if k not in fields))}"
        )
    given = set(given_names(ns))
    values = {k: ns[k] for k in fields if k in ns}
    preset = ns.get("preset", "") if "preset" in declared else ""
    if preset:  # the preset's fields, except those a parameter sets
        values = with_preset({k: v for k, v in values.items()
                              if k in given or k not in PRESETS.get(preset, {})}, preset)
    config = recognise(TrainConfig.from_dict(values), stated="dataset" in given)
    options = {name: check_type(name, ns[name], kind) for name, kind in declared.items()
               if name not in fields}
    return config, types.SimpleNamespace(**options)


def given_names(ns: dict[str, Any]) -> list[str]:
    """Names whose values came from outside: papermill's injected cell, or any plain
    name of ``ns`` when it is not a live IPython namespace (e.g. the report's planner)."""
    history = ns.get("In")
    if isinstance(history, list):
        # papermill's injected cell starts with this comment; the last one wins.
        injected = [src for src in history if src.lstrip().startswith("# Parameters")]
        if not injected:
            return []
        tree = ast.parse(injected[-1])
        return [t.id for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)]
    return [k for k, v in ns.items() if not k.startswith("_") and k not in IPYTHON_NAMES
            and not isinstance(v, types.ModuleType)]


def check_type(name: str, value: Any, kind: Any) -> Any:
    """``value`` if it has the annotated ``kind`` (an int is a float, a tuple a list);
    ``ConfigError`` naming the parameter otherwise."""
    kind = PLAIN_TYPES.get(kind, kind) if isinstance(kind, str) else kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, tuple):
        return list(value)
    if kind in PLAIN_TYPES.values() and (not isinstance(value, kind) or (
            kind is int and isinstance(value, bool))):
        raise ConfigError(f"parameter {name} must be {kind.__name__}, got {value!r}")
    return value


__all__ = ["read_params", "given_names", "check_type"]
