"""The comparison the original report never made: every claim and each of its clauses on
every dataset whose report exists, side by side (``datasets.html``, beside MNIST's
report), and ``FINDINGS.md`` beside every index.

A dataset's report lives in ``<root>/<dataset>/`` (MNIST's in ``<root>`` itself), a
preview in its ``quick/``; the comparison of full reports is ``<root>/datasets.html``,
of previews ``<root>/quick/datasets.html``, written whenever MNIST's report and another's
exist, and linked from every index. It reads the reports' ``report.json`` files only: a
report is never changed by being compared (its index alone gains the link).

Per claim, its word on each dataset and one phrase over them ("holds in part on both";
"MNIST: holds; Fashion-MNIST: not resolved"); per clause, its outcome on each dataset;
a forest plot of the clauses with the datasets side by side.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from npcnn import datasets, plots
from npcnn.report import findings
from npcnn.report.index import read, write_index
from npcnn.report.render import css, jinja, write

PAGE = "datasets.html"


def report_dir(root: Path, dataset: str, quick: bool) -> Path:
    """Where the report of ``dataset`` goes under ``root``: MNIST's at the top, another's
    in its own subdirectory; a preview in ``quick/`` below either."""
    d = root if dataset == datasets.DEFAULT else root / dataset
    return d / "quick" if quick else d


def page_path(root: Path, quick: bool) -> Path:
    return report_dir(root, datasets.DEFAULT, quick) / PAGE


def reports(root: Path, quick: bool) -> dict[str, tuple[Path, dict]]:
    """``{dataset name: (report dir, report.json)}`` of the reports that exist under
    ``root``, MNIST first."""
    out = {}
    for ds in datasets.REGISTRY.values():
        d = report_dir(root, ds.name, quick)
        data = read(d)
        if data.get("studies") and data.get("dataset") == ds.id:
            out[ds.name] = (d, data)
    return out


def over(words: dict[str, str]) -> str:
    """A claim's words on the datasets compared, in one phrase."""
    distinct = set(words.values())
    if len(distinct) == 1:
        w = distinct.pop()
        return f"{w} on both" if len(words) == 2 else f"{w} on all"
    return "; ".join(f"{datasets.get(n).title}: {w}" for n, w in words.items())


def comparison(found: dict) -> dict:
    """The comparison's numbers: per claim its word on each dataset and over them, its
    clauses side by side (matched by key), the headline rows of each dataset."""
    reports_ = {n: data for n, (_, data) in found.items()}
    v = findings.view(reports_)
    names = v["names"]
    claims = []
    for row in v["claims"]:
        keys: dict[str, str] = {}  # clause key -> the original's words, first seen
        for n in names:
            for c in row["per"][n]["clauses"]:
                keys.setdefault(c["key"], c["text"])
        clauses = []
        for key, words in keys.items():
            per = {}
            for n in names:
                c = next((x for x in row["per"][n]["clauses"] if x["key"] == key), None)
                per[n] = findings.clause_rows([c])[0] if c else None
            clauses.append({"key": key, "text": words, "per": per})
        claims.append({"number": row["number"], "text": row["text"], "topic": row["topic"],
                       "words": {n: row["per"][n]["word_full"] for n in names},
                       "sentences": {n: row["per"][n]["sentence"] for n in names},
                       "over": over({n: row["per"][n]["word"] for n in names}),
                       "clauses": clauses,
                       "verdicts": {n: row["per"][n]["verdict"] for n in names}})
    return {"datasets": [datasets.get(n).id for n in names], "claims": claims,
            "headline": {datasets.get(n).id: v["headline"][n] for n in names}}


def write_findings(found: dict) -> None:
    """``FINDINGS.md`` beside every index, of every dataset's report found."""
    text = findings.render_markdown({n: data for n, (_, data) in found.items()})
    for d, _ in found.values():
        write(d / findings.FINDINGS_MD, text)


def write_page(root: Path, quick: bool) -> Path | None:
    """Write the comparison of the reports under ``root`` (if MNIST's and another exist),
    re-render every index with its link and every ``FINDINGS.md``. Returns the page, or
    None."""
    found = reports(root, quick)
    path = page_path(root, quick)
    links = {}
    if datasets.DEFAULT in found and len(found) >= 2:
        data = comparison(found)
        titles = {n: datasets.get(n).title for n in found}
        hrefs = {n: os.path.relpath(d / "index.html", path.parent)
                 for n, (d, _) in found.items()}
        for c in data["claims"]:
            c["forest"] = plots.forest_side_by_side(
                {titles[n]: c["verdicts"][n] for n in found}).b64(dpi=100)
        html = jinja().get_template("datasets.html.j2").render(
            css=css(), quick=quick, names=list(found), titles=titles, hrefs=hrefs,
            names_text=" and ".join(titles.values()),
            claims=data["claims"], headline=data["headline"],
            ids={n: datasets.get(n).id for n in found})
        write(path, html)
        for c in data["claims"]:
            del c["forest"], c["verdicts"]
        write(path.with_suffix(".json"), json.dumps(data, indent=1, default=str))
        links = {n: os.path.relpath(path, d) for n, (d, _) in found.items()}
    for n, (d, _) in found.items():
        write_index(d, links.get(n, ""))
    if found:
        write_findings(found)
    return path if links else None


__all__ = ["PAGE", "report_dir", "page_path", "reports", "over", "comparison",
           "write_findings", "write_page"]
