"""``python -m npcnn.report [--quick] [--jobs N] [--scheduler tcp://host:8786]``: regenerate
the whole report.

1. Plan: every study is a notebook plus a ``params/*.yaml``; the configurations each
   study will train are computed exactly as its notebook computes them (the notebook's
   own ``parameters`` cell, the YAML, then ``sweep.read_params`` and ``sweep.plan``).
2. Speed: the speed notebook runs first, alone, so its timings see a quiet machine.
3. Train: every planned run the store lacks, all studies pooled, in ``--jobs`` worker
   processes, longest first, with a progress line (study, runs done of total,
   elapsed, time left) every half minute and whenever a run finishes. With
   ``--scheduler`` (or ``$NPCNN_SCHEDULER``) the runs go to that Dask cluster instead,
   one task per run (``npcnn.cluster``), and come back into the local run store.
4. Execute every other notebook with papermill (they read the finished runs back), a
   few at a time; a failing notebook does not stop the others.
5. Convert each executed notebook to standalone HTML (inputs hidden, figures inline),
   failed ones included, and write ``reports/index.html``: the seed's numbers beside
   ours, the eight claims with their verdicts, the studies, the machine.

Notebooks display their key numbers with the MIME type ``application/vnd.npcnn+json``
(summary tables, verdicts); the index is built from those, never from hand-written text.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
KERNEL = "npcnn"
MIME = "application/vnd.npcnn+json"


@dataclass
class Study:
    """One page of the report: a notebook run with a params file."""

    name: str
    notebook: str
    params: str | None  # params/<name>.yaml, or None
    title: str
    trains: bool = True  # False: trains nothing in the run store (the speed page)
    status: str = "pending"  # "ok", "failed"
    seconds: float = 0.0
    error: str = ""
    points: list = field(default_factory=list)
    data: list = field(default_factory=list)  # the notebook's MIME payloads


STUDIES = [
    Study("headline", "sweep.ipynb", "params/headline.yaml", "Headline: 100 epochs"),
    Study("lr", "sweep.ipynb", "params/lr.yaml", "Learning rate"),
    Study("momentum", "sweep.ipynb", "params/momentum.yaml", "Momentum"),
    Study("kernel_size", "sweep.ipynb", "params/kernel_size.yaml", "Kernel size"),
    Study("channels", "sweep.ipynb", "params/channels.yaml", "Channels"),
    Study("init_std", "sweep.ipynb", "params/init_std.yaml", "Initial weight std"),
    Study("loss", "sweep.ipynb", "params/loss.yaml", "Loss function"),
    Study("weight_decay", "sweep.ipynb", "params/weight_decay.yaml", "Weight decay"),
    Study("cnn_vs_mlp", "cnn_vs_mlp.ipynb", "params/cnn_vs_mlp.yaml", "CNN vs MLP"),
    Study("feature_maps", "feature_maps.ipynb", "params/feature_maps.yaml",
          "What the network learned"),
    Study("speed", "speed.ipynb", "params/speed.yaml", "How training was made fast",
          trains=False),
]
# --quick: small settings for a preview (same notebooks, same code paths).
QUICK_TRAIN = {"epochs": 2, "subset": 6000}
QUICK_SPEED = {"channel_counts": [4, 8], "batch_sizes": [50, 100], "naive_batch": 2}


# -- planning -------------------------------------------------------------------------


def params_of(study: Study, quick: bool, runs_dir: Path, jobs: int,
              scheduler: str = "") -> dict:
    """The parameters the notebook of ``study`` gets: its YAML, quick overrides,
    the run store, the worker count and the Dask scheduler, if any."""
    import yaml

    p: dict[str, Any] = {}
    if study.params:
        p.update(yaml.safe_load((ROOT / study.params).read_text()) or {})
    if quick:
        p.update(QUICK_TRAIN if study.trains else QUICK_SPEED)
        # Extra runs that set their own length (e.g. 100 epochs) shrink too.
        p["extra"] = [{**e, **{k: v for k, v in QUICK_TRAIN.items() if k in e}}
                      if isinstance(e, dict) else e for e in p.get("extra", [])]
        if not p["extra"]:
            del p["extra"]
    p["runs_dir"] = str(runs_dir)
    if study.trains:
        p["jobs"] = jobs
        if scheduler:  # a run the report's training step missed is retried there too
            p["scheduler"] = scheduler
    return p


def parameters_cell(notebook: Path) -> str:
    """Source of the cell tagged ``parameters``."""
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"])
    raise ValueError(f"{notebook} has no cell tagged 'parameters'")


def plan_study(study: Study, params: dict) -> list:
    """The ``sweep.Point``s the study's notebook will train, computed the same way."""
    from npcnn import sweep

    ns: dict[str, Any] = {}
    exec(parameters_cell(ROOT / "notebooks" / study.notebook), ns)  # our own notebook
    ns.pop("__builtins__", None)
    ns.update(params)
    cfg, opts = sweep.read_params(ns)
    return sweep.plan(cfg, getattr(opts, "sweep", ""), getattr(opts, "values", []),
                      getattr(opts, "extra", []))


