"""`mediawatch extract` reads a simple page's article with our own precision run (reader.py)."""

from __future__ import annotations

from tests.unit.extraction._data import traf_page


def test_extract_cli_keeps_question_headings_that_trafilatura_drops(project):
    # A real page (impulse.de) whose article is one element's paragraphs and question headings:
    # trafilatura's precision run drops the headings, the reader's walk keeps them
    html, url, truth = traf_page("impulse.de.eltern.html")
    project.write({})
    flat = " ".join(project.extract(html, url)["text"].split())
    assert "Wie viele Tage im Jahr dürfen Mitarbeiter" in flat
    assert "Gibt es dabei eine Altersgrenze für die Kinder?" in flat
    assert [w for w in truth["with"] if " ".join(w.split()) in flat] == truth["with"]
