"""What a report found, read from its ``report.json`` alone: the headline rows, each
claim's word, sentence and clauses, and the runs behind them. The index, the datasets'
comparison and ``FINDINGS.md`` render these with their templates, so the three say the
same thing in the same words, and a committed ``FINDINGS.md`` re-renders byte for byte
from the ``report.json`` files it came from (``render_markdown``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npcnn import datasets, text
from npcnn.claims import CLAIMS, TOPICS
from npcnn.claims.original import DATASET as ORIGINAL_DATASET
from npcnn.claims.original import ORIGINAL
from npcnn.claims.verdict import IN_PART, MARKS
from npcnn.data import epoch_words
from npcnn.report.render import jinja_text, write

FINDINGS_MD = "FINDINGS.md"
SNAPSHOT_JSON = "findings"  # the snapshot's report.json files: findings/<dataset id>.json
WORD_CSS = {"holds": "holds", "holds in part": "part", "does not hold": "fails",
            "not resolved": "open"}


def _payloads(report: Mapping) -> list[dict]:
    return [d for s in report.get("studies", []) for d in s.get("data", [])]


def _study_of(report: Mapping, kind: str, **match: Any) -> dict:
    return next((s for s in report.get("studies", []) for d in s.get("data", [])
                 if d.get("kind") == kind and all(d.get(k) == v for k, v in match.items())),
                {})


def verdicts(report: Mapping) -> dict[int, dict]:
    """``{claim: verdict payload}`` of a report."""
    return {d["claim"]: d for d in _payloads(report) if d.get("kind") == "verdict"}


def _pm(h: dict, m: str) -> str:
    mean, sd = h.get(f"{m}_mean"), h.get(f"{m}_sd")
    if mean is None:
        return "—"
    return f"{mean:.4f}" + ("" if sd is None else f" ± {sd:.4f}")


def _interval(v: list | None) -> str:
    return "—" if not v else f"[{v[0]:.4f}, {v[1]:.4f}]"


def headline(report: Mapping) -> list[dict]:
    """The default and the best network beside the original's one-run numbers (on the
    original's dataset), then the seconds per epoch beside the original's."""
    ds = datasets.by_id(report.get("dataset", "")) or datasets.MNIST
    here = ds.name == ORIGINAL_DATASET
    head = next((d for d in _payloads(report) if d.get("kind") == "headline"), {})
    page = _study_of(report, "headline").get("name", "")
    rows = []
    for which, what in (("default", "default"), ("best", "best")):
        h = head.get("numbers", {}).get(which)
        original = f"{ORIGINAL[f'{which}_acc']:.3f}" if here else ""
        if not h:
            rows.append({"what": what, "original": original, "ours": "not measured",
                         "page": page})
            continue
        rows.append({
            "what": f"{what}: {h['label'].removeprefix('best: ')}, {h['epochs']} epochs",
            "page": page,
            "original": original, "n": h["n_trained"],
            "ours": _pm(h, "final_acc"), "ci": _interval(h.get("final_acc_ci95")),
            "pi": _interval(h.get("final_acc_pi95")),
            "place": h.get("final_acc_place", ""),
            "at_val": _pm(h, "acc_at_best_val"),
            "collapsed": h.get("collapsed", 0)})
    speed = _study_of(report, "speed")
    spe = next((d.get("seconds_per_epoch") for d in speed.get("data", [])
                if d.get("kind") == "speed"), None)
    rows.append({"what": f"seconds per epoch, default network ({epoch_words(ds.name)})",
                 "page": speed.get("name", ""),
                 "original": f"≈{ORIGINAL['seconds_per_epoch']:.0f} s ({ORIGINAL['machine']})",
                 "ours": "not measured" if spe is None else f"{spe:.2f} s, one thread",
                 "seconds": True})
    return rows


def claims(report: Mapping) -> list[dict]:
    """Per claim of the eight: its word (and which clauses hold, when in part), sentence,
    Holm family size, clauses, page."""
    vs = verdicts(report)
    pages = {d.get("claim"): s for s in report.get("studies", []) for d in s.get("data", [])
             if d.get("kind") == "verdict"}
    owner = {s.get("claim"): s for s in report.get("studies", []) if s.get("claim")}
    out = []
    for n, words in CLAIMS.items():
        v = vs.get(n, {})
        s = pages.get(n) or owner.get(n) or {}
        w = v.get("word") or ("notebook failed" if s.get("status") == "failed"
                              else "not measured")
        full = w + (f": {', '.join(v.get('supported', []))}" if w == IN_PART else "")
        out.append({"number": n, "text": words, "topic": TOPICS[n], "word": w,
                    "word_full": full, "css": WORD_CSS.get(w, "open"),
                    "sentence": v.get("sentence", ""), "detail": v.get("detail", ""),
                    "tests": v.get("tests", 0),
                    "n": v.get("n", 0), "clauses": v.get("clauses", []),
                    "notes": v.get("notes", []), "verdict": v, "page": s.get("name", ""),
                    "page_title": s.get("title", "")})
    return out


def clause_rows(clauses: list[dict]) -> list[dict]:
    """A claim's clauses for a table: words, outcome mark, numbers."""
    rows = []
    for c in clauses:
        ci = c.get("interval")
        rows.append({"text": c["text"], "outcome": c["outcome"], "mark": MARKS[c["outcome"]],
                     "css": c["outcome"].replace(" ", "-"), "n": c.get("n"),
                     "estimate": c.get("estimate"), "interval": ci,
                     "numbers": c.get("numbers", ""), "p_holm": c.get("p_holm"),
                     "seeds_needed": c.get("seeds_needed")})
    return rows