# -- progress -------------------------------------------------------------------------


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


class Printer:
    """Progress lines on the terminal: at most one per ``every`` seconds unless a run
    finished."""

    def __init__(self, start: float, every: float = 30.0) -> None:
        self.start, self.every, self.last = start, every, 0.0

    def __call__(self, p: Any) -> None:
        now = time.perf_counter()
        if not p.finished and now - self.last < self.every and p.runs_done < p.runs_total:
            return
        self.last = now
        running = ", ".join(p.running[:3]) + (" ..." if len(p.running) > 3 else "")
        done = f"done: {p.finished} | " if p.finished else ""
        failed = f"failed: {len(p.failed)} | " if getattr(p, "failed", None) else ""
        log(f"train  {p.runs_done}/{p.runs_total} runs, {p.epochs_done}/{p.epochs_total} "
            f"epochs | elapsed {_clock(now - self.start)}, left ~{_clock(p.eta)} | "
            f"{done}{failed}running: {running or '-'}")


def log(msg: str) -> None:
    print(f"[report {dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


# -- notebooks ------------------------------------------------------------------------


def ensure_kernel() -> None:
    """Install the ``npcnn`` kernel (this interpreter) if Jupyter does not know it."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
                        "--name", KERNEL, "--display-name", "npcnn (.venv)"], check=True,
                       capture_output=True)


def execute(study: Study, params: dict, out: Path) -> Study:
    """Run the study's notebook with papermill into ``out/notebooks/<name>.ipynb``."""
    import yaml

    nb_dir, log_dir = out / "notebooks", out / "logs"
    nb_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    pfile = log_dir / f"{study.name}.params.yaml"
    pfile.write_text(yaml.safe_dump(params, sort_keys=False))
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / study.notebook),
           str(nb_dir / f"{study.name}.ipynb"), "-f", str(pfile), "-k", KERNEL,
           "--cwd", str(ROOT), "--no-progress-bar"]
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    with open(log_dir / f"{study.name}.log", "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    study.seconds = time.perf_counter() - t0
    study.status = "ok" if proc.returncode == 0 else "failed"
    if proc.returncode:
        study.error = _error_of(log_dir / f"{study.name}.log")
    return study


def _error_of(path: Path) -> str:
    """The last exception line of a papermill log, e.g. "ConfigError: unknown ..."."""
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    errs = [ln for ln in lines if "Error" in ln.split(":")[0] or "Exception" in ln]
    return (errs[-1] if errs else (lines[-1] if lines else "failed"))[:300]


def to_html(study: Study, out: Path) -> None:
    """Executed (or partial) notebook -> ``out/<name>.html``, inputs hidden, images
    inline; collects the notebook's MIME payloads into ``study.data``."""
    import nbformat
    from nbconvert import HTMLExporter

    path = out / "notebooks" / f"{study.name}.ipynb"
    if not path.exists():  # papermill failed before writing anything: show its log
        log_path = out / "logs" / f"{study.name}.log"
        text = log_path.read_text(errors="replace") if log_path.exists() else study.error
        _write(out / f"{study.name}.html",
               f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(study.title)}"
               f"</title></head><body><p><a href='index.html'>← report index</a></p><h1>"
               f"{escape(study.title)}: failed</h1><pre>{escape(text)}</pre></body></html>")
        return
    nb = nbformat.read(path, as_version=4)
    study.data = [o["data"][MIME] for c in nb.cells for o in c.get("outputs", [])
                  if MIME in o.get("data", {})]
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    banner = (f'<p style="margin:1em"><a href="index.html">← report index</a> · '
              f'{escape(study.title)}'
              + (f' · <b style="color:#b00">this notebook failed: {escape(study.error)}</b>'
                 if study.status == "failed" else "") + "</p>")
    body = body.replace("<title>Notebook</title>", f"<title>{escape(study.title)}</title>", 1)
    i = body.find(">", body.find("<body")) + 1
    _write(out / f"{study.name}.html", body[:i] + banner + body[i:])


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a report killed mid-write keeps the previous page."""
    from npcnn.safeio import atomic_write

    atomic_write(path, text.encode())


# -- index ----------------------------------------------------------------------------


def environment() -> list[tuple[str, str]]:
    import numpy as np

    from npcnn import bench, speed

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return [("CPU", bench.machine()), ("NumPy", f"{np.__version__}, BLAS: {speed.blas()}"),
            ("Python", platform.python_version()), ("date", f"{dt.datetime.now():%Y-%m-%d %H:%M}"),
            ("commit", commit or "(none)")]


def _find(studies: list[Study], name: str, kind: str) -> dict:
    for s in studies:
        if s.name == name:
            for d in s.data:
                if d.get("kind") == kind:
                    return d
    return {}


def _f(v: Any, fmt: str = "{:.4f}") -> str:
    return "—" if v is None else fmt.format(v)


def write_index(studies: list[Study], out: Path, info: dict) -> Path:
    from npcnn.claims import CLAIMS, SEED

    head = _find(studies, "headline", "verdict").get("numbers", {})
    spe = _find(studies, "speed", "speed").get("seconds_per_epoch")
    n_img = head.get("train_images", 55_000)
    beside = (f"{_f(head.get('default_spe'), '{:.2f}')} s in the headline run, beside "
              "another run" + ("" if n_img == 55_000 else f" ({n_img:,} training images)"))
    headline = [
        ('test accuracy, default network (k=3, C=4), 100 epochs (<a href="headline.html">'
         "page</a>)",
         f"≈{SEED['default_acc']:.3f}", _f(head.get("default_acc")) + _epochs_note(head,
                                                                                 "default")
         + _versus(head.get("default_acc"), SEED["default_acc"])),
        ("test accuracy, best network", f"{SEED['best_acc']:.3f} (k=3, C=16)",
         _f(head.get("best_acc")) + (f" ({escape(head['best_label'])})" if "best_label"
                                     in head else "") + _epochs_note(head, "best")
         + _versus(head.get("best_acc"), SEED["best_acc"])),
        ("seconds per epoch, default network (train 55,000 + evaluate 15,000 images; "
         '<a href="speed.html">page</a>)',
         f"≈{SEED['seconds_per_epoch']:.0f} s ({SEED['machine']})",
         f"{_f(spe, '{:.2f}')} s alone, one thread (speed page); {beside}"),
        ("total time", "1.5 h for the default network's 100 epochs",
         f"this report: {_clock(info['seconds'])} ({info['trained']} runs trained now, "
         f"{info['cached']} answered by the run store)"),
    ]
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in headline)
    claim_rows = []
    owner = {}
    for s in studies:
        for d in s.data:
            if d.get("kind") == "verdict" and isinstance(d.get("claim"), int):
                owner[d["claim"]] = (s, d)
    for n, text in CLAIMS.items():
        s, d = owner.get(n, (None, {}))
        if s is None:
            s = next((x for x in studies if _claims_of(x) == n), None)
        verdict = d.get("verdict") or ("notebook failed" if s and s.status == "failed"
                                       else "not measured")
        link = f'<a href="{s.name}.html">{escape(s.title)}</a>' if s else "—"
        claim_rows.append(f'<tr><td>{n}</td><td>{escape(text)}</td>'
                          f'<td class="v-{verdict.replace(" ", "-")}"><b>{verdict}</b></td>'
                          f"<td>{link}</td></tr>")
    study_rows = "".join(
        f'<tr><td><a href="{s.name}.html">{escape(s.title)}</a></td>'
        f"<td>{len(s.points) if s.trains else '—'}</td>"
        f'<td class="{"failed" if s.status == "failed" else ""}">'
        f"{s.status}{': ' + escape(s.error) if s.error else ''}</td>"
        f"<td>{s.seconds:.0f} s</td></tr>" for s in studies)
    env = "".join(f"<tr><td>{a}</td><td>{escape(b)}</td></tr>" for a, b in environment())
    mode = "quick preview (2 epochs, 6,000 training images)" if info["quick"] else "full"
    html = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>npcnn report</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; line-height: 1.4; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
.v-holds {{ color: #060; }} .v-mixed {{ color: #a60; }}
.v-does-not-hold, .failed, .v-notebook-failed {{ color: #b00; }}
</style></head><body>
<h1>npcnn: the seed's CNN experiments, rerun</h1>
<p>A from-scratch NumPy CNN on MNIST, rebuilding a university assignment's report
(<code>shared/seed/SEED.md</code>). Every number below was measured by this report's
notebooks ({mode}); verdicts are computed by rules stated on each page.</p>
<h2>The seed's numbers beside ours</h2>
<table><tr><th></th><th>seed</th><th>npcnn</th></tr>{rows}</table>
<h2>The seed's eight claims</h2>
<p>Verdict rule: <b>holds</b> if every check of the claim passes, <b>mixed</b> if some
do, <b>does not hold</b> if none does (each page states its checks).</p>
<table><tr><th>#</th><th>claim</th><th>verdict</th><th>page</th></tr>
{''.join(claim_rows)}</table>
<h2>Studies</h2>
<table><tr><th>page</th><th>runs</th><th>notebook</th><th>time</th></tr>{study_rows}</table>
<h2>Environment</h2>
<table>{env}</table>
</body></html>
"""
    path = out / "index.html"
    _write(path, html)
    _write(out / "report.json", json.dumps(
        {"info": info, "studies": [{"name": s.name, "status": s.status, "error": s.error,
                                    "seconds": s.seconds, "data": s.data} for s in studies]},
        indent=1, default=str))
    return path


