"""Rendering the report: each executed notebook to a standalone HTML page, a small
figure per study, the seed's digest, and ``index.html`` with ``report.json``.

Pages work offline: nbconvert's JupyterLab template without any script (no require.js,
MathJax or Mermaid from a CDN), CSS and images inline. The index, the bar on every page
and the digest page come from Jinja2 templates in ``templates/`` with autoescape on. The
index is built from the numbers the notebooks display (MIME ``application/vnd.npcnn+json``)
and from the run store, never from hand-written text.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from npcnn import environment, text
from npcnn.claims import CLAIMS, SEED
from npcnn.claims.verdict import VERDICT_RULE
from npcnn.data import EPOCH_WORDS
from npcnn.report.execute import log_path, notebook_path
from npcnn.report.studies import Study
from npcnn.safeio import atomic_write
from npcnn.stats import RULE as PAIRED_RULE
from npcnn.sweep.tables import MIME

TEMPLATES = Path(__file__).parent / "templates"
DIGEST = Path(__file__).parent / "SEED.md"
REPORT_JSON = "report.json"


@dataclass
class Record:
    """What the index shows of one study; kept in ``report.json`` so that a report of
    some studies (``--only``) updates them in the index and keeps the others."""

    name: str
    title: str
    claim: int = 0
    status: str = "not run"  # "ok", "failed", "not run"
    error: str = ""
    seconds: float = 0.0
    executed: bool = False  # False: the page was unchanged and not executed again
    runs: int = 0  # points x seeds
    seeds: int = 0
    data: list = field(default_factory=list)  # the notebook's MIME payloads

    def find(self, kind: str) -> dict:
        return next((d for d in self.data if d.get("kind") == kind), {})


def jinja() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


def css() -> Any:
    """The report's stylesheet, marked safe: it is ours, not data to escape."""
    from markupsafe import Markup

    return Markup((TEMPLATES / "report.css").read_text())


def write(path: Path, content: str | bytes) -> None:
    """Replace ``path`` atomically (a report killed mid-write keeps the previous file),
    readable by others under the usual umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, content.encode() if isinstance(content, str) else content)


def payloads(out: Path, study: Study) -> list[dict]:
    """The MIME payloads (summary tables, verdicts, speed) of the executed notebook."""
    import nbformat

    path = notebook_path(out, study)
    if not path.exists():
        return []
    nb = nbformat.read(path, as_version=4)
    return [o["data"][MIME] for c in nb.cells for o in c.get("outputs", [])
            if MIME in o.get("data", {})]


# -- pages ----------------------------------------------------------------------------


def page(study: Study, out: Path, record: Record, prev: Study | None,
         next_: Study | None) -> None:
    """``out/<name>.html`` from the executed (or partly executed) notebook, inputs hidden,
    with the bar to the index and the neighbouring pages; the log when papermill wrote
    no notebook at all."""
    import nbformat
    from markupsafe import Markup
    from nbconvert import HTMLExporter

    env = jinja()
    failed = record.status == "failed"
    bar = env.get_template("bar.html.j2").render(
        name=study.name, prev=prev, next=next_, failed=failed, error=record.error)
    path = notebook_path(out, study)
    if not path.exists():
        log = log_path(out, study)
        body = Markup("<h1>{}: failed</h1><pre>{}</pre>").format(
            study.title, log.read_text(errors="replace") if log.exists() else record.error)
        write(out / f"{study.name}.html", env.get_template("doc.html.j2").render(
            title=study.title, css=css(), body=Markup(bar) + body))
        return
    nb = nbformat.read(path, as_version=4)
    nb.metadata["title"] = study.title
    exporter = HTMLExporter(template_name="npcnn_page", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb, resources={"npcnn_bar": bar, "npcnn_css": css()})
    write(out / f"{study.name}.html", html)


def digest_page(out: Path) -> None:
    """``out/seed.html``: the seed report's digest that the index cites."""
    from markupsafe import Markup
    from nbconvert.filters import markdown2html_mistune

    body = Markup(markdown2html_mistune(DIGEST.read_text()))
    write(out / "seed.html", jinja().get_template("doc.html.j2").render(
        title="The seed report, digested", css=css(), body=body))


def figure(out: Path, study: Study, results: Sequence[Any]) -> None:
    """``out/figures/<name>.png``: the study's accuracy curves, small, for the index."""
    from npcnn import plots

    if results:
        write(out / "figures" / f"{study.name}.png", plots.thumbnail(results).png(dpi=100))


def _figure_b64(out: Path, name: str) -> str:
    path = out / "figures" / f"{name}.png"
    return base64.b64encode(path.read_bytes()).decode() if path.exists() else ""


# -- index ----------------------------------------------------------------------------


