"""`mediawatch extract` reads a simple page's article with our own precision run (reader.py)."""

from __future__ import annotations

import json

from tests.unit.extraction._data import traf_page


def test_extract_cli_keeps_question_headings_that_trafilatura_drops(project):
    # A real page (impulse.de) whose article is one element's paragraphs and question headings:
    # trafilatura's precision run drops the headings, the reader's walk keeps them
    html, url, truth = traf_page("impulse.de.eltern.html")
    project.write({})
    path = project.root / "page.html"
    path.write_text(html, encoding="utf-8")
    result = project.run("extract", str(path), "--url", url, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    flat = " ".join(json.loads(result.stdout)["text"].split())
    assert "Wie viele Tage im Jahr dürfen Mitarbeiter" in flat
    assert "Gibt es dabei eine Altersgrenze für die Kinder?" in flat
    assert [w for w in truth["with"] if " ".join(w.split()) in flat] == truth["with"]
