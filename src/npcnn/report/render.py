"""Rendering the report's pages: each executed notebook to a standalone HTML page, a
small figure per study, and the original report's digest (the index is
``npcnn.report.index``).

Pages work offline: nbconvert's JupyterLab template without any script (no require.js,
MathJax or Mermaid from a CDN), CSS and images inline. The bar on every page and the
digest page come from Jinja2 templates in ``templates/`` with autoescape on.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from npcnn.report.execute import log_path, notebook_path
from npcnn.report.studies import Study
from npcnn.safeio import atomic_write
from npcnn.sweep.tables import MIME

TEMPLATES = Path(__file__).parent / "templates"
DIGEST = Path(__file__).parent / "ORIGINAL.md"
DIGEST_PAGE = "original.html"


def jinja() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True)


def jinja_text() -> Any:
    """The same templates for plain text (``FINDINGS.md``): no HTML escaping."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                              trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def css() -> Any:
    """The report's stylesheet, marked safe: it is ours, not data to escape."""
    from markupsafe import Markup

    return Markup((TEMPLATES / "report.css").read_text())


def write(path: Path, content: str | bytes) -> None:
    """Replace ``path`` atomically (a report killed mid-write keeps the previous file),
    readable by others under the usual umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, content.encode() if isinstance(content, str) else content)


def payloads(out: Path, study: Study) -> list[dict]:
    """The MIME payloads (summary tables, verdicts, speed) of the executed notebook."""
    import nbformat

    path = notebook_path(out, study)
    if not path.exists():
        return []
    nb = nbformat.read(path, as_version=4)
    return [o["data"][MIME] for c in nb.cells for o in c.get("outputs", [])
            if MIME in o.get("data", {})]


# -- pages ----------------------------------------------------------------------------


def page(study: Study, out: Path, status: str, error: str, prev: Study | None,
         next_: Study | None, dataset_title: str = "") -> None:
    """``out/<name>.html`` from the executed (or partly executed) notebook, inputs hidden,
    with the bar to the index and the neighbouring pages; the log when papermill wrote
    no notebook at all."""
    import nbformat
    from markupsafe import Markup
    from nbconvert import HTMLExporter

    env = jinja()
    failed = status == "failed"
    bar = env.get_template("bar.html.j2").render(
        name=study.name, prev=prev, next=next_, failed=failed, error=error,
        dataset=dataset_title)
    path = notebook_path(out, study)
    if not path.exists():
        log = log_path(out, study)
        body = Markup("<h1>{}: failed</h1><pre>{}</pre>").format(
            study.title, log.read_text(errors="replace") if log.exists() else error)
        write(out / f"{study.name}.html", env.get_template("doc.html.j2").render(
            title=study.title, css=css(), body=Markup(bar) + body))
        return
    nb = nbformat.read(path, as_version=4)
    nb.metadata["title"] = study.title + (f" ({dataset_title})" if dataset_title else "")
    exporter = HTMLExporter(template_name="npcnn_page", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb, resources={"npcnn_bar": bar, "npcnn_css": css()})
    write(out / f"{study.name}.html", html)


def digest_page(out: Path) -> None:
    """``out/original.html``: the original report's digest that the index cites."""
    from markupsafe import Markup
    from nbconvert.filters import markdown2html_mistune

    body = Markup(markdown2html_mistune(DIGEST.read_text()))
    write(out / DIGEST_PAGE, jinja().get_template("doc.html.j2").render(
        title="The original report, digested", css=css(), body=body))


def figure(out: Path, study: Study, results: Sequence[Any]) -> None:
    """``out/figures/<name>.png``: the study's accuracy curves, small, for the index."""
    from npcnn import plots

    if results:
        write(out / "figures" / f"{study.name}.png", plots.thumbnail(results).png(dpi=100))


def figure_b64(out: Path, name: str) -> str:
    """The study's small figure, base64 for an inline image ("" if there is none)."""
    path = out / "figures" / f"{name}.png"
    return base64.b64encode(path.read_bytes()).decode() if path.exists() else ""


__all__ = ["TEMPLATES", "DIGEST_PAGE", "jinja", "jinja_text", "css", "write", "payloads",
           "page", "digest_page", "figure", "figure_b64"]