def _versus(ours: float | None, seed: float) -> str:
    """" — beats the seed's" or " — short of the seed's by 0.0024": said, not hidden."""
    if ours is None:
        return ""
    if ours >= seed:
        return f" — reaches the seed's {seed:.3f}"
    return f" — <b>short of the seed's {seed:.3f} by {seed - ours:.4f}</b>"


def _speed_stored(params: dict) -> bool:
    from npcnn import speed

    keys = ("channel_counts", "batch_sizes", "layer_channels", "naive_batch", "use_torch",
            "runs_dir", "remeasure")
    try:
        return speed.is_stored(**{k: params[k] for k in keys if k in params})
    except Exception:  # bad parameters: let the notebook run alone and fail visibly
        return False


def _epochs_note(head: dict, which: str) -> str:
    n = head.get(f"{which}_epochs")
    return f" after {n} epochs" if n else ""


def _claims_of(study: Study) -> int | None:
    import yaml

    if not study.params or not (ROOT / study.params).exists():
        return None
    p = yaml.safe_load((ROOT / study.params).read_text()) or {}
    return {"cnn_vs_mlp": 7, "feature_maps": 8}.get(study.name, p.get("claim"))


# -- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m npcnn.report", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 epochs, 6,000 training images")
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    ap.add_argument("--scheduler", default="", metavar="ADDRESS",
                    help="train on the Dask cluster of this scheduler, e.g. tcp://host:8786 "
                    "(default $NPCNN_SCHEDULER; unset: local worker processes)")
    ap.add_argument("--out", default=str(ROOT / "reports"), help="output directory")
    ap.add_argument("--runs", default="", help="run store (default $NPCNN_RUNS or runs/)")
    ap.add_argument("--only", nargs="+", metavar="STUDY",
                    help=f"only these studies: {' '.join(s.name for s in STUDIES)}")
    args = ap.parse_args(argv)
    return run_report(quick=args.quick, jobs=args.jobs, out=Path(args.out), runs_dir=args.runs,
                      only=args.only, scheduler=args.scheduler)


