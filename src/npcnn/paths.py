"""Where npcnn finds MNIST, keeps its run store and reads its studies: the same answer
from any working directory.

MNIST (``data_dir``) and the run store (``runs_root``) are looked up in this order:

1. the environment: ``$NPCNN_DATA``, ``$NPCNN_RUNS``;
2. the source checkout this package was imported from, if any: ``<checkout>/data/mnist``
   and ``<checkout>/runs`` (found from the package's own location, not the working
   directory, so ``cd notebooks && papermill ...`` uses the same files as ``make``);
3. a per-user cache for an installed package: ``<cache>/npcnn/mnist`` and
   ``<cache>/npcnn/runs``, ``<cache>`` being ``platformdirs.user_cache_dir`` (e.g.
   ``~/.cache`` on Linux, honouring ``$XDG_CACHE_HOME``).

The studies (``notebooks/*.ipynb``, ``params/*.yaml``) are the checkout's when there is
one (the files a user edits), else the copies shipped inside the installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def checkout() -> Path | None:
    """The source checkout holding this package (``<root>/src/npcnn``), or None when the
    package is installed from a wheel."""
    root = PACKAGE.parents[1]
    pyproject = root / "pyproject.toml"
    try:
        is_ours = 'name = "npcnn"' in pyproject.read_text()
    except OSError:
        return None
    return root if is_ours and (root / "src" / "npcnn") == PACKAGE else None


def user_cache() -> Path:
    """``<user cache dir>/npcnn``: where an installed package keeps data and runs."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("npcnn", appauthor=False))


def _pick(env: str, in_checkout: str, in_cache: str) -> Path:
    value = os.environ.get(env, "")
    if value:
        return Path(value).expanduser().resolve()
    root = checkout()
    return root / in_checkout if root is not None else user_cache() / in_cache


def data_dir() -> Path:
    """MNIST: ``$NPCNN_DATA``, else ``<checkout>/data/mnist``, else ``<cache>/mnist``."""
    return _pick("NPCNN_DATA", "data/mnist", "mnist")


def data_from_env() -> bool:
    """True when ``$NPCNN_DATA`` names the MNIST directory (used as is, never filled)."""
    return bool(os.environ.get("NPCNN_DATA", ""))


def runs_root() -> Path:
    """The run store: ``$NPCNN_RUNS``, else ``<checkout>/runs``, else ``<cache>/runs``."""
    return _pick("NPCNN_RUNS", "runs", "runs")


def reports_dir() -> Path:
    """Default output of ``npcnn report``: ``<checkout>/reports``, else ``./reports``."""
    root = checkout()
    return root / "reports" if root is not None else Path.cwd() / "reports"


def studies_file(kind: str, name: str) -> Path:
    """``notebooks/<name>`` or ``params/<name>`` (``kind``): the checkout's copy if there
    is a checkout, else the one shipped in the package (``npcnn/notebooks``, ...)."""
    root = checkout()
    if root is not None:
        return root / kind / name
    return PACKAGE / kind / name


__all__ = ["checkout", "user_cache", "data_dir", "data_from_env", "runs_root",
           "reports_dir", "studies_file"]
