"""The seed report's numbers and eight claims, and the rules that test them.

Each claim gets a verdict computed from measured runs, never written by hand: a claim
is split into checks, each a stated rule applied to numbers from the run store, and

    holds          every check passes
    mixed          some checks pass
    does not hold  no check passes

A check that cannot be computed (a run missing or failed) counts as not passing.
"Late accuracy" is the mean test accuracy over the last third of a run's epochs; its
"late std" is the standard deviation over the same epochs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from npcnn.config import TrainConfig
from npcnn.sweep import COLLAPSE_ACC, TARGET_ACC, RunResult, Table

# The seed's numbers (see shared/seed/SEED.md).
SEED = {
    "default_acc": 0.985,  # test accuracy of the default network, 100 epochs
    "best_acc": 0.990,  # k=3, C=16, lr 0.01 + plateau rule, momentum 0.9
    "seconds_per_epoch": 54.0,  # 1.5 h / 100 epochs of the default network
    "machine": "4-core Intel Core i7-4710HQ laptop, 2.5 GHz",
    "epoch1_acc": 0.93,  # after one epoch with a good lr / large momentum
    "stall_acc": 0.96,  # badly matched lr and momentum
    "cnn_params": 2158,
    "mlp_params": 84060,
}

CLAIMS = {
    1: "Larger kernel size gives higher and more stable accuracy.",
    2: "More output channels give higher accuracy, more stability and faster convergence, "
       "but training time grows several-fold.",
    3: "A large initial learning rate makes the accuracy fluctuate strongly (it jumps past "
       "the optimum); a small one needs care.",
    4: "Large momentum converges faster early but is worse late: momentum early and none "
       "late is suggested.",
    5: "With init_std 0.01 the CNN does not start training; with init_std about 1 it "
       "converges fast (the opposite of the MLP, which preferred a small init).",
    6: "With softmax cross-entropy the loss curve is noisier than with the Euclidean loss, "
       "yet its accuracy climbs steadily and ends higher.",
    7: "CNN vs MLP: similar best accuracy (the CNN slightly higher) with 2.5% of the "
       "parameters; the CNN converges in fewer epochs (about 0.98 within 10) but each "
       "epoch is far slower.",
    8: "The first conv layer's ReLU output after 100 epochs shows digit shapes and local "
       "edges.",
}
RULE = ("Verdict rule: <b>holds</b> if every check passes, <b>mixed</b> if some do, "
        "<b>does not hold</b> if none does; a check that cannot be computed does not pass. "
        "Late accuracy = mean test accuracy over the last third of the epochs; late std = "
        "its standard deviation over those epochs.")


@dataclass
class Check:
    """One stated rule, the numbers it was applied to, and whether it passed."""

    rule: str
    measured: str
    ok: bool | None  # None: could not be computed


@dataclass
class Verdict:
    """A claim's checks and the verdict they give; displays as HTML in a notebook."""

    claim: int | str  # 1..8, or "headline"
    text: str
    checks: list[Check]
    note: str = ""
    numbers: dict | None = None  # extra JSON-ready numbers for the report's index

    @property
    def verdict(self) -> str:
        passed = sum(c.ok is True for c in self.checks)
        if self.checks and passed == len(self.checks):
            return "holds"
        return "mixed" if passed else "does not hold"

    def _repr_html_(self) -> str:
        mark = {True: "✔ passes", False: "✘ fails", None: "— not computed"}
        rows = [[c.rule, c.measured, mark[c.ok]] for c in self.checks]
        table = Table(["check (rule)", "measured", "result"], rows)._repr_html_()
        title = (f"Seed's claim {self.claim}" if self.claim != "headline"
                 else "The seed's headline numbers")
        note = f"<p>{escape(self.note)}</p>" if self.note else ""
        return (f'<div class="verdict"><p><b>{title}:</b> “{escape(self.text)}”</p>{table}'
                f"{note}<p><b>Verdict: {self.verdict}.</b></p><p><small>{RULE}</small></p>"
                "</div>")

    def __repr__(self) -> str:
        lines = [f"claim {self.claim}: {self.text}"]
        lines += [f"  [{'ok' if c.ok else 'no'}] {c.rule}: {c.measured}" for c in self.checks]
        return "\n".join([*lines, f"verdict: {self.verdict}"])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        data = {"kind": "verdict", "claim": self.claim, "text": self.text,
                "verdict": self.verdict, "numbers": self.numbers or {},
                "checks": [{"rule": c.rule, "measured": c.measured, "ok": c.ok}
                           for c in self.checks]}
        return {"text/html": self._repr_html_(), "text/plain": repr(self),
                "application/vnd.npcnn+json": data}