def load_records(out: Path) -> dict[str, Record]:
    """The records of a previous report in ``out`` (none if there is no readable one)."""
    try:
        data = json.loads((out / REPORT_JSON).read_text())
        fields = set(Record.__dataclass_fields__)
        return {s["name"]: Record(**{k: v for k, v in s.items() if k in fields})
                for s in data.get("studies", [])}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _headline_rows(records: dict[str, Record]) -> list[dict]:
    head = records["headline"].find("verdict").get("numbers", {}) if "headline" in records \
        else {}
    rows = []
    for which, what in (("default", "default network (k=3, C=4)"),
                        ("best", "best network")):
        h = head.get(which)
        seed_acc = SEED[f"{which}_acc"]
        seed_text = f"≈{seed_acc:.3f}" + (f" ({SEED['best_network']})" if which == "best"
                                           else "")
        if not h:
            rows.append({"what": f"test accuracy, {what}", "seed": seed_text,
                         "ours": "not measured", "page": "headline"})
            continue
        def pm(metric: str, h: dict = h) -> str:
            mean, sd = h.get(f"{metric}_mean"), h.get(f"{metric}_sd")
            if mean is None:
                return "—"
            return f"{mean:.4f}" + ("" if sd is None else f" ± {sd:.4f}")
        rows.append({
            "what": f"test accuracy, {what}: {h['label']}, {h['epochs']} epochs",
            "seed": seed_text, "page": "headline",
            "ours": f"final {pm('final_acc')}; best epoch {pm('best_acc')}; at the epoch of "
                    f"lowest validation loss {pm('acc_at_best_val')}",
            "note": f"the seed's {seed_acc:.3f} lies {h['final_acc_place']} of the final "
                    f"accuracy, {h['best_acc_place']} of the best epoch's (an optimistic "
                    "pick: it looks at the test set)"})
    spe = records["speed"].find("speed").get("seconds_per_epoch") if "speed" in records \
        else None
    rows.append({"what": f"seconds per epoch, default network ({EPOCH_WORDS})", "page": "speed",
                 "seed": f"≈{SEED['seconds_per_epoch']:.0f} s ({SEED['machine']})",
                 "ours": "not measured" if spe is None else f"{spe:.2f} s, one thread"})
    return rows


def _claim_cards(records: dict[str, Record]) -> list[dict]:
    owner: dict[int, Record] = {}
    for r in records.values():
        if r.claim:
            owner[r.claim] = r
    cards = []
    for n, claim_text in CLAIMS.items():
        r = owner.get(n)
        v = r.find("verdict") if r else {}
        verdict = v.get("verdict") or ("notebook failed" if r and r.status == "failed"
                                       else "not measured")
        css_class = verdict.split(" at ")[0].replace(" ", "-").replace("notebook-", "")
        cards.append({"number": n, "text": claim_text, "verdict": verdict, "css": css_class,
                      "page": r.name if r else "", "page_title": r.title if r else "",
                      "figure": ""})
    return cards


def index(records: dict[str, Record], order: Sequence[str], out: Path, info: dict) -> Path:
    """Write ``out/index.html`` and ``out/report.json`` from the studies' records."""
    recs = {name: records[name] for name in order if name in records}
    cards = _claim_cards(recs)
    for c in cards:
        c["figure"] = _figure_b64(out, c["page"]) if c["page"] else ""
    studies = [{"name": r.name, "title": r.title, "claim": r.claim, "status": r.status,
                "error": r.error, "runs": r.runs or "—",
                "seconds": ("unchanged" if not r.executed and r.status == "ok"
                            else text.clock(r.seconds))} for r in recs.values()]
    seeds = max((r.seeds for r in recs.values()), default=1) or 1
    mode = ("a quick preview (2 epochs, 6,000 training images per run)" if info["quick"]
            else "full settings")
    summary = (f"{text.clock(info['seconds'])} wall time; {info['trained']} runs trained, "
               f"{info['cached']} answered by the run store; {info['executed']} notebooks "
               f"executed, {info['unchanged']} unchanged")
    html = jinja().get_template("index.html.j2").render(
        css=css(), quick=info["quick"], mode=mode, seeds=seeds,
        headline_figure=_figure_b64(out, "headline"), headline_rows=_headline_rows(recs),
        verdict_rule=VERDICT_RULE, paired_rule=PAIRED_RULE, claims=cards, studies=studies,
        summary=summary, environment=environment.rows())
    path = out / "index.html"
    write(path, html)
    write(out / REPORT_JSON, json.dumps(
        {"info": info, "studies": [asdict(r) for r in recs.values()]}, indent=1, default=str))
    return path


__all__ = ["Record", "jinja", "css", "write", "payloads", "page", "digest_page", "figure",
           "load_records", "index"]