def provenance(report: Mapping) -> dict:
    """The machine, date, commit and seeds of the runs behind a report."""
    info = report.get("info", {})
    env = dict(info.get("environment", []))
    seeds = sorted({s.get("seeds", 0) for s in report.get("studies", []) if s.get("seeds")})
    ds = datasets.by_id(report.get("dataset", "")) or datasets.MNIST
    took = text.clock(info["train_seconds"]) if info.get("train_seconds") else ""
    if info.get("train_core_seconds"):
        took += f" ({text.core_minutes(info['train_core_seconds'])})"
    return {"dataset": ds.title, "machine": env.get("CPU", "?"), "date": env.get("date", "?"),
            "npcnn": env.get("npcnn", "?"), "numpy": env.get("NumPy", "?"),
            "seeds": "–".join(map(str, [seeds[0], seeds[-1]] if len(seeds) > 1 else seeds))
            or "?", "quick": bool(info.get("quick")), "trained": info.get("trained", 0),
            "cached": info.get("cached", 0), "train_time": took, "runs": info.get("runs"),
            "runs_core": (text.core_minutes(info["runs_core_seconds"])
                          if info.get("runs_core_seconds") else ""),
            "jobs": info.get("jobs", 0)}


def view(reports: Mapping[str, Mapping]) -> dict:
    """Everything the findings show of the reports (``{dataset name: report.json}``, in
    the registry's order)."""
    names = [n for n in datasets.REGISTRY if n in reports]
    per = {n: claims(reports[n]) for n in names}
    rows = []
    for i, (number, words) in enumerate(CLAIMS.items()):
        rows.append({"number": number, "text": words, "topic": TOPICS[number],
                     "per": {n: per[n][i] for n in names}})
    return {"names": names, "titles": {n: datasets.get(n).title for n in names},
            "headline": {n: headline(reports[n]) for n in names}, "claims": rows,
            "provenance": {n: provenance(reports[n]) for n in names},
            "original_here": ORIGINAL_DATASET in names}


def render_markdown(reports: Mapping[str, Mapping]) -> str:
    """``FINDINGS.md`` of the reports, from their ``report.json`` alone."""
    return jinja_text().get_template("findings.md.j2").render(**view(reports))


def write_snapshot(reports: Mapping[str, Mapping], dest: Path) -> Path:
    """``dest/FINDINGS.md`` and the ``report.json`` of each report it came from, as
    ``dest/findings/<dataset id>.json``: a snapshot that ``read_snapshot`` re-renders."""
    for name, report in reports.items():
        write(dest / SNAPSHOT_JSON / f"{datasets.get(name).id}.json",
              json.dumps(report, indent=1, default=str) + "\n")
    write(dest / FINDINGS_MD, render_markdown(reports))
    return dest / FINDINGS_MD


def read_snapshot(dest: Path) -> dict[str, dict]:
    """``{dataset name: report.json}`` of a snapshot in ``dest``."""
    out = {}
    for path in sorted((dest / SNAPSHOT_JSON).glob("*.json")):
        ds = datasets.by_id(path.stem)
        if ds is not None:
            out[ds.name] = json.loads(path.read_text())
    return out


__all__ = ["FINDINGS_MD", "SNAPSHOT_JSON", "write_snapshot", "read_snapshot", "verdicts",
           "headline", "claims", "clause_rows", "provenance", "view", "render_markdown"]
