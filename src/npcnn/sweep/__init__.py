"""Sweeps: notebook parameters -> planned points x seeds -> runs trained in parallel ->
results grouped by point -> tables.

One module per step: ``params`` (a notebook's parameters to a config and options),
``plan`` (points, seeds, every run, cost estimates), ``backend`` (where runs train: the
interface and the loop that drives it), ``pool`` (local worker processes) and
``cluster`` (a Dask cluster), ``progress``, ``runner`` (train what the run store lacks,
read it back), ``results`` (a run, a point over its seeds), ``tables`` (what a page shows
as text). The names a notebook needs are here.
"""

from npcnn.sweep.params import read_params
from npcnn.sweep.plan import Point, Run, estimate_seconds, plan, runs, seed_list
from npcnn.sweep.progress import Progress, ProgressPrinter
from npcnn.sweep.results import PointResult, RunResult, collapse_acc, converged_acc, load_models
from npcnn.sweep.runner import collect, run, scheduler_address, train_runs
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
    "read_params", "Point", "Run", "estimate_seconds", "plan", "runs", "seed_list",
    "Progress", "ProgressPrinter", "PointResult", "RunResult", "collapse_acc",
    "converged_acc", "load_models", "collect", "run", "scheduler_address", "train_runs",
    "Block", "Note", "Table", "compare_table", "header", "heading", "summary_table",
]
