"""The report's studies and what each will train.

A study is a notebook run with ``params/<name>.yaml``; the YAML holds the notebook's
parameters, among them the page's ``title`` and the ``claim`` (1-8, 0 for none) it tests.
The runs a study trains are computed exactly as its notebook computes them: the
notebook's own ``parameters`` cell, the YAML and the report's settings, then
``read_params`` and ``plan``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npcnn import paths
from npcnn.config import TrainConfig
from npcnn.sweep.params import read_params
from npcnn.sweep.plan import Point, plan, seed_list

# The pages, in the order of the index: (name, notebook, trains runs).
ORDER = [
    ("headline", "sweep.ipynb", True),
    ("lr", "sweep.ipynb", True),
    ("momentum", "sweep.ipynb", True),
    ("kernel_size", "sweep.ipynb", True),
    ("channels", "sweep.ipynb", True),
    ("init_std", "sweep.ipynb", True),
    ("loss", "sweep.ipynb", True),
    ("weight_decay", "sweep.ipynb", True),
    ("cnn_vs_mlp", "cnn_vs_mlp.ipynb", True),
    ("feature_maps", "feature_maps.ipynb", True),
    ("speed", "speed.ipynb", False),  # times the code: trains nothing in the run store
]
# A preview: small settings, the same notebooks and code paths.
QUICK_TRAIN = {"epochs": 2, "subset": 6000}
QUICK_SPEED = {"channel_counts": [4, 8], "batch_sizes": [50, 100], "naive_batch": 2}
FULL_SEEDS, QUICK_SEEDS = 3, 1  # seeds per point unless told otherwise


@dataclass
class Study:
    """One page of the report: a notebook, its params file, what it plans to train."""

    name: str
    notebook: Path
    params_file: Path | None
    trains: bool = True
    title: str = ""
    claim: int = 0
    params: dict = field(default_factory=dict)  # what the notebook gets (see params_of)
    points: list[Point] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @property
    def configs(self) -> list[TrainConfig]:
        """Every run of the study: each point under each seed."""
        return [p.config.replace(seed=s) for p in self.points for s in self.seeds]


def load_yaml(path: Path | None) -> dict:
    import yaml

    if path is None or not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def studies(names: list[str] | None = None) -> list[Study]:
    """The report's studies (all, or those named), with title and claim from the YAML.

    Raises
    ------
    ValueError
        A name that is no study.
    """
    known = [name for name, _, _ in ORDER]
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise ValueError(f"unknown studies: {', '.join(unknown)}; the studies are "
                         f"{', '.join(known)}")
    out = []
    for name, notebook, trains in ORDER:
        if names and name not in names:
            continue
        pfile = paths.studies_file("params", f"{name}.yaml")
        p = load_yaml(pfile)
        out.append(Study(name, paths.studies_file("notebooks", notebook), pfile, trains,
                         str(p.get("title", name.replace("_", " ").capitalize())),
                         int(p.get("claim", 0))))
    return out


def params_of(study: Study, quick: bool, seeds: int, runs_dir: Path, jobs: int,
              scheduler: str = "") -> dict:
    """The parameters the notebook of ``study`` gets: its YAML, quick overrides, the
    seeds (``0 .. seeds-1``), the run store, the worker count and the Dask scheduler."""
    p: dict[str, Any] = load_yaml(study.params_file)
    if quick:
        p.update(QUICK_TRAIN if study.trains else QUICK_SPEED)
        # Extra runs that set their own length (e.g. 50 epochs) shrink too.
        extra = [{**e, **{k: v for k, v in QUICK_TRAIN.items() if k in e}}
                 if isinstance(e, dict) else e for e in p.get("extra", [])]
        if extra:
            p["extra"] = extra
    p["runs_dir"] = str(runs_dir)
    if study.trains:
        p["seeds"] = list(range(seeds))
        p["jobs"] = jobs
        if scheduler:  # a run the report's training step missed is retried there too
            p["scheduler"] = scheduler
    return p


def parameters_cell(notebook: Path) -> str:
    """Source of the cell tagged ``parameters``."""
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"])
    raise ValueError(f"{notebook} has no cell tagged 'parameters'")


def plan_study(study: Study) -> None:
    """Fill ``study.points`` and ``study.seeds`` the way its notebook will compute them.

    Raises
    ------
    ConfigError
        A bad parameter (the notebook would fail with the same message).
    """
    ns: dict[str, Any] = {}
    exec(parameters_cell(study.notebook), ns)  # our own notebook's plain assignments
    ns.pop("__builtins__", None)
    ns.update(study.params)
    cfg, opts = read_params(ns)
    study.points = plan(cfg, getattr(opts, "sweep", ""), getattr(opts, "values", []),
                        getattr(opts, "extra", []))
    study.seeds = seed_list(getattr(opts, "seeds", []), cfg)


__all__ = ["ORDER", "QUICK_TRAIN", "QUICK_SPEED", "FULL_SEEDS", "QUICK_SEEDS", "Study",
           "load_yaml", "studies", "params_of", "parameters_cell", "plan_study"]
