"""A report's ``report.json``, its ``index.html`` and its ``FINDINGS.md``.

``report.json`` holds everything the index shows: the dataset, how the report ran (the
machine among it), and per study its record with the numbers its notebook displayed
(MIME ``application/vnd.npcnn+json``: summary tables, verdicts, the headline, speed),
never hand-written text. The index is rendered from ``report.json`` alone
(``npcnn.report.findings``), so another report (another dataset's) can add its link to
the comparison page without changing a number of this one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from npcnn import datasets, plots, stats, text
from npcnn.claims.original import DATASET as ORIGINAL_DATASET
from npcnn.claims.verdict import WORD_RULE
from npcnn.report import findings
from npcnn.report.render import DIGEST_PAGE, css, figure_b64, jinja, write

REPORT_JSON = "report.json"


@dataclass
class Record:
    """What the index shows of one study; kept in ``report.json`` so that a report of
    some studies (``--only``) updates them in the index and keeps the others."""

    name: str
    title: str
    claim: int = 0
    order: float = 0.0
    status: str = "not run"  # "ok", "failed", "not run"
    error: str = ""
    seconds: float = 0.0
    executed: bool = False  # False: the page was unchanged and not executed again
    runs: int = 0  # points x seeds
    seeds: int = 0
    data: list = field(default_factory=list)  # the notebook's MIME payloads

    def find(self, kind: str, **match) -> dict:
        return next((d for d in self.data if d.get("kind") == kind
                     and all(d.get(k) == v for k, v in match.items())), {})


def read(out: Path) -> dict:
    """The report.json in ``out`` as it is ({} if there is no readable one)."""
    try:
        data = json.loads((out / REPORT_JSON).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def load(out: Path) -> tuple[dict, dict[str, Record]]:
    """``(report.json without its studies, {name: record})`` of the report in ``out``
    (empty if there is no readable one)."""
    data = read(out)
    try:
        fields = set(Record.__dataclass_fields__)
        records = {s["name"]: Record(**{k: v for k, v in s.items() if k in fields})
                   for s in data.get("studies", [])}
        return {k: v for k, v in data.items() if k != "studies"}, records
    except (TypeError, KeyError):
        return {}, {}


def write_json(out: Path, dataset: str, info: dict, records: dict[str, Record]) -> None:
    recs = sorted(records.values(), key=lambda r: (r.order, r.name))
    write(out / REPORT_JSON, json.dumps({"dataset": datasets.get(dataset).id, "info": info,
                                         "studies": [asdict(r) for r in recs]},
                                        indent=1, default=str))


def small_forest(verdict: dict) -> str:
    """A claim's clauses as a small forest plot, base64 ("" without clauses)."""
    rows = plots.rows_of(verdict, steps=False)
    return plots.forest(rows, small=True).b64(dpi=100) if rows else ""


def write_index(out: Path, comparison: str = "") -> Path:
    """``out/index.html`` from ``out/report.json``; ``comparison``: the link to the page
    comparing the datasets' reports, relative to ``out`` ("" when there is none)."""
    report = read(out)
    meta, records = load(out)
    info = meta.get("info", {})
    ds = datasets.by_id(meta.get("dataset", "")) or datasets.MNIST
    recs = sorted(records.values(), key=lambda r: (r.order, r.name))
    studies = [{"name": r.name, "title": r.title, "claim": r.claim, "status": r.status,
                "error": r.error, "runs": r.runs or "—",
                "seconds": ("unchanged" if not r.executed and r.status == "ok"
                            else text.clock(r.seconds))} for r in recs]
    seeds = sorted({r.seeds for r in recs if r.seeds}) or [1]
    mode = ("a quick preview (2 epochs, 6,000 training images per run)" if info.get("quick")
            else "full settings")
    trained = info.get("trained", 0)
    took = ""
    if trained and info.get("train_seconds"):
        took = f" in {text.clock(info['train_seconds'])}"
        if info.get("train_core_seconds"):
            took += f" ({text.core_minutes(info['train_core_seconds'])})"
        if info.get("train_estimate_seconds") is not None:
            took += f" (estimated {text.clock_range(*info['train_estimate_seconds'])})"
    summary = (f"{text.clock(info.get('seconds', 0))} wall time; {trained} "
               f"runs trained{took}, {info.get('cached', 0)} answered by the run store"
               + (f" (the {info['runs']} runs behind the report took "
                  f"{text.core_minutes(info['runs_core_seconds'])} to train)"
                  if info.get("runs_core_seconds") else "")
               + f"; {info.get('executed', 0)} notebooks executed, {info.get('unchanged', 0)} "
               "unchanged")
    head = next((r for r in recs if r.find("headline")), None)
    cards = findings.claims(report)
    for c in cards:
        c["forest"] = small_forest(c["verdict"])
    html = jinja().get_template("index.html.j2").render(
        css=css(), quick=info.get("quick", False), mode=mode,
        seeds=seeds[0] if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}",
        dataset=ds.title, dataset_notes=ds.notes, original_here=ds.name == ORIGINAL_DATASET,
        digest=DIGEST_PAGE, comparison=comparison,
        headline_figure=figure_b64(out, head.name) if head else "",
        headline_rows=findings.headline(report), word_rule=WORD_RULE, test_rule=stats.RULE,
        claims=cards, studies=studies, summary=summary,
        environment=info.get("environment", []))
    path = out / "index.html"
    write(path, html)
    return path


__all__ = ["REPORT_JSON", "Record", "read", "load", "write_json", "small_forest",
           "write_index"]
