"""What a study page shows as text: its header, the summary table over seeds, the
networks side by side. Each displays as HTML in a notebook; tables also carry their
numbers as JSON (MIME ``MIME``), which the report reads back from executed notebooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from npcnn import datasets, text
from npcnn.config import TrainConfig
from npcnn.safeio import json_safe
from npcnn.sweep.plan import Point
from npcnn.sweep.results import (
    DEAD_RELU_IMAGES,
    PointResult,
    RunResult,
    collapse_acc,
    converged_acc,
)

MIME = "application/vnd.npcnn+json"


@dataclass
class Table:
    """A small HTML table: ``columns``, ``rows`` of cells, a ``caption``. A cell that is a
    tuple shows its items on separate lines. ``data`` (JSON-ready) travels with the table
    under ``MIME``."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    data: dict | None = None

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{_html(v)}</td>" for v in row) + "</tr>"
                       for row in self.rows)
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
            bundle[MIME] = self.data
        return bundle


def _plain(v: Any) -> str:
    return "; ".join(map(text.cell, v)) if isinstance(v, tuple) else text.cell(v)


def _html(v: Any) -> str:
    return "<br>".join(escape(text.cell(x)) for x in v) if isinstance(v, tuple) \
        else escape(text.cell(v))


class Block(str):
    """A block of HTML for a notebook page."""

    def _repr_html_(self) -> str:
        return str(self)


class Note(str):
    """A sentence shown as a paragraph in a notebook."""

    def _repr_html_(self) -> str:
        return f"<p>{escape(self)}</p>"


# -- one run, one point ---------------------------------------------------------------


def status_text(r: RunResult) -> str:
    """"completed", "collapsed (83% dead ReLU units)", "failed: ...", ..."""
    if r.status == "collapsed" and r.dead_relu is not None:
        return f"collapsed ({100 * r.dead_relu:.0f}% dead ReLU units)"
    if r.status == "diverged":
        return f"diverged at epoch {len(r.epochs) + 1}"
    if r.status == "failed":
        return f"failed: {r.error}"
    return r.status


def _summary_cell(p: PointResult, metric: str) -> str:
    """``mean ± sd (min–max)`` over the trained seeds (the collapsed ones counted apart)."""
    return p.summary(metric).text()


