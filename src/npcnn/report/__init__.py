"""The report: ``studies`` (what each page runs and trains), ``execute`` (papermill, and
when a page need not run again), ``render`` (pages, figures, the index), ``build`` (the
``npcnn report`` command that puts them together). Templates in ``templates/``."""

from npcnn.report.build import build_report, main

__all__ = ["build_report", "main"]