# -- helpers --------------------------------------------------------------------------


def _ok(results: Sequence[RunResult]) -> list[RunResult]:
    return [r for r in results if r.epochs]


def _swept(results: Sequence[RunResult], field: str) -> list[tuple[Any, RunResult]]:
    """(value, result) of the runs that differ from the others only in ``field``,
    sorted by value: the sweep's points, without the extra points of a study."""
    if not results:
        return []
    others = [{k: v for k, v in r.config.to_dict().items() if k != field} for r in results]
    base = max(others, key=others.count)  # the configuration most runs share
    pts = [(getattr(r.config, field), r) for r, o in zip(results, others, strict=True)
           if o == base and r.epochs]
    return sorted(pts, key=lambda p: p[0])


def _strictly_increasing(xs: Sequence[float]) -> bool:
    return len(xs) >= 2 and all(b > a for a, b in zip(xs, xs[1:], strict=False))


def _fmt_series(pts: Sequence[tuple[Any, float]], name: str, digits: int = 4) -> str:
    return ", ".join(f"{name}={v:g}: {x:.{digits}f}" if isinstance(v, float)
                     else f"{name}={v}: {x:.{digits}f}" for v, x in pts)


def _epochs(e: int | None) -> float:
    return math.inf if e is None else float(e)


def _reach_text(e: int | None) -> str:
    return "never" if e is None else f"epoch {e}"


def mean_drop(r: RunResult) -> float:
    """Mean fall of test accuracy from one epoch to the next (rises count as 0)."""
    acc = r.series("test_acc")
    if acc.size < 2:
        return float("nan")
    return float(np.mean(np.maximum(0.0, acc[:-1] - acc[1:])))


