"""Forest plots of a claim's findings: one row per clause (its primary interval, bold) and
per step under it (thin, lighter), on an axis in units of each row's margin δ, the band
of no practical difference (±δ) shaded, the null value at 0, each row coloured by its
outcome. Drawn from a verdict's JSON (``npcnn.claims.verdict.Verdict.to_json``), so the
report draws the same picture from ``report.json`` as the notebook does.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from matplotlib.lines import Line2D

from npcnn.plots.base import Plot, figure

COLORS = {"supported": "#1a9850", "contradicted": "#d73027", "negligible": "#4575b4",
          "not resolved": "#8c8c8c"}
LIMIT = 6.0  # the axis stops at ±LIMIT units; a row beyond it ends in an arrow


def _num(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def rows_of(verdict: dict, steps: bool = True) -> list[dict]:
    """The rows of a verdict's forest plot: each clause, then (``steps``) its paired and
    spread steps; every value as (value - h0) / scale, scale = δ (or the clause's unit
    where it has no margin)."""
    rows = []
    for c in verdict.get("clauses", []):
        scale = _num(c.get("unit")) or 1.0
        h0 = _num(c.get("h0")) or 0.0
        rows.append(_row(c.get("name") or c.get("text", ""), c.get("estimate"),
                         c.get("interval"), h0, scale, bool(c.get("delta")),
                         c.get("outcome", "not resolved"), True))
        if not steps:
            continue
        for s in c.get("steps", []):
            if s.get("kind") == "paired":
                step_h0 = _num(s.get("h0")) or 0.0
                label = s.get("step", "") + ("" if step_h0 == h0 else " (null: 0)")
                rows.append(_row(label, s.get("mean"), s.get("ci95"), step_h0, scale,
                                 bool(s.get("delta")), s.get("status", ""), False))
            elif s.get("kind") == "spread" and _num(s.get("ratio")):
                ci = s.get("ci95")
                band = math.log(s.get("band") or 4.0)
                rows.append(_row(f"{s.get('step', '')} (spread)",
                                 math.log(s["ratio"]) if s["ratio"] > 0 else None,
                                 [math.log(v) for v in ci] if ci else None, 0.0, band, True,
                                 s.get("status", ""), False))
    return rows


def _row(label: str, est: object, interval: object, h0: float, scale: float, band: bool,
         outcome: str, primary: bool) -> dict:
    e = _num(est)
    lo, hi = (interval if interval else (None, None))
    lo, hi = _num(lo), _num(hi)
    return {"label": label, "x": None if e is None else (e - h0) / scale,
            "lo": None if lo is None else (lo - h0) / scale,
            "hi": None if hi is None else (hi - h0) / scale, "band": band,
            "outcome": outcome, "primary": primary}


def _draw(ax, rows: Sequence[dict], labels: bool = True, width: int = 38) -> None:
    n = len(rows)
    ax.axvline(0, color="black", lw=0.8, zorder=1)
    for i, r in enumerate(rows):
        y = n - 1 - i
        if r["band"]:
            ax.fill_between([-1, 1], y - 0.45, y + 0.45, color="#dddddd", lw=0, zorder=0)
        color = COLORS.get(r["outcome"], "#bbbbbb")
        alpha, lw, size = (1.0, 3.2, 7) if r["primary"] else (0.55, 1.2, 3.5)
        lo, hi, x = r["lo"], r["hi"], r["x"]
        if lo is not None and hi is not None:
            a, b = max(lo, -LIMIT), min(hi, LIMIT)
            if a < b:
                ax.plot([a, b], [y, y], color=color, lw=lw, alpha=alpha, solid_capstyle="butt",
                        zorder=2)
            for end, edge in ((lo, -LIMIT), (hi, LIMIT)):
                if (end < edge) if edge < 0 else (end > edge):
                    ax.annotate("", (edge, y), (edge - 0.4 * math.copysign(1, edge), y),
                                arrowprops={"arrowstyle": "->", "color": color,
                                            "alpha": alpha})
        if x is not None:
            ax.plot([min(max(x, -LIMIT), LIMIT)], [y], "o" if r["primary"] else "|",
                    color=color, ms=size, alpha=alpha, zorder=3)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_yticks(range(n))
    if labels:
        ax.set_yticklabels([("" if r["primary"] else "   ") + textwrap.shorten(
            r["label"], width, placeholder="…") for r in reversed(rows)], fontsize=8)
        for tick, r in zip(ax.get_yticklabels(), reversed(rows), strict=True):
            tick.set_fontweight("bold" if r["primary"] else "normal")
            tick.set_color("black" if r["primary"] else "#777777")
    else:  # a shared axis: hide this panel's labels, keep the first panel's
        ax.tick_params(labelleft=False)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("(estimate − null) / δ   (grey band: ±δ)", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legend(fig, outcomes: set[str]) -> None:
    handles = [Line2D([], [], color=COLORS[o], lw=3, label=o) for o in COLORS if o in outcomes]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles),
                   fontsize=8, frameon=False)


def forest(rows: Sequence[dict], title: str = "", small: bool = False) -> Plot:
    """One claim's forest plot from ``rows_of``; ``small`` for the index."""
    w, per = (3.6, 0.26) if small else (7.5, 0.3)
    fig, ax = figure(w, 0.9 + per * max(1, len(rows)))
    _draw(ax[0, 0], rows, width=30 if small else 44)
    if title and not small:
        ax[0, 0].set_title(title, fontsize=9)
    _legend(fig, {r["outcome"] for r in rows if r["primary"]})
    return Plot(fig)


def forest_side_by_side(verdicts: dict[str, dict | None], title: str = "") -> Plot:
    """One claim on several datasets: a panel per dataset (``{title: verdict JSON}``), the
    clauses in the same rows, matched by their key."""
    keys: dict[str, str] = {}  # clause key -> its name, in first-seen order
    for v in verdicts.values():
        for c in (v or {}).get("clauses", []):
            keys.setdefault(c["key"], c.get("name") or c["text"])
    cols = max(1, len(verdicts))
    fig, axes = figure(3.4 * cols + 1.8, 1.0 + 0.32 * max(1, len(keys)), 1, cols,
                       sharey=True)
    outcomes = set()
    for j, (name, v) in enumerate(verdicts.items()):
        by_key = {c["key"]: c for c in (v or {}).get("clauses", [])}
        rows = []
        for key, words in keys.items():
            c = by_key.get(key)
            got = rows_of({"clauses": [c]}, steps=False) if c else []
            rows.append(got[0] if got else _row(words, None, None, 0.0, 1.0, False,
                                                "not resolved", True))
        outcomes |= {r["outcome"] for r in rows}
        _draw(axes[0, j], rows, labels=j == 0, width=34)
        axes[0, j].set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    _legend(fig, outcomes)
    return Plot(fig)


__all__ = ["COLORS", "LIMIT", "rows_of", "forest", "forest_side_by_side"]
