"""Where npcnn finds a dataset, keeps its run store and reads its studies: the same answer
from any working directory.

A dataset's directory (``data_dir``) and the run store (``runs_root``) are looked up in
this order:

1. the environment: the dataset's variable (``$NPCNN_DATA`` for MNIST,
   ``$NPCNN_DATA_FASHION`` for Fashion-MNIST: ``Dataset.env``), ``$NPCNN_RUNS``;
2. the source checkout this package was imported from, if any: ``<checkout>/data/<id>``
   (``data/mnist``, ``data/fashion-mnist``) and ``<checkout>/runs`` (found from the
   package's own location, not the working directory, so ``cd notebooks && papermill
   ...`` uses the same files as ``make``);
3. a per-user cache for an installed package: ``<cache>/npcnn/<id>`` and
   ``<cache>/npcnn/runs``, ``<cache>`` being ``platformdirs.user_cache_dir`` (e.g.
   ``~/.cache`` on Linux, honouring ``$XDG_CACHE_HOME``).

The studies (``notebooks/*.ipynb``, ``params/*.yaml``) are the checkout's when there is
one (the files a user edits), else the copies shipped inside the installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

from npcnn import datasets

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


def data_dir(dataset: str = datasets.DEFAULT) -> Path:
    """The directory of the registered ``dataset``: its variable (``$NPCNN_DATA`` for
    MNIST), else ``<checkout>/data/<id>``, else ``<cache>/<id>``."""
    d = datasets.get(dataset)
    return _pick(d.env, f"data/{d.id}", d.id)


def data_from_env(dataset: str = datasets.DEFAULT) -> bool:
    """True when the dataset's variable names its directory (used as is, never filled)."""
    return bool(os.environ.get(datasets.get(dataset).env, ""))


def runs_root() -> Path:
    """The run store: ``$NPCNN_RUNS``, else ``<checkout>/runs``, else ``<cache>/runs``."""
    return _pick("NPCNN_RUNS", "runs", "runs")


def reports_dir() -> Path:
    """Where ``npcnn report`` writes: ``<checkout>/reports``, else ``./reports``. The
    MNIST report is its top, another dataset's report its subdirectory named after the
    dataset (``reports/fashion/``); a preview is a report's ``quick/``."""
    root = checkout()
    return root / "reports" if root is not None else Path.cwd() / "reports"


def studies_dir(kind: str) -> Path:
    """``notebooks/`` or ``params/`` (``kind``): the checkout's if there is a checkout,
    else the copy shipped in the package (``npcnn/notebooks``, ...)."""
    root = checkout()
    return (root if root is not None else PACKAGE) / kind


def studies_file(kind: str, name: str) -> Path:
    """``notebooks/<name>`` or ``params/<name>`` (``kind``): the checkout's copy if there
    is a checkout, else the one shipped in the package (``npcnn/notebooks``, ...)."""
    return studies_dir(kind) / name


__all__ = ["checkout", "user_cache", "data_dir", "data_from_env", "runs_root",
           "reports_dir", "studies_dir", "studies_file"]