def loss_noise(r: RunResult) -> float:
    """Relative noise of the per-iteration training loss over the last third of the
    iterations: std / mean (scale-free, so two different losses compare)."""
    loss = np.asarray(r.history.get("iter_loss", []), dtype=float)
    loss = loss[-max(1, len(loss) // 3):]
    if loss.size < 2 or not np.all(np.isfinite(loss)) or loss.mean() <= 0:
        return float("nan")
    return float(loss.std() / loss.mean())


def _none(rule: str) -> Check:
    return Check(rule, "runs missing", None)


# -- the claims -----------------------------------------------------------------------


def claim1(results: Sequence[RunResult]) -> list[Check]:
    pts = _swept(results, "kernel_size")
    r1 = "late accuracy increases with kernel size (every step)"
    r2 = "late std at the largest kernel <= late std at the smallest"
    if len(pts) < 2:
        return [_none(r1), _none(r2)]
    means = [(k, r.late_mean) for k, r in pts]
    stds = [(k, r.late_std) for k, r in pts]
    return [
        Check(r1, _fmt_series(means, "k"), _strictly_increasing([m for _, m in means])),
        Check(r2, _fmt_series(stds, "k"), stds[-1][1] <= stds[0][1]),
    ]


def claim2(results: Sequence[RunResult]) -> list[Check]:
    pts = _swept(results, "channels")
    rules = ["late accuracy increases with channels (every step)",
             "late std at the most channels <= late std at the fewest",
             f"the most channels reach {TARGET_ACC} in fewer epochs than the fewest "
             "(never counts as later than any epoch)",
             "seconds per epoch at the most channels >= 3x at the fewest"]
    if len(pts) < 2:
        return [_none(r) for r in rules]
    (c0, lo), (c1, hi) = pts[0], pts[-1]
    means = [(c, r.late_mean) for c, r in pts]
    stds = [(c, r.late_std) for c, r in pts]
    e0, e1 = lo.epoch_reaching(), hi.epoch_reaching()
    ratio = hi.seconds_per_epoch / lo.seconds_per_epoch
    return [
        Check(rules[0], _fmt_series(means, "C"), _strictly_increasing([m for _, m in means])),
        Check(rules[1], _fmt_series(stds, "C"), stds[-1][1] <= stds[0][1]),
        Check(rules[2], f"C={c0}: {_reach_text(e0)}; C={c1}: {_reach_text(e1)}",
              _epochs(e1) < _epochs(e0)),
        Check(rules[3], f"C={c0}: {lo.seconds_per_epoch:.2f} s, C={c1}: "
              f"{hi.seconds_per_epoch:.2f} s ({ratio:.1f}x)", ratio >= 3),
    ]


def claim3(results: Sequence[RunResult], default_lr: float = TrainConfig().lr) -> list[Check]:
    pts = _swept(results, "lr")
    r1 = (f"the largest lr's mean epoch-to-epoch drop of test accuracy is > 2x the "
          f"default lr {default_lr:g}'s (a diverged run counts as fluctuating)")
    r2 = f"the smallest lr's late accuracy is below the default lr {default_lr:g}'s"
    base = [r for v, r in pts if math.isclose(v, default_lr)]
    if len(pts) < 2 or not base:
        return [_none(r1), _none(r2)]
    base = base[0]
    (lr_lo, lo), hi = pts[0], pts[-1][1]
    drops = [(v, mean_drop(r)) for v, r in pts]
    big = hi.status == "diverged" or mean_drop(hi) > 2 * mean_drop(base)
    diverged = [f"{v:g}" for v, r in pts if r.status == "diverged"]
    note = f"; diverged: lr {', '.join(diverged)}" if diverged else ""
    return [
        Check(r1, _fmt_series(drops, "lr") + note, big),
        Check(r2, f"lr={lr_lo:g}: {lo.late_mean:.4f}; lr={default_lr:g}: "
              f"{base.late_mean:.4f}", lo.late_mean < base.late_mean),
    ]


def claim4(results: Sequence[RunResult]) -> list[Check]:
    pts = _swept(results, "momentum")
    constant = [(m, r) for m, r in pts if not r.config.momentum_until]
    switched = [r for r in _ok(results) if r.config.momentum_until]
    rules = ["test accuracy after epoch 1 increases with momentum (every step)",
             "the largest momentum's late accuracy is below the best late accuracy of a "
             "smaller momentum",
             "momentum early and none late ends with a higher late accuracy than the "
             "largest momentum kept to the end"]
    if len(constant) < 2:
        return [_none(r) for r in rules]
    first = [(m, r.series("test_acc")[0]) for m, r in constant]
    m_hi, hi = constant[-1]
    best_lower = max(constant[:-1], key=lambda p: p[1].late_mean)
    checks = [
        Check(rules[0], _fmt_series(first, "momentum"),
              _strictly_increasing([a for _, a in first])),
        Check(rules[1], f"momentum={m_hi:g}: {hi.late_mean:.4f}; best smaller "
              f"(momentum={best_lower[0]:g}): {best_lower[1].late_mean:.4f}",
              hi.late_mean < best_lower[1].late_mean),
    ]
    if switched:
        s = switched[0]
        checks.append(Check(rules[2], f"{s.label}: {s.late_mean:.4f}; momentum={m_hi:g} "
                            f"throughout: {hi.late_mean:.4f}", s.late_mean > hi.late_mean))
    else:
        checks.append(_none(rules[2]))
    return checks


def claim5(results: Sequence[RunResult]) -> list[Check]:
    pts = _swept(results, "init_std")
    r1 = f"init_std 0.01 stays at chance: final test accuracy < {COLLAPSE_ACC}"
    r2 = "init_std 1 has the highest test accuracy after epoch 1 of the swept values"
    small = [r for v, r in pts if math.isclose(v, 0.01)]
    one = [r for v, r in pts if math.isclose(v, 1.0)]
    checks = []
    if small:
        s = small[0]
        dead = "" if s.dead_relu is None else f", {100 * s.dead_relu:.0f}% dead ReLU units"
        checks.append(Check(r1, f"{s.final_acc:.4f} ({s.status}{dead})",
                            s.final_acc < COLLAPSE_ACC))
    else:
        checks.append(_none(r1))
    if one and len(pts) >= 2:
        first = [(v, r.series("test_acc")[0]) for v, r in pts]
        top = max(first, key=lambda p: p[1])[0]
        checks.append(Check(r2, _fmt_series(first, "init_std"), math.isclose(top, 1.0)))
    else:
        checks.append(_none(r2))
    return checks


def claim6(results: Sequence[RunResult]) -> list[Check]:
    by = {r.config.loss: r for r in _ok(results)}
    rules = ["softmax's per-iteration training loss is noisier: std/mean over the last "
             "third of the iterations is larger than Euclidean's",
             "softmax's late accuracy is higher than Euclidean's",
             "softmax's test accuracy climbs steadily: no epoch-to-epoch drop > 0.005"]
    if "softmax" not in by or "euclidean" not in by:
        return [_none(r) for r in rules]
    s, e = by["softmax"], by["euclidean"]
    acc = s.series("test_acc")
    worst = float(np.max(acc[:-1] - acc[1:])) if acc.size > 1 else 0.0
    return [
        Check(rules[0], f"softmax: {loss_noise(s):.3f}; Euclidean: {loss_noise(e):.3f}",
              loss_noise(s) > loss_noise(e)),
        Check(rules[1], f"softmax: {s.late_mean:.4f}; Euclidean: {e.late_mean:.4f}",
              s.late_mean > e.late_mean),
        Check(rules[2], f"largest drop: {max(worst, 0.0):.4f}", worst <= 0.005),
    ]


def claim7(results: Sequence[RunResult]) -> list[Check]:
    from npcnn.models import build_model, count_params

    cnn = [r for r in _ok(results) if r.config.model == "cnn"]
    mlps = [r for r in _ok(results) if r.config.model == "mlp"]
    rules = ["similar best accuracy, the CNN slightly higher: CNN best - best MLP best "
             "is in [0, 0.01]",
             "the CNN has < 5% of the parameters of the MLP 784-100-50-10 (the seed: 2.5%)",
             f"the CNN reaches {TARGET_ACC} within 10 epochs and before every MLP "
             "(never counts as later)",
             "a CNN epoch takes > 3x the seconds of an MLP epoch (784-100-50-10)"]
    if not cnn or not mlps:
        return [_none(r) for r in rules]
    c = cnn[0]
    big = max(mlps, key=lambda r: len(r.config.hidden))
    best_mlp = max(mlps, key=lambda r: r.best_acc)
    gap = c.best_acc - best_mlp.best_acc
    n_cnn, n_mlp = count_params(build_model(c.config)), count_params(build_model(big.config))
    ec = c.epoch_reaching()
    em = [r.epoch_reaching() for r in mlps]
    ratio = c.seconds_per_epoch / big.seconds_per_epoch
    reach = "; ".join(f"{r.label}: {_reach_text(r.epoch_reaching())}" for r in [c, *mlps])
    return [
        Check(rules[0], f"CNN {c.best_acc:.4f}, {best_mlp.label} {best_mlp.best_acc:.4f} "
              f"(gap {gap:+.4f})", 0 <= gap <= 0.01),
        Check(rules[1], f"{n_cnn:,} vs {n_mlp:,} = {100 * n_cnn / n_mlp:.2f}%",
              n_cnn / n_mlp < 0.05),
        Check(rules[2], reach, ec is not None and ec <= 10
              and all(_epochs(ec) < _epochs(e) for e in em)),
        Check(rules[3], f"CNN {c.seconds_per_epoch:.2f} s, {big.label} "
              f"{big.seconds_per_epoch:.2f} s ({ratio:.1f}x)", ratio > 3),
    ]


def claim8(stats: dict) -> list[Check]:
    """``stats`` from ``npcnn.plots.map_stats``: per-channel correlations of the first
    ReLU maps with the input digit and with its edge strength."""
    r1 = "digit shapes: some channel's map correlates with the digit image at r > 0.5"
    r2 = ("local edges: some channel's map correlates more with the digit's edge "
          "strength (gradient magnitude) than with the digit itself, at r > 0.3")
    img, edge = np.asarray(stats["corr_image"]), np.asarray(stats["corr_edges"])
    shape_ch = int(np.argmax(img))
    edge_ch = int(np.argmax(edge - img))
    return [
        Check(r1, "per channel: " + ", ".join(f"{v:.2f}" for v in img), bool(img.max() > 0.5)),
        Check(r2, "per channel: " + ", ".join(f"{v:.2f}" for v in edge)
              + f" (best edge channel {edge_ch}, shape channel {shape_ch})",
              bool(np.any((edge > img) & (edge > 0.3)))),
    ]


def headline_checks(results: Sequence[RunResult]) -> list[Check]:
    """results[0]: the default network; the best of the others: the best network."""
    r1 = f"the default network's final test accuracy >= the seed's {SEED['default_acc']}"
    r2 = f"the best network's final test accuracy >= the seed's {SEED['best_acc']}"
    if not results or not results[0].epochs:
        return [_none(r1), _none(r2)]
    d = results[0]
    checks = [Check(r1, f"{d.label}: {d.final_acc:.4f} after {len(d.epochs)} epochs "
                    f"(best {d.best_acc:.4f})", d.final_acc >= SEED["default_acc"])]
    others = _ok(results[1:])
    if others:
        b = max(others, key=lambda r: r.final_acc)
        checks.append(Check(r2, f"{b.label}: {b.final_acc:.4f} after {len(b.epochs)} epochs "
                            f"(best {b.best_acc:.4f})", b.final_acc >= SEED["best_acc"]))
    else:
        checks.append(_none(r2))
    return checks


def _headline_numbers(results: Sequence[RunResult]) -> dict:
    ok = _ok(results)
    if not ok or ok[0] is not results[0]:
        return {}
    d = results[0]
    out = {"default_label": d.label, "default_acc": d.final_acc, "default_best": d.best_acc,
           "default_epochs": len(d.epochs), "default_spe": d.seconds_per_epoch,
           "train_images": d.config.subset or 55_000}
    if ok[1:]:
        b = max(ok[1:], key=lambda r: r.final_acc)
        out.update(best_label=b.label, best_acc=b.final_acc, best_best=b.best_acc,
                   best_epochs=len(b.epochs), best_spe=b.seconds_per_epoch)
    return out


_RULES = {1: claim1, 2: claim2, 3: claim3, 4: claim4, 5: claim5, 6: claim6, 7: claim7}


class Note(str):
    """A sentence shown as a paragraph in a notebook."""

    def _repr_html_(self) -> str:
        return f"<p>{escape(self)}</p>"


def verdict(claim: int, results: Sequence[RunResult] = (), headline: bool = False,
            stats: dict | None = None) -> Verdict | Note:
    """The verdict on seed claim ``claim`` (1..8) from measured ``results``.

    ``headline=True`` (with ``claim=0``) compares the first run and the best of the
    others with the seed's headline accuracies. Claim 8 takes ``stats`` from
    ``npcnn.plots.map_stats`` instead of results. ``claim=0`` alone: a note that the
    study tests no claim.
    """
    if headline:
        return Verdict("headline", "the default network reached about 0.985; the best "
                       "configuration (k=3, C=16) 0.990.", headline_checks(results),
                       numbers=_headline_numbers(results))
    if claim == 8:
        return Verdict(8, CLAIMS[8], claim8(stats or {"corr_image": [0], "corr_edges": [0]}))
    if claim in _RULES:
        return Verdict(claim, CLAIMS[claim], _RULES[claim](results))
    if claim == 0:
        return Note("This study tests none of the seed's eight claims; it is reported as "
                    "measured.")
    raise ValueError(f"claim must be 0..8, got {claim!r}")


__all__ = ["SEED", "CLAIMS", "RULE", "Check", "Verdict", "Note", "verdict", "mean_drop",
           "loss_noise"]
