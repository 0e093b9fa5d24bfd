"""The committed findings cannot drift from their numbers: ``docs/FINDINGS.md`` is
re-rendered from the ``report.json`` files committed beside it and must equal it byte for
byte; and a snapshot written from reports reads back to the same text."""

from __future__ import annotations

from pathlib import Path

from npcnn.report.findings import (
    FINDINGS_MD,
    read_snapshot,
    render_markdown,
    write_snapshot,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_committed_findings_rerender_from_their_json_byte_for_byte():
    reports = read_snapshot(DOCS)
    assert set(reports) == {"mnist", "fashion"}, "docs/findings/ holds both reports"
    committed = (DOCS / FINDINGS_MD).read_bytes()
    assert render_markdown(reports).encode() == committed, (
        "docs/FINDINGS.md differs from what its JSON renders: regenerate it with "
        "`npcnn report --snapshot docs`, never by hand")


def test_a_snapshot_reads_back_to_the_same_findings(tmp_path):
    reports = read_snapshot(DOCS)
    path = write_snapshot(reports, tmp_path)
    assert path.read_bytes() == (DOCS / FINDINGS_MD).read_bytes()
    assert read_snapshot(tmp_path) == reports
    # Every claim of the original has a row and one line per dataset.
    text = path.read_text()
    for n in range(1, 9):
        assert f"| {n}. " in text and f"**{n}. “" in text
    assert "seed's" not in text and "the seed" not in text
