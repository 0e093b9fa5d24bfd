"""The comparison the seed never made: every claim and each of its checks on every dataset
whose report exists, side by side (``datasets.html``, beside MNIST's report).

A dataset's report lives in ``<root>/<dataset>/`` (MNIST's in ``<root>`` itself), a
preview in its ``quick/``; the comparison of full reports is ``<root>/datasets.html``,
of previews ``<root>/quick/datasets.html``, written whenever MNIST's report and another's
exist, and linked from every index. It reads the reports' ``report.json`` files only: a
report is never changed by being compared (its index alone gains the link).

Per claim, one word: on two datasets "holds on both", "<dataset> only" or "neither"
(a claim holds on a dataset when its verdict there is "holds").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from npcnn import datasets
from npcnn.claims import CLAIMS
from npcnn.report.index import Record, load, write_index
from npcnn.report.render import css, jinja, write

PAGE = "datasets.html"


def report_dir(root: Path, dataset: str, quick: bool) -> Path:
    """Where the report of ``dataset`` goes under ``root``: MNIST's at the top, another's
    in its own subdirectory; a preview in ``quick/`` below either."""
    d = root if dataset == datasets.DEFAULT else root / dataset
    return d / "quick" if quick else d


def page_path(root: Path, quick: bool) -> Path:
    return report_dir(root, datasets.DEFAULT, quick) / PAGE


def reports(root: Path, quick: bool) -> dict[str, tuple[Path, dict, dict[str, Record]]]:
    """``{dataset name: (report dir, report.json meta, records)}`` of the reports that
    exist under ``root``, MNIST first."""
    out = {}
    for ds in datasets.REGISTRY.values():
        d = report_dir(root, ds.name, quick)
        meta, records = load(d)
        if records and meta.get("dataset") == ds.id:
            out[ds.name] = (d, meta, records)
    return out


def one_word(holds: dict[str, bool]) -> str:
    """Where a claim holds, over the datasets compared (MNIST first)."""
    yes = [datasets.get(n).title for n, h in holds.items() if h]
    if len(yes) == len(holds):
        return "holds on both" if len(holds) == 2 else "holds on all"
    if not yes:
        return "neither" if len(holds) == 2 else "none"
    return " and ".join(yes) + " only"


def _verdicts(records: dict[str, Record]) -> dict:
    """``{claim: verdict payload}`` (the headline under "headline")."""
    out = {}
    for r in records.values():
        for d in r.data:
            if d.get("kind") == "verdict":
                out[d.get("claim")] = d
    return out


def _outcome(check: dict | None) -> dict:
    if check is None:
        return {"status": "not measured", "numbers": "", "css": ""}
    numbers = check.get("measured", "")
    lo, hi = check.get("ci95") or [None, None]
    if check.get("kind") == "paired" and lo is not None and hi is not None:
        numbers = (f"mean {check['mean']:+.4f}, 95% CI [{lo:+.4f}, {hi:+.4f}], n={check['n']}"
                   + (f", seeds {check['excluded']} left out" if check.get("excluded") else ""))
    css_class = {True: "holds", False: "fails"}.get(check.get("holds"), "")
    return {"status": check["status"], "numbers": numbers, "css": css_class}


def comparison(found: dict) -> dict:
    """The comparison's numbers: per claim the verdict on each dataset, its checks side by
    side (matched by statement and step), one word; the headline accuracies."""
    names = list(found)
    verdicts = {n: _verdicts(found[n][2]) for n in names}
    claims = []
    for number, text in CLAIMS.items():
        per = {n: verdicts[n].get(number) for n in names}
        # A check is matched by its statement and its place among that statement's checks
        # (the i-th step of a sweep; claim 7's best MLP, which may differ by dataset).
        keys: list[tuple] = []
        checks: dict[str, dict[tuple, dict]] = {}
        for n in names:
            checks[n] = {}
            for c in (per[n] or {}).get("checks", []):
                aspect = c.get("aspect")
                key = (aspect, sum(k[0] == aspect for k in checks[n]))
                checks[n][key] = c
                if key not in keys:
                    keys.append(key)
        rows = []
        for key in keys:
            here = [n for n in names if key in checks[n]]
            first = checks[here[0]][key]
            steps = {n: checks[n][key].get("step", "") for n in here}
            step = first.get("step", "") if len(set(steps.values())) == 1 else "; ".join(
                f"{datasets.get(n).title}: {s}" for n, s in steps.items())
            rows.append({"rule": first.get("rule", ""), "aspect": key[0], "step": step,
                         "kind": first.get("kind", ""),
                         "per": {n: _outcome(checks[n].get(key)) for n in names}})
        holds = {n: bool(per[n]) and per[n].get("verdict") == "holds" for n in names}
        claims.append({"number": number, "text": text, "word": one_word(holds),
                       "verdicts": {n: (per[n] or {}).get("verdict", "not measured")
                                    for n in names},
                       "where": {n: (per[n] or {}).get("where", "") for n in names},
                       "rows": rows})
    head = {}
    for n in names:
        numbers = (verdicts[n].get("headline") or {}).get("numbers", {})
        head[n] = {which: {k: numbers[which].get(k) for k in
                           ("label", "n", "n_trained", "epochs", "final_acc_mean",
                            "final_acc_sd", "best_acc_mean", "best_acc_sd")}
                   for which in ("default", "best") if which in numbers}
    return {"datasets": [datasets.get(n).id for n in names], "claims": claims,
            "headline": {datasets.get(n).id: h for n, h in head.items()}}


def write_page(root: Path, quick: bool) -> Path | None:
    """Write the comparison of the reports under ``root`` (if MNIST's and another exist)
    and re-render every index with its link. Returns the page, or None."""
    found = reports(root, quick)
    path = page_path(root, quick)
    links = {}
    if datasets.DEFAULT in found and len(found) >= 2:
        data = comparison(found)
        titles = {n: datasets.get(n).title for n in found}
        hrefs = {n: os.path.relpath(d / "index.html", path.parent)
                 for n, (d, _, _) in found.items()}
        html = jinja().get_template("datasets.html.j2").render(
            css=css(), quick=quick, names=list(found), titles=titles, hrefs=hrefs,
            names_text=" and ".join(titles.values()),
            claims=data["claims"], headline=data["headline"],
            ids={n: datasets.get(n).id for n in found})
        write(path, html)
        write(path.with_suffix(".json"), json.dumps(data, indent=1, default=str))
        links = {n: os.path.relpath(path, d) for n, (d, _, _) in found.items()}
    for n, (d, _, _) in found.items():
        write_index(d, links.get(n, ""))
    return path if links else None


__all__ = ["PAGE", "report_dir", "page_path", "reports", "one_word", "comparison",
           "write_page"]
