"""Executing a study's notebook with papermill, and knowing when it need not run again.

A page is executed again only when something it shows may have changed: its
fingerprint covers the notebook, the parameters it gets, the package's source and the
history of every run it reads. An unchanged page keeps its executed notebook.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from npcnn import paths, store, threads
from npcnn.checkpoint import HISTORY
from npcnn.report.studies import Study

FINGERPRINT = ".fingerprint"  # beside the executed notebook: what it was executed from


@dataclass
class Outcome:
    """What executing a study's notebook gave."""

    status: str  # "ok", "failed", or "unchanged" (not executed: the fingerprint matched)
    seconds: float = 0.0
    error: str = ""


def notebook_path(out: Path, study: Study) -> Path:
    return out / "notebooks" / f"{study.name}.ipynb"


def log_path(out: Path, study: Study) -> Path:
    return out / "logs" / f"{study.name}.log"


def source_hash() -> str:
    """sha256 of the package's Python sources: a code change re-executes every page."""
    h = hashlib.sha256()
    for path in sorted(paths.PACKAGE.rglob("*.py")):
        h.update(path.relative_to(paths.PACKAGE).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(study: Study, code: str) -> str:
    """What the page shows depends on: its notebook, parameters, the code (``code``,
    from ``source_hash``) and the histories of its runs."""
    h = hashlib.sha256()
    h.update(study.notebook.read_bytes())
    h.update(json.dumps(study.params, sort_keys=True, default=str).encode())
    h.update(code.encode())
    for c in study.configs:
        hist = store.run_dir(c, study.params.get("runs_dir")) / HISTORY
        h.update(c.key().encode())
        h.update(hist.read_bytes() if hist.exists() else b"-")
    return h.hexdigest()


def unchanged(study: Study, out: Path, print_: str) -> bool:
    """True when the page's executed notebook exists and was made from ``print_``."""
    nb = notebook_path(out, study)
    stamp = nb.with_name(nb.name + FINGERPRINT)
    return nb.exists() and stamp.exists() and stamp.read_text().strip() == print_


def execute(study: Study, out: Path, print_: str = "") -> Outcome:
    """Run the study's notebook with papermill into ``out/notebooks/<name>.ipynb``, its
    output in ``out/logs/<name>.log``; record ``print_`` when it succeeds."""
    import yaml

    nb, log = notebook_path(out, study), log_path(out, study)
    nb.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    stamp = nb.with_name(nb.name + FINGERPRINT)
    stamp.unlink(missing_ok=True)
    pfile = log.with_name(f"{study.name}.params.yaml")
    pfile.write_text(yaml.safe_dump(study.params, sort_keys=False))
    # The notebook's own kernel ("python3": this interpreter, as papermill resolves it).
    cmd = [sys.executable, "-m", "papermill", str(study.notebook), str(nb), "-f", str(pfile),
           "--cwd", str(out), "--no-progress-bar"]
    # Pages execute side by side: one BLAS thread each (threads.WORKER_ENV), or OpenBLAS's
    # spinning threads oversubscribe the cores (a 1 s prediction took 18 s, measured).
    env = dict(os.environ, **threads.WORKER_ENV, PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        return Outcome("failed", seconds, error_of(log))
    if print_:
        stamp.write_text(print_ + "\n")
    return Outcome("ok", seconds)


def error_of(path: Path) -> str:
    """The last exception line of a papermill log, e.g. "ConfigError: unknown ..."."""
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    errs = [ln for ln in lines if "Error" in ln.split(":")[0] or "Exception" in ln]
    return (errs[-1] if errs else (lines[-1] if lines else "failed"))[:300]


__all__ = ["Outcome", "notebook_path", "log_path", "source_hash", "fingerprint", "unchanged",
           "execute", "error_of"]
