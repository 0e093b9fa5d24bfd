"""Sweeps: notebook parameters -> configurations -> runs in parallel -> results and tables.

A notebook's ``parameters`` cell holds annotated plain values (every ``TrainConfig``
field plus notebook options such as ``sweep``, ``values``, ``extra``, ``jobs``).
``read_params(globals())`` turns them into a ``TrainConfig`` and the options,
``plan`` into labelled ``Point``s, ``run`` trains the missing ones in worker processes
(the run store, ``npcnn.runs``, keeps every finished run) and returns ``RunResult``s,
which ``summary_table`` and ``npcnn.plots`` present.

With a Dask scheduler address (the ``scheduler`` argument or notebook parameter, else
``$NPCNN_SCHEDULER``) the runs go to that cluster instead (``npcnn.cluster``), one task
per run, and their files come back to the local run store.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import contextlib
import math
import multiprocessing
import os
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

from npcnn import runs
from npcnn.config import ConfigError, TrainConfig, field_names

# A run that trains without a NaN but whose final test accuracy stays below this is
# "collapsed": stuck near chance (0.1 for ten classes).
COLLAPSE_ACC = 0.2
# Images of the test set pushed through the network to count dead ReLU units.
DEAD_RELU_IMAGES = 1000
TARGET_ACC = 0.98  # the seed's "reached 0.98" milestone
# Environment of the worker processes: one BLAS thread each, so N workers use N cores.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TQDM_DISABLE": "1"}
# Names IPython puts into a notebook's namespace; they are never parameters.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_PLAIN = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


# -- parameters -----------------------------------------------------------------------


def read_params(ns: dict[str, Any]) -> tuple[TrainConfig, types.SimpleNamespace]:
    """The config and the notebook options from a notebook's namespace.

    Parameters
    ----------
    ns
        ``globals()`` of the notebook, right after its ``parameters`` cell (and the
        cell papermill injects). The parameters cell's annotations (``lr: float = 0.01``)
        declare the parameters and their types.

    Returns
    -------
    (config, options)
        ``TrainConfig`` of the names that are config fields (validated by it), and a
        namespace of the other declared parameters, each checked against its annotation.

    Raises
    ------
    ConfigError
        A parameter that the cell does not declare (a typo such as ``-p lrr 0.1``), a
        value of the wrong type, or a bad config value; the message names it.
    """
    declared = dict(ns.get("__annotations__", {}))
    unknown = sorted(set(_given_names(ns)) - set(declared))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; this notebook takes: "
            f"{', '.join(sorted(declared))}"
        )
    fields = set(field_names())
    config = TrainConfig.from_dict({k: ns[k] for k in declared if k in fields})
    options = {}
    for name, kind in declared.items():
        if name not in fields:
            options[name] = _check_type(name, ns[name], kind)
    return config, types.SimpleNamespace(**options)


def _given_names(ns: dict[str, Any]) -> list[str]:
    """Names whose values came from outside: papermill's injected cell, or any plain
    name of ``ns`` when it is not a live IPython namespace (e.g. ``report``'s planner)."""
    history = ns.get("In")
    if isinstance(history, list):
        # papermill's injected cell starts with this comment; the last one wins.
        injected = [src for src in history if src.lstrip().startswith("# Parameters")]
        if not injected:
            return []
        tree = ast.parse(injected[-1])
        return [t.id for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)]
    return [k for k, v in ns.items() if not k.startswith("_") and k not in _IPYTHON_NAMES
            and not isinstance(v, types.ModuleType)]


def _check_type(name: str, value: Any, kind: Any) -> Any:
    kind = _PLAIN.get(kind, kind) if isinstance(kind, str) else kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, tuple):
        return list(value)
    if kind in _PLAIN.values() and (not isinstance(value, kind) or (
            kind is int and isinstance(value, bool))):
        raise ConfigError(f"parameter {name} must be {kind.__name__}, got {value!r}")
    return value


# -- plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One run of a study: a label for legends and tables, its config, the swept value."""

    label: str
    config: TrainConfig
    value: Any = None


