"""Sweeps: notebook parameters -> planned points x seeds -> runs trained in parallel ->
results grouped by point -> tables.

One module per step: ``params`` (a notebook's parameters to a config and options),
``plan`` (points, seeds, cost estimates), ``pool`` (local worker processes),
``progress`` (shared with the Dask backend, ``npcnn.cluster``), ``runner`` (train what
the run store lacks, read it back), ``results`` (a run, a point over its seeds),
``tables`` (what a page shows as text). The names a notebook needs are here.
"""

from npcnn.sweep.params import read_params
from npcnn.sweep.plan import Point, describe, estimate_seconds, plan, seed_list
from npcnn.sweep.progress import Progress, ProgressPrinter
from npcnn.sweep.results import COLLAPSE_ACC, TARGET_ACC, PointResult, RunResult, load_models
from npcnn.sweep.runner import run, scheduler_address, train_many
from npcnn.sweep.tables import (
    Block,
    Note,
    Table,
    compare_table,
    header,
    heading,
    summary_table,
)

__all__ = [
    "read_params", "Point", "describe", "estimate_seconds", "plan", "seed_list",
    "Progress", "ProgressPrinter", "COLLAPSE_ACC", "TARGET_ACC", "PointResult",
    "RunResult", "load_models", "run", "scheduler_address", "train_many", "Block", "Note",
    "Table", "compare_table", "header", "heading", "summary_table",
]
