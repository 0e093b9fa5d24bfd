"""``npcnn report``: regenerate the report, doing only what changed.

1. Check MNIST once: a missing, empty or corrupt directory stops here, in one line.
2. Plan: every study's runs (points x seeds), computed as its notebook computes them.
3. Time: the speed page runs first, alone, so its timings see a quiet machine.
4. Train: every planned run the store lacks, all studies pooled, longest first, on the
   local cores (or a Dask cluster), with a progress line.
5. Execute the notebooks whose page may have changed (``npcnn.report.execute``: same
   notebook, parameters, code and run histories = same page, not executed again).
6. Render every page, a small figure per study, the seed's digest and the index.

A full report goes to ``reports/``, a preview (``--quick``) to ``reports/quick/``; a
report of some studies (``--only``) updates them in the existing index.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import sys
import threading
import time
from pathlib import Path

from npcnn import paths, store, threads
from npcnn.report import execute, render
from npcnn.report.studies import (
    FULL_SEEDS,
    ORDER,
    QUICK_SEEDS,
    Study,
    params_of,
    plan_study,
    studies,
)
from npcnn.sweep.plan import estimate_seconds
from npcnn.sweep.progress import ProgressPrinter
from npcnn.sweep.runner import collect, label_runs, scheduler_address, train_many
from npcnn.text import clock, one_line

_PRINT = threading.Lock()  # pages run on threads: one line at a time


def log(msg: str) -> None:
    with _PRINT:
        print(f"[report {dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def fail(msg: str) -> int:
    print(f"npcnn: error: {one_line(msg)}", file=sys.stderr)
    return 2


def default_out(quick: bool) -> Path:
    """Where a report goes unless told: ``reports/``, a preview ``reports/quick/``."""
    return paths.reports_dir() / "quick" if quick else paths.reports_dir()


def build_report(quick: bool = False, seeds: int = 0, jobs: int = 0, out: Path | None = None,
                 runs_dir: str = "", only: list[str] | None = None,
                 scheduler: str = "") -> int:
    """Everything ``npcnn report`` does; returns 0, 1 if a notebook failed, 2 on a usage
    or data error (an unknown study, no MNIST, an unreachable Dask scheduler)."""
    from npcnn.cluster import ClusterError
    from npcnn.data import DataError, check_mnist

    start = time.perf_counter()
    try:
        check_mnist()
        todo = studies(only)
    except (DataError, ValueError) as err:
        return fail(str(err))
    out = (out or default_out(quick)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = store.root_of(runs_dir)
    jobs = jobs or threads.cores()
    seeds = seeds or (QUICK_SEEDS if quick else FULL_SEEDS)
    scheduler = scheduler_address(scheduler)
    labels, configs = {}, {}
    for s in todo:
        s.params = params_of(s, quick, seeds, root, jobs, scheduler)
        if not s.trains:
            continue
        try:
            plan_study(s)
        except Exception as err:  # the notebook will fail with the same message
            log(f"plan  {s.name}: {type(err).__name__}: {one_line(err)}")
            continue
        for c in s.configs:
            configs.setdefault(c.key(), c)
        labels.update({k: v for k, v in label_runs(s.points, s.seeds, f"{s.name}: ").items()
                       if k not in labels})
    missing = store.to_train(list(configs.values()), root)
    where = (f"on the Dask cluster at {scheduler}" if scheduler else
             f"(about {clock(sum(map(estimate_seconds, missing)) / jobs)}) on {jobs} cores")
    log(f"{'quick' if quick else 'full'} report, {seeds} seed{'s' * (seeds > 1)}: "
        f"{len(todo)} notebooks, {len(configs)} distinct runs, {len(missing)} to train "
        f"{where}; run store {root}; output {out}")
    code = execute.source_hash()
    records = {s.name: render.Record(s.name, s.title, s.claim, runs=len(s.configs),
                                     seeds=len(s.seeds)) for s in todo}
    # A timing page runs alone, before the training, unless it is unchanged.
    timing = [s for s in todo if not s.trains]
    for s in timing:
        _run_page(s, out, code, records, alone=True)
    if missing:
        printer = ProgressPrinter(every=30, prefix="train ", emit=log)
        try:
            errors = train_many(missing, jobs, root, printer, labels=labels,
                                scheduler=scheduler)
        except ClusterError as err:
            return fail(str(err))
        for key, err in errors.items():
            log(f"train FAILED {labels.get(key, key)}: {err}")
    rest = [s for s in todo if s not in timing]
    # Pages with stored runs mostly start a kernel and draw: one more than the cores
    # keeps both busy while a kernel starts. The slowest page (feature maps) first.
    rest.sort(key=lambda s: s.name != "feature_maps")
    with cf.ThreadPoolExecutor(jobs + 1) as pool:
        for _ in pool.map(lambda s: _run_page(s, out, code, records), rest):
            pass
    everything = studies()
    for s in todo:
        i = [x.name for x in everything].index(s.name)
        prev = everything[i - 1] if i > 0 else None
        nxt = everything[i + 1] if i + 1 < len(everything) else None
        records[s.name].data = render.payloads(out, s)
        render.page(s, out, records[s.name], prev, nxt)
        if s.trains and s.points:
            render.figure(out, s, collect(s.points, s.seeds, root))
    render.digest_page(out)
    merged = {**render.load_records(out), **records}
    info = {"quick": quick, "seeds": seeds, "seconds": time.perf_counter() - start,
            "trained": len(missing), "cached": len(configs) - len(missing), "jobs": jobs,
            "scheduler": scheduler, "executed": sum(r.executed for r in records.values()),
            "unchanged": sum(not r.executed and r.status == "ok" for r in records.values()),
            "only": [s.name for s in todo] if only else []}
    index = render.index(merged, [name for name, _, _ in ORDER], out, info)
    failed = [s.name for s in todo if records[s.name].status != "ok"]
    log(f"wrote {index} in {clock(info['seconds'])}"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _run_page(s: Study, out: Path, code: str, records: dict, alone: bool = False) -> None:
    """Execute the study's notebook unless its page is unchanged; fill its record."""
    r = records[s.name]
    fingerprint = execute.fingerprint(s, code)
    if execute.unchanged(s, out, fingerprint):
        r.status, r.executed = "ok", False
        log(f"notebook {s.name}: unchanged, not executed again")
        return
    if alone:
        log(f"notebook {s.name} (alone: it measures time) ...")
    result = execute.execute(s, out, fingerprint)
    r.status, r.seconds, r.error, r.executed = result.status, result.seconds, result.error, True
    log(f"notebook {s.name}: {result.status} in {clock(result.seconds)}"
        + (f" ({result.error})" if result.error else ""))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="npcnn report", description="Run every study of the seed's report and render "
        "it as HTML pages with an index (reports/index.html). Only what changed is "
        "trained or executed again.")
    ap.add_argument("--quick", action="store_true",
                    help="a preview: 2 epochs, 6,000 training images per run, written to "
                    "reports/quick/ (the full report is left alone)")
    ap.add_argument("--seeds", type=int, default=0, metavar="N",
                    help=f"train every point with seeds 0..N-1 (default {FULL_SEEDS}; "
                    f"{QUICK_SEEDS} with --quick)")
    ap.add_argument("--jobs", type=int, default=0, metavar="N",
                    help="cores for the training workers (default: every core)")
    ap.add_argument("--scheduler", default="", metavar="ADDRESS",
                    help="train on the Dask cluster of this scheduler, e.g. tcp://host:8786 "
                    "(default $NPCNN_SCHEDULER; unset: local worker processes)")
    ap.add_argument("--only", nargs="+", metavar="STUDY",
                    help="only these studies, updated in the existing index: "
                    + " ".join(name for name, _, _ in ORDER))
    ap.add_argument("--out", default=None, metavar="DIR",
                    help="output directory (default: the checkout's reports/, or "
                    "./reports for an installed package; reports/quick/ with --quick)")
    ap.add_argument("--runs", default="", metavar="DIR",
                    help="run store (default $NPCNN_RUNS, the checkout's runs/, or a cache)")
    ap.add_argument("--open", action="store_true", help="open the index in a browser")
    return ap


def main(argv: list[str] | None = None) -> int:
    """``npcnn report [...]``; returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 0
    if args.seeds < 0 or args.jobs < 0:
        return fail("--seeds and --jobs must be >= 0")
    code = build_report(quick=args.quick, seeds=args.seeds, jobs=args.jobs,
                 out=Path(args.out) if args.out else None, runs_dir=args.runs,
                 only=args.only, scheduler=args.scheduler)
    if args.open and code in (0, 1):
        import webbrowser

        out = Path(args.out) if args.out else default_out(args.quick)
        webbrowser.open((out / "index.html").resolve().as_uri())
    return code


__all__ = ["build_report", "default_out", "main", "parser"]