def describe(config: TrainConfig) -> str:
    """A short name of the network, e.g. ``"CNN k=3 C=4"`` or ``"MLP 784-100-50-10"``."""
    if config.model == "mlp":
        return "MLP " + "-".join(map(str, (784, *config.hidden, 10)))
    return f"CNN k={config.kernel_size} C={config.channels}"


def plan(config: TrainConfig, sweep: str = "", values: Sequence[Any] = (),
         extra: Sequence[dict[str, Any]] = ()) -> list[Point]:
    """The points of a study.

    Parameters
    ----------
    config
        The base configuration.
    sweep, values
        A ``TrainConfig`` field and its values: one point per value. ``sweep=""``: the
        base configuration alone.
    extra
        Further points as overrides of the base, e.g. ``{"schedule": "constant"}``; an
        optional ``"label"`` key names the point in legends.

    Raises
    ------
    ConfigError
        An unknown field or a bad value, naming it.
    """
    if not isinstance(sweep, str):
        raise ConfigError(f"sweep must be a config field name, got {sweep!r}")
    if sweep and sweep not in field_names():
        raise ConfigError(f"sweep names unknown field {sweep!r}; fields: "
                          f"{', '.join(field_names())}")
    if sweep and not values:
        raise ConfigError(f"sweep {sweep!r} needs a non-empty list of values")
    if values and not sweep:
        raise ConfigError("values given without sweep: name the field to sweep")
    points = [Point(f"{sweep}={_fmt(v)}", config.replace(**{sweep: v}), v) for v in values]
    if not sweep:
        points = [Point(describe(config), config)]
    for i, overrides in enumerate(extra):
        if not isinstance(overrides, dict):
            raise ConfigError(f"extra[{i}] must be a mapping of field: value, "
                              f"got {overrides!r}")
        changes = {k: v for k, v in overrides.items() if k != "label"}
        label = overrides.get("label") or ", ".join(f"{k}={_fmt(v)}" for k, v in changes.items())
        points.append(Point(str(label), config.replace(**changes)))
    return points


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# -- results --------------------------------------------------------------------------


