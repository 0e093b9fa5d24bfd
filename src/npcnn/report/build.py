"""``npcnn report``: regenerate the report of one dataset, doing only what changed.

1. Check the dataset once: missing, empty, damaged or foreign files stop here, in one line.
2. Plan: every study's runs (points x seeds), from its YAML (``npcnn.report.studies``).
3. Time: the timing pages run first, alone, so their timings see a quiet machine.
4. Train: every planned run the store lacks, all studies pooled, longest first, on the
   local cores (or a Dask cluster), with a progress line.
5. Execute the notebooks whose page may have changed (``npcnn.report.execute``: same
   notebook, parameters, code and run histories = same page, not executed again), the
   pages that took longest last time first.
6. Render every page, a small figure per study, the original report's digest,
   ``report.json`` and the index; then the comparison of the datasets whose reports
   exist and ``FINDINGS.md`` (``compare``).

MNIST's report goes to ``reports/``, another dataset's to ``reports/<dataset>/``, a
preview (``--quick``) to the ``quick/`` below either; a report of some studies
(``--only``) updates them in the existing index. A report never touches another
dataset's report but for the link its index gains to the comparison.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import sys
import threading
import time
from pathlib import Path

from npcnn import datasets, environment, paths, store, threads
from npcnn.report import compare, execute, findings, index, render
from npcnn.report.studies import QUICK_SEEDS, Study, params_of, plan_study, studies
from npcnn.sweep.calibrate import speed_factors
from npcnn.sweep.plan import estimate_seconds, labels
from npcnn.sweep.progress import ProgressPrinter
from npcnn.sweep.runner import collect, scheduler_address, train_runs
from npcnn.text import clock, clock_range, core_minutes, one_line

_PRINT = threading.Lock()  # pages run on threads: one line at a time


def log(msg: str) -> None:
    with _PRINT:
        print(f"[report {dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def fail(msg: str) -> int:
    print(f"npcnn: error: {one_line(msg)}", file=sys.stderr)
    return 2


def default_out(dataset: str = datasets.DEFAULT, quick: bool = False,
                root: Path | None = None) -> Path:
    """Where a report goes unless told: ``reports/``, ``reports/<dataset>/``, and
    ``quick/`` below either for a preview."""
    return compare.report_dir(root or paths.reports_dir(), dataset, quick)


def build_report(dataset: str = datasets.DEFAULT, quick: bool = False, seeds: int = 0,
                 jobs: int = 0, out: Path | None = None, runs_dir: str = "",
                 only: list[str] | None = None, scheduler: str = "") -> int:
    """Everything ``npcnn report`` does; returns 0, 1 if a notebook failed, 2 on a usage
    or data error (an unknown study or dataset, missing data, an unreachable Dask
    scheduler). ``out``: the reports' root (default: the checkout's ``reports/``)."""
    from npcnn.data import DataError, check
    from npcnn.sweep.cluster import ClusterError

    start = time.perf_counter()
    try:
        ds = datasets.get(dataset)
        check(ds.name)
        todo = studies(only)
    except (DataError, ValueError) as err:
        return fail(str(err))
    root_out = (out or paths.reports_dir()).resolve()
    report = compare.report_dir(root_out, ds.name, quick)
    report.mkdir(parents=True, exist_ok=True)
    root = store.root_of(runs_dir)
    jobs = jobs or threads.cores()
    scheduler = scheduler_address(scheduler)
    names, configs = {}, {}
    for s in todo:
        s.params = params_of(s, quick, seeds, root, jobs, scheduler, ds.name)
        if not s.trains:
            continue
        try:
            plan_study(s)
        except Exception as err:  # the notebook will fail with the same message
            log(f"plan  {s.name}: {type(err).__name__}: {one_line(err)}")
            continue
        for c in s.configs:
            configs.setdefault(c.key(), c)
        names.update({k: v for k, v in labels(s.points, s.seeds, f"{s.name}: ").items()
                      if k not in names})
    missing = store.to_train(list(configs.values()), root)
    factor = estimate = None
    if scheduler:
        where = f"on the Dask cluster at {scheduler}"
    else:  # the fit's seconds at this machine's speed, measured now (about 2 s)
        factor = speed_factors() if missing else (1.0, 1.0)
        fit = sum(map(estimate_seconds, missing)) / jobs
        estimate = [fit * f for f in factor]
        where = f"(about {clock_range(*estimate)} at this machine's speed) on {jobs} cores"
    counts = sorted({len(s.seeds) for s in todo if s.trains and s.seeds}) or [0]
    seed_words = (f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}") + \
        " seeds per point"
    log(f"{'quick' if quick else 'full'} report on {ds.title}, {seed_words}: {len(todo)} "
        f"notebooks, {len(configs)} distinct runs, {len(missing)} to train {where}; run "
        f"store {root}; output {report}")
    code = execute.source_hash()
    _, before = index.load(report)
    records = {s.name: index.Record(s.name, s.title, s.claim, s.order, runs=len(s.configs),
                                    seeds=len(s.seeds)) for s in todo}
    for s in (s for s in todo if s.timing):  # alone, before the training, unless unchanged
        _run_page(s, report, code, records, alone=True)
    trained_s = core_s = 0.0
    if missing:
        printer = ProgressPrinter(every=30, prefix="train ", emit=log)
        t0 = time.perf_counter()
        try:
            errors = train_runs(missing, root, jobs, scheduler, printer, labels=names)
        except ClusterError as err:
            return fail(str(err))
        trained_s = time.perf_counter() - t0
        core_s = store.core_seconds(missing, root)
        for key, err in errors.items():
            log(f"train FAILED {names.get(key, key)}: {err}")
    # Pages with stored runs mostly start a kernel and draw: one more than the cores keeps
    # both busy while a kernel starts. The pages that took longest last time first.
    rest = sorted((s for s in todo if not s.timing),
                  key=lambda s: -(before[s.name].seconds if s.name in before else 0))
    with cf.ThreadPoolExecutor(jobs + 1) as pool:
        for _ in pool.map(lambda s: _run_page(s, report, code, records), rest):
            pass
    everything = studies()
    for s in todo:
        i = [x.name for x in everything].index(s.name)
        prev = everything[i - 1] if i > 0 else None
        nxt = everything[i + 1] if i + 1 < len(everything) else None
        records[s.name].data = render.payloads(report, s)
        render.page(s, report, records[s.name].status, records[s.name].error, prev, nxt,
                    ds.title)
        if s.trains and s.points:
            render.figure(report, s, collect(s.points, s.seeds, root))
    render.digest_page(report)
    behind = store.runs_of(list(configs.values()))
    info = {"quick": quick, "seeds": seeds or (QUICK_SEEDS if quick else "per study"),
            "seconds": time.perf_counter() - start, "trained": len(missing),
            "cached": len(configs) - len(missing), "jobs": jobs, "scheduler": scheduler,
            # What the first line estimated and what the training took: each report is
            # a check of the estimate (npcnn.sweep.calibrate).
            "speed_factors": factor, "train_estimate_seconds": estimate,
            "train_seconds": trained_s,
            # The epochs' own seconds summed over the runs trained: the training's cost in
            # one core's time, whatever the cores or the cluster.
            "train_core_seconds": core_s,
            # The runs behind the report, whichever report trained them, and their cost:
            # what the findings cost, also when every run came from the store.
            "runs": len(behind), "runs_core_seconds": store.core_seconds(behind, root),
            "executed": sum(r.executed for r in records.values()),
            "unchanged": sum(not r.executed and r.status == "ok" for r in records.values()),
            "only": [s.name for s in todo] if only else [],
            "environment": [list(row) for row in environment.rows()]}
    index.write_json(report, ds.name, info, {**before, **records})
    page = compare.write_page(root_out, quick)
    failed = [s.name for s in todo if records[s.name].status != "ok"]
    trained = (f" (training {clock(trained_s)}, {core_minutes(core_s)}"
               + (f", estimated {clock_range(*estimate)})" if estimate is not None else ")")
               if missing else "")
    log(f"wrote {report / 'index.html'} in {clock(info['seconds'])}{trained}"
        + (f"; the datasets compared in {page}" if page else "")
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
        prog="npcnn report", description="Run every study of the original report on one "
        "dataset and render it as HTML pages with an index (reports/index.html for MNIST, "
        "reports/<dataset>/index.html for another), and the datasets side by side "
        "(reports/datasets.html) once two reports exist. Only what changed is trained or "
        "executed again.")
    ap.add_argument("--dataset", default=datasets.DEFAULT, choices=datasets.names(),
                    help="the dataset every study trains on (default: mnist; fashion = "
                    "Fashion-MNIST, in reports/fashion/)")
    ap.add_argument("--quick", action="store_true",
                    help="a preview: 2 epochs, 6,000 training images per run, 1 seed, "
                    "written to the report's quick/ (the full report is left alone)")
    ap.add_argument("--seeds", type=int, default=0, metavar="N",
                    help="train every point with seeds 0..N-1 (default: each study's own, "
                    f"from its params/*.yaml; {QUICK_SEEDS} with --quick)")
    ap.add_argument("--jobs", type=int, default=0, metavar="N",
                    help="cores for the training workers (default: every core)")
    ap.add_argument("--scheduler", default="", metavar="ADDRESS",
                    help="train on the Dask cluster of this scheduler, e.g. tcp://host:8786 "
                    "(default $NPCNN_SCHEDULER; unset: local worker processes)")
    ap.add_argument("--only", nargs="+", metavar="STUDY",
                    help="only these studies (the names of params/*.yaml), updated in the "
                    "existing index")
    ap.add_argument("--out", default=None, metavar="DIR",
                    help="the reports' root (default: the checkout's reports/, or "
                    "./reports for an installed package): MNIST's report in DIR, another "
                    "dataset's in DIR/<dataset>/, a preview in quick/ below either")
    ap.add_argument("--runs", default="", metavar="DIR",
                    help="run store (default $NPCNN_RUNS, the checkout's runs/, or a cache)")
    ap.add_argument("--open", action="store_true", help="open the index in a browser")
    ap.add_argument("--snapshot", default=None, metavar="DIR",
                    help="train nothing: copy the findings of the full reports that exist "
                    "into DIR (FINDINGS.md, and the report.json files it re-renders from, "
                    "as DIR/findings/<dataset>.json); the repository's is docs/")
    return ap


def main(argv: list[str] | None = None) -> int:
    """``npcnn report [...]``; returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 0
    if args.seeds < 0 or args.jobs < 0:
        return fail("--seeds and --jobs must be >= 0")
    out = Path(args.out) if args.out else None
    if args.snapshot is not None:
        found = compare.reports((out or paths.reports_dir()).resolve(), quick=args.quick)
        if not found:
            return fail("no report to take a snapshot of; run npcnn report first")
        path = findings.write_snapshot({n: data for n, (_, data) in found.items()},
                                       Path(args.snapshot))
        log(f"wrote {path} from the reports of {', '.join(found)}")
        return 0
    code = build_report(dataset=args.dataset, quick=args.quick, seeds=args.seeds,
                        jobs=args.jobs, out=out, runs_dir=args.runs, only=args.only,
                        scheduler=args.scheduler)
    if args.open and code in (0, 1):
        import webbrowser

        page = default_out(args.dataset, args.quick, out.resolve() if out else None)
        webbrowser.open((page / "index.html").resolve().as_uri())
    return code


__all__ = ["build_report", "default_out", "main", "parser"]
