"""The machine and software a measurement ran on: CPU, cores, Python, NumPy and its BLAS,
PyTorch, the commit. Shown on the speed page and the report's index."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import os
import platform
import subprocess

from npcnn import paths


def cpu() -> str:
    """The CPU's model name, e.g. "AMD EPYC" (``platform`` as a fallback)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine() -> str:
    """``"<cpu>, <n> cores, Python <version>"``."""
    return f"{cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def blas() -> str:
    """The BLAS NumPy was built against, e.g. "scipy-openblas 0.3.31"."""
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        return "BLAS unknown"


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def torch_version() -> str:
    return importlib.metadata.version("torch") if torch_available() else "not installed"


def commit() -> str:
    """The checkout's commit (short hash, ``+`` when the tree has changes), or ""."""
    root = paths.checkout()
    if root is None:
        return ""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    head = git("rev-parse", "--short", "HEAD")
    return head + ("+" if head and git("status", "--porcelain", "--untracked-files=no")
                   else "")


def rows() -> list[tuple[str, str]]:
    """(name, value) pairs describing this environment."""
    import numpy as np

    from npcnn import __version__

    head = commit()
    return [("CPU", f"{cpu()}, {os.cpu_count()} cores"), ("Python", platform.python_version()),
            ("NumPy", f"{np.__version__}, BLAS: {blas()}"), ("PyTorch", torch_version()),
            ("npcnn", __version__ + (f", commit {head}" if head else "")),
            ("date", f"{dt.datetime.now():%Y-%m-%d %H:%M}")]


__all__ = ["cpu", "machine", "blas", "torch_available", "torch_version", "commit", "rows"]
