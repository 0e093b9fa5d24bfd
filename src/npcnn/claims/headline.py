"""The headline: the default network and the best network (``npcnn.config.BEST``), 100
epochs, beside the original report's two accuracies (on MNIST, the only dataset it
trained on; elsewhere our numbers alone).

Each of the original's numbers is one run. It is read against our seeds' 95% prediction
interval for one run, ``mean ± t(0.975, n-1) sd sqrt(1 + 1/n)``, not against the mean's
confidence interval (which a single run may well miss by chance); the mean's interval is
given beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from npcnn import datasets
from npcnn.claims.clauses import best_cnn
from npcnn.claims.original import DATASET, ORIGINAL
from npcnn.safeio import json_safe
from npcnn.stats import Summary
from npcnn.sweep.results import PointResult
from npcnn.sweep.tables import MIME, Table

METRICS = {"final_acc": "final test accuracy",
           "acc_at_best_val": "test accuracy at the epoch of best validation accuracy",
           "best_acc": "best epoch's test accuracy (picked on the test set: optimistic)"}


def place(value: float, values: Sequence[float]) -> str:
    """Where a single run's ``value`` falls against our seeds' 95% prediction interval
    for one run: "inside", "above" or "below" it, or "not measured"."""
    pi = Summary.of(values).prediction()
    if pi is None:
        return "not measured" if not values else "one seed: no interval"
    if value > pi[1]:
        return "above"
    return "below" if value < pi[0] else "inside"


def _row(which: str, p: PointResult, on_original: bool) -> dict:
    out: dict[str, Any] = {
        "label": p.label, "n": p.n, "n_trained": len(p.trained), "epochs": p.config.epochs,
        "seconds_per_epoch": p.summary("seconds_per_epoch").mean,
        "collapsed": len(p.collapsed)}
    for m in METRICS:
        s = p.summary(m)
        out.update({f"{m}_mean": s.mean, f"{m}_sd": s.sd, f"{m}_ci95": s.mean_interval(),
                    f"{m}_pi95": s.prediction()})
    if on_original:
        target = ORIGINAL[f"{which}_acc"]
        out["original_acc"] = target
        out["final_acc_place"] = place(target, p.values("final_acc"))
    return out


@dataclass
class Headline:
    """The headline's numbers; displays as a table in a notebook and carries them
    (MIME) for the index."""

    dataset: str
    rows: dict[str, dict] = field(default_factory=dict)

    @property
    def on_original(self) -> bool:
        return self.dataset == DATASET

    def to_json(self) -> dict:
        return json_safe({"kind": "headline", "dataset": datasets.get(self.dataset).id,
                          "numbers": self.rows})

    def table(self) -> Table:
        cols = ["network", "n (trained)", "metric", "mean ± sd", "95% CI of the mean",
                "95% prediction interval, one run"]
        if self.on_original:
            cols += ["the original's one run", "where it falls"]
        out = []
        for which, h in self.rows.items():
            for m, words in METRICS.items():
                ci, pi = h.get(f"{m}_ci95"), h.get(f"{m}_pi95")
                row = [f"{which}: {h['label']}", f"{h['n']} ({h['n_trained']})", words,
                       Summary.of([]).text() if h[f"{m}_mean"] is None else
                       f"{h[f'{m}_mean']:.4f} ± {h[f'{m}_sd'] or 0:.4f}",
                       "—" if not ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]",
                       "—" if not pi else f"[{pi[0]:.4f}, {pi[1]:.4f}]"]
                if self.on_original:
                    final = m == "final_acc"
                    row += [f"{h['original_acc']:.3f}" if final else "",
                            f"{h['final_acc_place']} our interval" if final else ""]
                out.append(row)
        return Table(cols, out, "Each of the original's numbers is a single run: it is read "
                     "against the 95% prediction interval for one of our runs, not the "
                     "mean's interval.")

    def _repr_html_(self) -> str:
        on = datasets.get(self.dataset).title
        intro = ("The original report's two numbers, each one run, beside ours"
                 if self.on_original else f"The original report trained on MNIST alone: "
                 f"it has no numbers to compare with on {on}")
        return f"<p><b>{escape(intro)}.</b></p>" + self.table()._repr_html_()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/html": self._repr_html_(), MIME: self.to_json()}


def headline(results: Sequence[PointResult]) -> Headline:
    """results[0]: the default network; the best network among the others."""
    dataset = results[0].config.dataset if results else DATASET
    h = Headline(dataset)
    rows = {"default": results[0] if results and results[0].complete else None,
            "best": best_cnn(results[1:])}
    for which, p in rows.items():
        if p is not None and p.trained:
            h.rows[which] = _row(which, p, h.on_original)
    return h


__all__ = ["METRICS", "place", "Headline", "headline"]
