"""The report: ``studies`` (each study from its YAML: what its page runs and trains),
``execute`` (papermill, and when a page need not run again), ``render`` (pages, figures,
the original report's digest), ``index`` (``report.json`` and ``index.html``), ``compare`` (the
datasets side by side), ``build`` (the ``npcnn report`` command that puts them
together). Templates in ``templates/``."""

from npcnn.report.build import build_report, main

__all__ = ["build_report", "main"]