def _seeds(seeds: Sequence[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def _reach(p: PointResult) -> str:
    return ", ".join("never" if r.epoch_reaching() is None else str(r.epoch_reaching())
                     for r in p.trained) or "—"


def _collapsed(p: PointResult) -> str:
    rate = p.collapse()
    return rate.text() + (f": {_seeds(p.collapsed)}" if rate.k else "")


def _statuses(p: PointResult) -> tuple[str, ...] | str:
    texts = [f"seed {r.seed}: {status_text(r)}" for r in p.runs if r.status != "completed"]
    return tuple(texts) if texts else "completed"


def point_data(p: PointResult) -> dict:
    """A point's numbers for ``report.json``: per seed, and summarised over the trained
    seeds (the collapsed ones counted apart)."""
    final, best = p.summary("final_acc"), p.summary("best_acc")
    rate = p.collapse()
    return {
        "label": p.label, "key": p.config.key(), "dataset": datasets.get(p.config.dataset).id,
        "seeds": p.seeds, "n": p.n, "keys": [r.config.key() for r in p.runs],
        "per_seed": [{"seed": r.seed, "final_acc": json_safe(r.final_acc), "best_acc":
                      json_safe(r.best_acc), "status": r.status} for r in p.runs],
        "trained_seeds": [r.seed for r in p.trained], "n_trained": len(p.trained),
        "final_acc_mean": json_safe(final.mean), "final_acc_sd": json_safe(final.sd),
        "best_acc_mean": json_safe(best.mean), "best_acc_sd": json_safe(best.sd),
        "collapsed": rate.k, "collapsed_seeds": p.collapsed,
        "collapse_ci95": [json_safe(v) for v in rate.ci95],
        "epochs": max((len(r.epochs) for r in p.runs), default=0),
        "seconds_per_epoch": json_safe(p.summary("seconds_per_epoch").mean),
        "converged_acc": converged_acc(p.config.dataset),
        "epoch_reaching": [r.epoch_reaching() for r in p.runs],
        "status": "completed" if all(r.status == "completed" for r in p.runs) else
        ", ".join(sorted({r.status for r in p.runs if r.status != "completed"})),
    }


def _caption(results: Sequence[PointResult]) -> str:
    ds = datasets.get(results[0].config.dataset) if results else datasets.MNIST
    return (f"Test accuracy on the {ds.n_test:,} {ds.title} test images: mean ± sample sd "
            f"(min–max) over the trained seeds. A run that ends below "
            f"{collapse_acc(ds.name):g} without a NaN is collapsed (with the share of its "
            f"first ReLU layer's units that are 0 for all of {DEAD_RELU_IMAGES:,} test "
            "images), a run whose loss became NaN diverged; both are counted apart, with "
            "the exact 95% binomial interval of the rate, and left out of every mean.")


def summary_table(results: Sequence[PointResult], caption: str = "") -> Table:
    """Per point: final and best test accuracy over the trained seeds (mean ± sd,
    min–max), the epoch reaching the dataset's ``converged_acc`` per seed, seconds per
    epoch, collapsed k of n with its interval, and the status of every run that did not
    simply complete."""
    target = converged_acc(results[0].config.dataset) if results else 0.98
    cols = ["run", "n", "final test acc", "best test acc", f"epoch reaching {target:g}",
            "s / epoch", "collapsed", "status"]
    rows = [[p.label, p.n, _summary_cell(p, "final_acc"), _summary_cell(p, "best_acc"),
             _reach(p), round(p.summary("seconds_per_epoch").mean, 2), _collapsed(p),
             _statuses(p)] for p in results]
    return Table(cols, rows, caption or _caption(results),
                 data={"kind": "summary", "runs": [point_data(p) for p in results]})


def compare_table(results: Sequence[PointResult]) -> Table:
    """Networks side by side: parameters, accuracy over seeds, epochs to converge, time."""
    from npcnn.models import build_network, count_params

    target = converged_acc(results[0].config.dataset) if results else 0.98
    rows = []
    for p in results:
        total = np.mean([np.nansum(r.series("seconds")) for r in p.trained] or [0])
        rows.append([p.label, f"{count_params(build_network(p.config)):,}", p.n,
                     _summary_cell(p, "best_acc"), _summary_cell(p, "final_acc"), _reach(p),
                     round(p.summary("seconds_per_epoch").mean, 2), f"{total / 60:.1f}",
                     _collapsed(p)])
    return Table(["network", "parameters", "n", "best test acc", "final test acc",
                  f"epoch reaching {target:g}", "s / epoch", "total min per run",
                  "collapsed"], rows,
                 "Each network trained with the same optimizer settings, epochs and seeds. "
                 + _caption(results),
                 data={"kind": "summary", "runs": [point_data(p) for p in results]})


def heading(title: str, note: str = "") -> Block:
    """A page's title, and a sentence under it."""
    return Block(f"<h1>{escape(title)}</h1>" + (f"<p>{escape(note)}</p>" if note else ""))


def header(title: str, config: TrainConfig, points: Sequence[Point] = (),
           claim: str = "", note: str = "", seeds: Sequence[int] = ()) -> Block:
    """The top of a study's page: title, a note, the dataset, the claim under test, the
    base configuration, what each point changes, and the seeds."""
    base = config.to_dict()
    items = []
    for p in points:
        change = ", ".join(f"{k}={text.cell(v)}" for k, v in p.config.to_dict().items()
                           if v != base[k])
        if change and change != p.label:
            items.append(f"<li><b>{escape(p.label)}</b>: {escape(change)}</li>")
        elif change:
            items.append(f"<li>{escape(change)}</li>")
    same = ", ".join(f"{k}={text.cell(v) if not isinstance(v, list) else v}"
                     for k, v in base.items() if k not in ("data_dir", "seed", "dataset"))
    seeds = list(seeds) or [config.seed]
    ds = datasets.get(config.dataset)
    parts = [heading(title, note)]
    parts.append(f"<p><b>Dataset:</b> {escape(ds.title)} ({escape(ds.notes)}; "
                 f"{ds.n_train:,} training and {ds.n_test:,} test images).</p>")
    if claim:
        parts.append(f"<p><b>The original report's claim:</b> “{escape(claim)}”</p>")
    parts.append(f"<p><b>Base configuration</b> (<code>TrainConfig</code>): <small>"
                 f"{escape(same)}</small></p>")
    if items:
        parts.append(f"<p>Runs besides the base, as changes of it:</p><ul>{''.join(items)}</ul>")
    parts.append(f"<p>Every point is trained once per seed: {_seeds(seeds)} "
                 f"(n={len(seeds)}).</p>")
    return Block("".join(parts))


__all__ = ["MIME", "Table", "Block", "Note", "status_text", "point_data", "summary_table",
           "compare_table", "heading", "header"]