def run_report(quick: bool = False, jobs: int = 0, out: Path | None = None,
               runs_dir: str = "", only: list[str] | None = None,
               studies: list[Study] | None = None, scheduler: str = "") -> int:
    """Everything ``main`` does; returns 0, 1 if any notebook failed, 2 on a usage error
    (an unknown study, an unreachable Dask scheduler)."""
    from npcnn import cluster, runs, sweep

    start = time.perf_counter()
    os.environ["TQDM_DISABLE"] = "1"
    out = (out or ROOT / "reports").resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = runs.root_of(runs_dir)
    jobs = jobs or os.cpu_count() or 1
    todo = [Study(**{k: getattr(s, k) for k in ("name", "notebook", "params", "title",
                                                  "trains")}) for s in (studies or STUDIES)]
    if only:
        unknown = set(only) - {s.name for s in todo}
        if unknown:
            log(f"unknown studies: {', '.join(sorted(unknown))}")
            return 2
        todo = [s for s in todo if s.name in only]
    ensure_kernel()
    scheduler = sweep.scheduler_address(scheduler)
    params = {s.name: params_of(s, quick, root, jobs, scheduler) for s in todo}
    labels, configs = {}, {}
    for s in todo:
        if not s.trains:
            continue
        try:
            s.points = plan_study(s, params[s.name])
        except Exception as err:  # the notebook will fail with the same message
            log(f"plan  {s.name}: {type(err).__name__}: {err}")
            continue
        for p in s.points:
            configs.setdefault(p.config.key(), p.config)
            labels.setdefault(p.config.key(), f"{s.name}: {p.label}")
    # Per family (configs differing only in epochs) the longest run answers the others.
    missing = runs.to_train(list(configs.values()), root)
    est = sum(map(sweep.estimate_seconds, missing)) / jobs
    where = (f"on the Dask cluster at {scheduler}" if scheduler
             else f"(about {_clock(est)}) with {jobs} workers")
    log(f"{'quick' if quick else 'full'} report: {len(todo)} notebooks, {len(configs)} "
        f"distinct runs, {len(missing)} to train {where}; run store {root}")
    # A timing notebook runs alone, before the training, unless its numbers are stored.
    timing = [s for s in todo if not s.trains and not _speed_stored(params[s.name])]
    for s in timing:
        log(f"notebook {s.name} (alone, it measures time) ...")
        execute(s, params[s.name], out)
        log(f"notebook {s.name}: {s.status} in {s.seconds:.0f} s")
    if missing:
        try:
            errors = sweep.train_many(missing, jobs, root, Printer(start), labels=labels,
                                      scheduler=scheduler)
        except cluster.ClusterError as err:
            log(f"error: {err}")
            return 2
        for key, err in errors.items():
            log(f"train  FAILED {labels[key]}: {err}")
    # The feature maps page is the slowest to draw: start it first.
    rest = sorted((s for s in todo if s not in timing), key=lambda s: s.name != "feature_maps")
    # Notebooks with stored runs mostly start kernels and draw: one more than the cores
    # keeps both busy while a kernel starts.
    with cf.ThreadPoolExecutor(jobs + 1) as pool:
        futs = {pool.submit(execute, s, params[s.name], out): s for s in rest}
        for i, fut in enumerate(cf.as_completed(futs), 1):
            s = fut.result()
            log(f"notebook {i}/{len(rest)} {s.name}: {s.status} in {s.seconds:.0f} s"
                + (f" ({s.error})" if s.error else "") + f" | elapsed "
                f"{_clock(time.perf_counter() - start)}")
    for s in todo:
        to_html(s, out)
    info = {"quick": quick, "seconds": time.perf_counter() - start, "trained": len(missing),
            "cached": len(configs) - len(missing), "jobs": jobs, "scheduler": scheduler}
    index = write_index(todo, out, info)
    failed = [s.name for s in todo if s.status != "ok"]
    log(f"wrote {index} in {_clock(info['seconds'])}"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
