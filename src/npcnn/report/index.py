"""A report's ``report.json`` and its ``index.html``.

``report.json`` holds everything the index shows: the dataset, how the report ran (the
machine among it), and per study its record with the numbers its notebook displayed
(MIME ``application/vnd.npcnn+json``: summary tables, verdicts, speed), never
hand-written text. The index is rendered from ``report.json`` alone, so another report
(another dataset's) can add its link to the comparison page without changing a number
of this one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from npcnn import datasets, text
from npcnn.claims import CLAIMS, SEED
from npcnn.claims.seed import DATASET as SEED_DATASET
from npcnn.claims.verdict import VERDICT_RULE
from npcnn.data import epoch_words
from npcnn.report.render import css, figure_b64, jinja, write
from npcnn.stats import RULE as TEST_RULE

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


def load(out: Path) -> tuple[dict, dict[str, Record]]:
    """``(report.json without its studies, {name: record})`` of the report in ``out``
    (empty if there is no readable one)."""
    try:
        data = json.loads((out / REPORT_JSON).read_text())
        fields = set(Record.__dataclass_fields__)
        records = {s["name"]: Record(**{k: v for k, v in s.items() if k in fields})
                   for s in data.get("studies", [])}
        return {k: v for k, v in data.items() if k != "studies"}, records
    except (OSError, ValueError, TypeError, KeyError):
        return {}, {}


def write_json(out: Path, dataset: str, info: dict, records: dict[str, Record]) -> None:
    recs = sorted(records.values(), key=lambda r: (r.order, r.name))
    write(out / REPORT_JSON, json.dumps({"dataset": datasets.get(dataset).id, "info": info,
                                         "studies": [asdict(r) for r in recs]},
                                        indent=1, default=str))


def _pm(h: dict, metric: str) -> str:
    mean, sd = h.get(f"{metric}_mean"), h.get(f"{metric}_sd")
    if mean is None:
        return "—"
    return f"{mean:.4f}" + ("" if sd is None else f" ± {sd:.4f}")


def headline_rows(records: dict[str, Record], dataset: str) -> list[dict]:
    """The headline numbers beside the seed's (the seed's only on its own dataset), and
    the seconds per epoch beside the seed's."""
    page = next((r for r in records.values() if r.find("verdict", claim="headline")), None)
    head = page.find("verdict", claim="headline").get("numbers", {}) if page else {}
    seed_here = dataset == SEED_DATASET
    rows = []
    for which, what in (("default", "default network (k=3, C=4)"), ("best", "best network")):
        h = head.get(which)
        seed_text = (f"≈{SEED[f'{which}_acc']:.3f}" + (f" ({SEED['best_network']})"
                                                        if which == "best" else "")
                     if seed_here else "")
        if not h:
            rows.append({"what": f"test accuracy, {what}", "seed": seed_text,
                         "ours": "not measured", "page": page.name if page else ""})
            continue
        row = {"what": f"test accuracy, {what}: {h['label']}, {h['epochs']} epochs",
               "seed": seed_text, "page": page.name,
               "ours": f"final {_pm(h, 'final_acc')}; best epoch {_pm(h, 'best_acc')}; at "
                       f"the epoch of lowest validation loss {_pm(h, 'acc_at_best_val')}"
                       + (f" ({h['collapsed']} collapsed seeds left out)"
                          if h.get("collapsed") else "")}
        if seed_here and "final_acc_place" in h:
            row["note"] = (f"the seed's {h['seed_acc']:.3f} lies {h['final_acc_place']} of "
                           f"the final accuracy, {h['best_acc_place']} of the best epoch's "
                           "(an optimistic pick: it looks at the test set)")
        rows.append(row)
    speed = next((r for r in records.values() if r.find("speed")), None)
    spe = speed.find("speed").get("seconds_per_epoch") if speed else None
    rows.append({"what": f"seconds per epoch, default network ({epoch_words(dataset)})",
                 "page": speed.name if speed else "",
                 "seed": f"≈{SEED['seconds_per_epoch']:.0f} s on MNIST ({SEED['machine']})",
                 "ours": "not measured" if spe is None else f"{spe:.2f} s, one thread"})
    return rows


def claim_cards(records: dict[str, Record], out: Path) -> list[dict]:
    owner = {r.claim: r for r in records.values() if r.claim}
    cards = []
    for n, claim_text in CLAIMS.items():
        r = owner.get(n)
        v = r.find("verdict") if r else {}
        verdict = v.get("verdict") or ("notebook failed" if r and r.status == "failed"
                                       else "not measured")
        css_class = verdict.split(" at ")[0].replace(" ", "-").replace("notebook-", "")
        cards.append({"number": n, "text": claim_text, "verdict": verdict, "css": css_class,
                      "where": v.get("where", ""), "page": r.name if r else "",
                      "page_title": r.title if r else "",
                      "figure": figure_b64(out, r.name) if r else ""})
    return cards


def write_index(out: Path, comparison: str = "") -> Path:
    """``out/index.html`` from ``out/report.json``; ``comparison``: the link to the page
    comparing the datasets' reports, relative to ``out`` ("" when there is none)."""
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
        if info.get("train_estimate_seconds") is not None:
            took += f" (estimated {text.clock_range(*info['train_estimate_seconds'])})"
    summary = (f"{text.clock(info.get('seconds', 0))} wall time; {trained} "
               f"runs trained{took}, {info.get('cached', 0)} answered by the run store; "
               f"{info.get('executed', 0)} notebooks executed, {info.get('unchanged', 0)} "
               "unchanged")
    head = next((r for r in recs if r.find("verdict", claim="headline")), None)
    html = jinja().get_template("index.html.j2").render(
        css=css(), quick=info.get("quick", False), mode=mode,
        seeds=seeds[0] if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}",
        dataset=ds.title, dataset_notes=ds.notes, seed_here=ds.name == SEED_DATASET,
        comparison=comparison, headline_figure=figure_b64(out, head.name) if head else "",
        headline_rows=headline_rows(records, ds.name), verdict_rule=VERDICT_RULE,
        test_rule=TEST_RULE, claims=claim_cards(records, out), studies=studies,
        summary=summary, environment=info.get("environment", []))
    path = out / "index.html"
    write(path, html)
    return path


__all__ = ["REPORT_JSON", "Record", "load", "write_json", "headline_rows", "claim_cards",
           "write_index"]
