"""The report's studies, each defined in one place: its ``params/<name>.yaml``.

A study's YAML says everything: the page's ``title``, the ``claim`` (1-8, 0 for none) it
tests, the ``seeds`` every point is trained with, the notebook's parameters
(``TrainConfig`` fields and the study's options: ``sweep``, ``values``, ``extra``, ...)
and, under ``report``, what only the report needs: the ``notebook`` that shows it, its
``order`` in the index, and ``timing: true`` for a page that times the code (it trains
nothing and runs alone, before the training). The file is also what a user gives
papermill (``-f params/lr.yaml``): the notebooks declare ``report`` and ignore it.

The report discovers the studies from ``params/`` and plans each from its YAML alone
(``plan_study``), exactly as its notebook will compute it: the notebook gets every
``TrainConfig`` field explicitly, so its own defaults never enter a report page.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npcnn import paths
from npcnn.config import ConfigError, TrainConfig, field_names, with_preset
from npcnn.sweep.plan import Point, Run, plan, runs, seed_list

# A preview: small settings, the same notebooks and code paths.
QUICK_TRAIN = {"epochs": 2, "subset": 6000}
QUICK_SPEED = {"channel_counts": [4, 8], "batch_sizes": [50, 100], "naive_batch": 2}
QUICK_SEEDS = 1  # seeds per point of a preview unless told otherwise


@dataclass
class Study:
    """One page of the report: its YAML, the notebook's parameters, what it trains."""

    name: str
    notebook: Path
    params_file: Path
    yaml: dict
    params: dict = field(default_factory=dict)  # what the notebook gets (see params_of)
    points: list[Point] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.yaml.get("title", self.name.replace("_", " ").capitalize()))

    @property
    def claim(self) -> int:
        return int(self.yaml.get("claim", 0))

    @property
    def entry(self) -> dict:
        """The YAML's ``report`` mapping: notebook, order, timing."""
        return dict(self.yaml.get("report") or {})

    @property
    def order(self) -> float:
        return float(self.entry.get("order", 1e9))

    @property
    def timing(self) -> bool:
        """A page that times the code: it trains nothing in the run store."""
        return bool(self.entry.get("timing", False))

    @property
    def trains(self) -> bool:
        return not self.timing

    @property
    def runs(self) -> list[Run]:
        """Every run of the study: each point under each seed."""
        return runs(self.points, self.seeds)

    @property
    def configs(self) -> list[TrainConfig]:
        return [r.config for r in self.runs]


def load_yaml(path: Path) -> dict:
    import yaml

    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of parameter: value")
    return data or {}


def studies(names: list[str] | None = None) -> list[Study]:
    """The report's studies found in ``params/`` (all, or those named), in their order.

    Raises
    ------
    ValueError
        A name that is no study, or a YAML that is not a mapping or names no notebook.
    """
    found = []
    for pfile in sorted(paths.studies_dir("params").glob("*.yaml")):
        y = load_yaml(pfile)
        entry = y.get("report")
        if not isinstance(entry, dict) or "notebook" not in entry:
            raise ValueError(f"{pfile} names no notebook; add report: {{notebook: "
                             "<name>.ipynb, order: <n>}")
        found.append(Study(pfile.stem, paths.studies_file("notebooks",
                                                          str(entry["notebook"])), pfile, y))
    found.sort(key=lambda s: (s.order, s.name))
    known = [s.name for s in found]
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise ValueError(f"unknown studies: {', '.join(unknown)}; the studies are "
                         f"{', '.join(known)}")
    return [s for s in found if not names or s.name in names]


def seeds_of(study: Study, seeds: int = 0, quick: bool = False) -> list[int]:
    """The seeds of a study: ``0..seeds-1`` if given, else its YAML's (a preview takes
    ``QUICK_SEEDS``)."""
    if seeds:
        return list(range(seeds))
    if quick:
        return list(range(QUICK_SEEDS))
    return list(study.yaml.get("seeds", []))


def params_of(study: Study, quick: bool = False, seeds: int = 0, runs_dir: Path | None = None,
              jobs: int = 0, scheduler: str = "", dataset: str = "") -> dict:
    """The parameters the notebook of ``study`` gets: every ``TrainConfig`` field (the
    YAML's over its preset's over the defaults, on ``dataset``), the study's options,
    quick overrides, the seeds, the run store, the worker count and the Dask scheduler."""
    p: dict[str, Any] = dict(study.yaml)
    if study.trains:
        known = set(field_names())
        given = with_preset({k: v for k, v in p.items() if k in known},
                            str(p.get("preset", "")))
        if dataset:
            given["dataset"] = dataset
        p.update(TrainConfig.from_dict(given).to_dict())
        if quick:
            p.update(QUICK_TRAIN)
            # Extra runs that set their own length (e.g. 50 epochs) shrink too.
            extra = [{**e, **{k: v for k, v in QUICK_TRAIN.items() if k in e}}
                     if isinstance(e, dict) else e for e in p.get("extra", [])]
            if extra:
                p["extra"] = extra
        p["seeds"] = seeds_of(study, seeds, quick)
        p["jobs"] = jobs
        if scheduler:  # a run the report's training step missed is retried there too
            p["scheduler"] = scheduler
    else:
        if quick:
            p.update(QUICK_SPEED)
        if dataset:
            p["dataset"] = dataset
    if runs_dir is not None:
        p["runs_dir"] = str(runs_dir)
    return p


def declared(notebook: Path) -> set[str]:
    """The parameters the notebook's ``parameters`` cell declares (its annotated names),
    read from the cell's source without running it."""
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            return {n.target.id for n in tree.body
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    raise ValueError(f"{notebook} has no cell tagged 'parameters'")


def plan_study(study: Study) -> None:
    """Fill ``study.points`` and ``study.seeds`` from its parameters (``params_of``), as
    its notebook computes them.

    Raises
    ------
    ConfigError
        A bad parameter (the notebook would fail with the same message).
    """
    p = study.params
    known = set(field_names())
    options = declared(study.notebook) - known
    unknown = sorted(set(p) - known - options)
    if unknown:  # the words of npcnn.sweep.params.read_params
        raise ConfigError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; this "
                          f"notebook takes the TrainConfig fields and: "
                          f"{', '.join(sorted(options))}")
    config = TrainConfig.from_dict({k: v for k, v in p.items() if k in known})
    for name, kind in (("sweep", str), ("values", list), ("extra", list), ("seeds", list)):
        if name in p and not isinstance(p[name], kind):
            raise ConfigError(f"parameter {name} must be {kind.__name__}, got {p[name]!r}")
    study.points = plan(config, p.get("sweep", ""), p.get("values", []), p.get("extra", []))
    study.seeds = seed_list(p.get("seeds", []), config)


__all__ = ["QUICK_TRAIN", "QUICK_SPEED", "QUICK_SEEDS", "Study", "load_yaml",
           "studies", "seeds_of", "params_of", "declared", "plan_study"]