@dataclass
class RunResult:
    """A point's run as read from the store, with the numbers the tables need.

    ``status`` is the history's ("completed", "diverged", ...), "collapsed" for a run
    that finished at chance (final test accuracy < ``COLLAPSE_ACC``), or "failed" when
    training raised (``error`` says why). ``dead_relu`` is, for collapsed runs, the
    fraction of the first ReLU's units that output 0 for every one of
    ``DEAD_RELU_IMAGES`` test images.
    """

    label: str
    config: TrainConfig
    value: Any = None
    status: str = "missing"
    history: dict = field(default_factory=dict)
    error: str = ""
    dead_relu: float | None = None

    @property
    def epochs(self) -> list[dict]:
        return list(self.history.get("epochs", []))

    def series(self, metric: str) -> np.ndarray:
        """Per-epoch values of ``metric`` (e.g. "test_acc", "val_loss"), shape (E,)."""
        return np.array([np.nan if e.get(metric) is None else e[metric] for e in self.epochs],
                        dtype=float)

    @property
    def final_acc(self) -> float:
        acc = self.series("test_acc")
        return float(acc[-1]) if acc.size else float("nan")

    @property
    def best_acc(self) -> float:
        acc = self.series("test_acc")
        return float(np.nanmax(acc)) if acc.size else float("nan")

    @property
    def best_epoch(self) -> int | None:
        acc = self.series("test_acc")
        return int(np.nanargmax(acc)) + 1 if acc.size else None

    def epoch_reaching(self, target: float = TARGET_ACC) -> int | None:
        """First epoch (1-based) whose test accuracy is >= ``target``; None if none."""
        hits = np.flatnonzero(self.series("test_acc") >= target)
        return int(hits[0]) + 1 if hits.size else None

    @property
    def seconds_per_epoch(self) -> float:
        """Median wall seconds of an epoch (training + evaluation of 15,000 images)."""
        s = self.series("seconds")
        return float(np.median(s)) if s.size else float("nan")

    def late(self, metric: str = "test_acc") -> np.ndarray:
        """The last third of the epochs (at least one): where "final" accuracy is read."""
        s = self.series(metric)
        return s[-max(1, len(s) // 3):] if s.size else s

    @property
    def late_mean(self) -> float:
        s = self.late()
        return float(np.mean(s)) if s.size else float("nan")

    @property
    def late_std(self) -> float:
        s = self.late()
        return float(np.std(s)) if s.size else float("nan")


# -- running --------------------------------------------------------------------------


@dataclass
class Progress:
    """State of a running sweep, passed to the ``progress`` callback of ``run``."""

    runs_done: int
    runs_total: int
    epochs_done: int
    epochs_total: int
    work_done: float  # estimated seconds of finished work (``estimate_seconds`` units)
    work_total: float
    elapsed: float  # wall seconds since the sweep started
    running: list[str]  # labels of the runs in progress
    finished: str = ""  # label of the run that just finished, if any
    failed: list[str] = field(default_factory=list)  # labels of the runs that failed

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before anything measurable was done."""
        if self.work_done <= 0 or self.elapsed <= 1:
            return None
        return (self.work_total - self.work_done) * self.elapsed / self.work_done


def estimate_seconds(config: TrainConfig) -> float:
    """Rough wall seconds of a run in a worker (one BLAS thread, both cores busy), for
    ordering the runs and the progress line only.

    Seconds per full epoch (train 55,000 + evaluate 15,000 images), fitted to
    measurements on this project's 2-core machine: C=4 k=3 2.6 s, k=5 6.5 s, k=7 12 s,
    C=16 10.6 s, C=32 25 s, C=16 k=5 23 s; an MLP about 0.5 s. Evaluating an image costs
    about a third of training one, so a subset scales ``n_train + 5,000``.
    """
    if config.model == "mlp":
        dims = (784, *config.hidden, 10)
        macs = sum(a * b for a, b in zip(dims, dims[1:], strict=False))
        per_epoch = 0.2 + 0.3 * macs / 84_000
    else:
        C, k2 = config.channels, config.kernel_size ** 2
        per_epoch = 1.0 + 0.04 * C * k2 + 6.8e-4 * C * C * k2 + 0.174 * C
    n_train = config.subset or 55_000
    return config.epochs * per_epoch * (n_train + 5_000) / 60_000


def run(points: Sequence[Point], jobs: int = 0, runs_dir: str = "",
        progress: Callable[[Progress], None] | None = None, poll: float = 5.0,
        scheduler: str = "") -> list[RunResult]:
    """Train every point the run store lacks, in parallel; return one result per point.

    Parameters
    ----------
    points
        From ``plan``. Points sharing a configuration are trained once.
    jobs
        Worker processes; 0 means ``os.cpu_count()``. Each worker runs with one BLAS
        thread, so ``jobs`` workers keep ``jobs`` cores busy without oversubscribing.
        Ignored on a Dask cluster (its workers' threads are the slots).
    runs_dir
        The run store root ("" = ``runs.default_root()``).
    progress
        Called with a ``Progress`` when a run finishes and every ``poll`` seconds.
    scheduler
        Address of a Dask scheduler, e.g. "tcp://10.0.0.5:8786"; "" = ``$NPCNN_SCHEDULER``,
        and if that is unset too, local worker processes.

    Returns
    -------
    list of RunResult, in the order of ``points``. A run whose training raised is
    returned with status "failed" and the error; the others still run.

    Raises
    ------
    npcnn.cluster.ClusterError
        A scheduler is given but dask is not installed or the scheduler does not answer.
    """
    root = runs.root_of(runs_dir)
    todo = runs.to_train([p.config for p in points], root)
    labels = {p.config.key(): p.label for p in points}
    errors = train_many(todo, jobs, root, progress, poll, labels, scheduler=scheduler)
    # A point answered by a longer run of its family shares that run's error.
    family_error = {runs.family_key(c): errors[c.key()] for c in todo if c.key() in errors}
    return [result(p, root, family_error.get(runs.family_key(p.config), ""))
            for p in points]


def scheduler_address(scheduler: str = "") -> str:
    """``scheduler``, else ``$NPCNN_SCHEDULER``, else "" (train locally)."""
    return (scheduler or os.environ.get("NPCNN_SCHEDULER", "")).strip()


def train_many(configs: Sequence[TrainConfig], jobs: int = 0, root: Any = None,
               progress: Callable[[Progress], None] | None = None, poll: float = 5.0,
               labels: dict[str, str] | None = None, scheduler: str = "") -> dict[str, str]:
    """Train ``configs`` into the store, longest first: with ``jobs`` local worker
    processes, or on the Dask cluster at ``scheduler_address(scheduler)``.

    Returns ``{config key: error message}`` for the runs whose training failed.
    """
    if not configs:
        return {}
    address = scheduler_address(scheduler)
    if address:
        from npcnn import cluster

        return cluster.train_many(configs, address, root, progress, poll, labels)
    root = runs.root_of(root)
    labels = labels or {}
    jobs = min(jobs or os.cpu_count() or 1, len(configs))
    # Longest first: the long runs start at once and the short ones fill the gaps.
    order = sorted(configs, key=estimate_seconds, reverse=True)
    tracker = Tracker(order, root, labels)
    errors: dict[str, str] = {}
    ctx = multiprocessing.get_context("spawn")
    # Spawned workers inherit the environment at start-up, so the thread limits are in
    # place before they import NumPy.
    with worker_environment():
        pool = cf.ProcessPoolExecutor(jobs, mp_context=ctx)
        try:
            futures = {pool.submit(_train_worker, c.to_dict(), str(root)): c for c in order}
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=poll, return_when=cf.FIRST_COMPLETED)
                ended = []
                for fut in done:
                    key = futures[fut].key()
                    ended.append(labels.get(key, key))
                    try:
                        fut.result()
                        tracker.state[key] = "done"
                    except Exception as err:  # one failed run must not stop the sweep
                        errors[key] = f"{type(err).__name__}: {err}"
                        tracker.state[key] = "failed"
                # The pool marks a queued call "running" one step early: the first
                # `jobs` are.
                running = [futures[f].key() for f in pending if f.running()][:jobs]
                for key in running:
                    tracker.state[key] = "running"
                # One call per run that ended, so each is shown as it finishes.
                for label in ended or [""]:
                    if progress is not None:
                        progress(tracker.progress(label))
        except BaseException:
            # Ctrl-C or an error: drop the queued runs at once instead of running them
            # while shutting down. Running ones stop on the same Ctrl-C (the terminal
            # sends it to the workers too) or finish their run; the store keeps both.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return errors


class Tracker:
    """What a sweep's ``Progress`` needs: each run's state ("queued", "running", "done",
    "failed"), its estimated cost, and the epochs it held before this sweep."""

    def __init__(self, configs: Sequence[TrainConfig], root: Any,
                 labels: dict[str, str]) -> None:
        self.configs = {c.key(): c for c in configs}
        self.root, self.labels = root, labels
        self.state = dict.fromkeys(self.configs, "queued")
        self.cost = {k: estimate_seconds(c) for k, c in self.configs.items()}
        # Epochs a killed run already holds are not work of this sweep: keep them out of
        # the rate, or the time left would look shorter than it is.
        self.initial = {k: runs.epochs_done(c, root) for k, c in self.configs.items()}
        self.start = time.perf_counter()

    def label(self, key: str) -> str:
        return self.labels.get(key, key)

    def progress(self, finished: str = "") -> Progress:
        epochs_done = work_done = work_total = 0.0
        for key, c in self.configs.items():
            state, n0 = self.state[key], self.initial[key]
            n = c.epochs if state == "done" else max(n0, runs.epochs_done(c, self.root))
            epochs_done += n - n0
            work_done += self.cost[key] * (n - n0) / c.epochs
            work_total += self.cost[key] * (c.epochs - n0) / c.epochs
        by_state = {s: [self.label(k) for k, v in self.state.items() if v == s]
                    for s in ("running", "failed")}
        return Progress(
            runs_done=sum(v in ("done", "failed") for v in self.state.values()),
            runs_total=len(self.configs), epochs_done=int(epochs_done),
            epochs_total=sum(c.epochs - self.initial[k] for k, c in self.configs.items()),
            work_done=work_done, work_total=work_total,
            elapsed=time.perf_counter() - self.start, running=by_state["running"],
            finished=finished, failed=by_state["failed"],
        )


class ProgressPrinter:
    """A ``progress`` callback printing one line when a run finishes or fails, and at
    most one every ``every`` seconds otherwise: runs done, failed, running."""

    def __init__(self, every: float = 60.0) -> None:
        self.every, self.last = every, time.perf_counter()

    def __call__(self, p: Progress) -> None:
        now = time.perf_counter()
        if not p.finished and now - self.last < self.every:
            return
        self.last = now
        eta = "" if p.eta is None else f", about {p.eta / 60:.0f} min left"
        failed = f" | failed: {', '.join(p.failed)}" if p.failed else ""
        just = f" | finished: {p.finished}" if p.finished else ""
        print(f"{p.runs_done}/{p.runs_total} runs, {p.epochs_done}/{p.epochs_total} epochs"
              f"{eta}{just}{failed} | running: {', '.join(p.running) or '-'}", flush=True)


def _train_worker(config: dict, root: str) -> str:
    """Worker entry point (a module-level function, so ``spawn`` can pickle it)."""
    history = runs.ensure(TrainConfig.from_dict(config), root)
    return str(history.get("status"))


@contextlib.contextmanager
def worker_environment() -> Iterator[None]:
    """``WORKER_ENV`` set in ``os.environ`` for the block: worker processes started
    inside it (``spawn``) inherit one BLAS thread each."""
    old = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def result(point: Point, root: Any = None, error: str = "") -> RunResult:
    """The ``RunResult`` of ``point`` from the store (status "failed" with ``error``)."""
    history = runs.read_history(point.config, root) or {}
    status = str(history.get("status", "missing"))
    r = RunResult(point.label, point.config, point.value, status, history, error)
    if error and status not in runs.FINISHED:
        r.status = "failed"
    elif status == "completed" and r.final_acc < COLLAPSE_ACC:
        r.status = "collapsed"
        with contextlib.suppress(FileNotFoundError):
            r.dead_relu = dead_relu_fraction(runs.load_model(point.config, root), point.config)
    return r


def dead_relu_fraction(model: Any, config: TrainConfig, n: int = DEAD_RELU_IMAGES) -> float:
    """Fraction of the first ReLU's output units that are 0 for all of ``n`` test images.

    A unit is one (channel, row, column) position of a conv layer's map, or one hidden
    unit of an MLP. A unit that is 0 for every input passes no gradient: it is dead.
    """
    from npcnn.data import load_mnist
    from npcnn.layers import ReLU

    x = load_mnist(config.data_dir or None)[2][:n]
    h = x
    for layer in model.layers:
        h = layer.forward(h)
        if isinstance(layer, ReLU):
            return float(np.mean(np.all(h <= 0, axis=0)))
    return float("nan")


# -- tables ---------------------------------------------------------------------------


@dataclass
class Table:
    """A small HTML table for notebooks: ``columns``, ``rows`` of cells, a ``caption``.

    ``data`` (JSON-ready) travels with the displayed table under the MIME type
    ``application/vnd.npcnn+json``, so ``npcnn.report`` can read numbers back out of an
    executed notebook.
    """

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    data: dict | None = None

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in self.rows
        )
        cap = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="npcnn">{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")

    def __repr__(self) -> str:
        lines = [" | ".join(self.columns)]
        lines += [" | ".join(_plain(v) for v in row) for row in self.rows]
        return "\n".join(([self.caption] if self.caption else []) + lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        if self.data is not None:
            bundle["application/vnd.npcnn+json"] = self.data
        return bundle


def _plain(v: Any) -> str:
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.4g}"
    return "—" if v is None else str(v)


def _cell(v: Any) -> str:
    return escape(_plain(v))


def status_text(r: RunResult) -> str:
    """"completed", "collapsed (83% dead ReLU units)", "failed: ...", ..."""
    if r.status == "collapsed" and r.dead_relu is not None:
        return f"collapsed ({100 * r.dead_relu:.0f}% dead ReLU units)"
    if r.status == "failed":
        return f"failed: {r.error}"
    return r.status


def summary_table(results: Sequence[RunResult], caption: str = "") -> Table:
    """Final and best test accuracy, epoch reaching 0.98, seconds per epoch, status."""
    cols = ["run", "epochs", "final test acc", "best test acc (epoch)",
            "late mean ± std (last third)", f"epoch reaching {TARGET_ACC}",
            "s / epoch", "status"]
    rows = []
    for r in results:
        best = "—" if r.best_epoch is None else f"{r.best_acc:.4f} ({r.best_epoch})"
        late = "—" if not r.epochs else f"{r.late_mean:.4f} ± {r.late_std:.4f}"
        reach = r.epoch_reaching()
        rows.append([r.label, len(r.epochs), round(r.final_acc, 4), best, late,
                     "never" if reach is None and r.epochs else reach,
                     round(r.seconds_per_epoch, 2), status_text(r)])
    return Table(cols, rows, caption or "Measured on the 10,000 MNIST test images",
                 data={"kind": "summary", "runs": [_summary_data(r) for r in results]})


def _summary_data(r: RunResult) -> dict:
    def num(v: float) -> float | None:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    return {"label": r.label, "key": r.config.key(), "status": r.status,
            "epochs": len(r.epochs), "final_acc": num(r.final_acc),
            "best_acc": num(r.best_acc), "seconds_per_epoch": num(r.seconds_per_epoch),
            "epoch_reaching": r.epoch_reaching(), "dead_relu": r.dead_relu}


class Block(str):
    """A block of HTML for a notebook page."""

    def _repr_html_(self) -> str:
        return str(self)


def header(title: str, config: TrainConfig, points: Sequence[Point] = (),
           claim: str = "", note: str = "") -> Block:
    """The top of a study's page: title, a note, the claim under test, the base
    configuration and what each point changes."""
    base = config.to_dict()
    items = []
    for p in points:
        change = ", ".join(f"{k}={_plain(v)}" for k, v in p.config.to_dict().items()
                           if v != base[k])
        if change and change != p.label:
            items.append(f"<li><b>{escape(p.label)}</b>: {escape(change)}</li>")
        elif change:
            items.append(f"<li>{escape(change)}</li>")
    same = ", ".join(f"{k}={_plain(v) if not isinstance(v, list) else v}"
                     for k, v in base.items() if k != "data_dir")
    note_html = f"<p>{escape(note)}</p>" if note else ""
    claim_html = f"<p><b>The seed's claim:</b> “{escape(claim)}”</p>" if claim else ""
    runs_html = (f"<p>Runs besides the base, as changes of it:</p><ul>{''.join(items)}</ul>"
                 if items else "")
    return Block(f"<h2>{escape(title)}</h2>{note_html}{claim_html}<p><b>Base "
                 f"configuration</b> (<code>TrainConfig</code>): <small>{escape(same)}"
                 f"</small></p>{runs_html}")


def compare_table(results: Sequence[RunResult]) -> Table:
    """Networks side by side: parameters, accuracy, epochs to 0.98, time."""
    from npcnn.models import build_model, count_params

    rows = []
    for r in results:
        reach = r.epoch_reaching()
        total = float(np.nansum(r.series("seconds")))
        rows.append([r.label, f"{count_params(build_model(r.config)):,}",
                     round(r.best_acc, 4), round(r.final_acc, 4),
                     "never" if reach is None else reach, round(r.seconds_per_epoch, 2),
                     f"{total / 60:.1f}", status_text(r)])
    return Table(["network", "parameters", "best test acc", "final test acc",
                  f"epoch reaching {TARGET_ACC}", "s / epoch", "total min", "status"], rows,
                 "Each network trained with the same optimizer settings and epochs",
                 data={"kind": "summary", "runs": [_summary_data(r) for r in results]})


def test_set(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images ``(N, 1, 28, 28)`` and labels ``(N,)``."""
    from npcnn.data import load_mnist

    _, _, x, y = load_mnist(config.data_dir or None)
    return x, y


__all__ = [
    "COLLAPSE_ACC",
    "TARGET_ACC",
    "Point",
    "Progress",
    "RunResult",
    "Table",
    "read_params",
    "plan",
    "describe",
    "run",
    "train_many",
    "scheduler_address",
    "Tracker",
    "ProgressPrinter",
    "result",
    "estimate_seconds",
    "dead_relu_fraction",
    "summary_table",
    "worker_environment",
    "header",
    "compare_table",
    "test_set",
    "status_text",
]
