"""`mediawatch extract FILE` on pages written for the test: an author given by a JSON-LD @id
reference, a name after a "By" label element, and the day a page without date markup labels
as its publication's."""

from __future__ import annotations

import json

PARAS = "".join(f"<p>Paragraph {i}: the harbour authority presented its new ferry timetable to the council, "
                f"which asked for more evening crossings and cheaper fares for commuters.</p>" for i in range(8))


def _extract(project, html: str, url: str) -> dict:
    project.write({})
    path = project.root / "page.html"
    path.write_bytes(html.encode("utf-8"))
    result = project.run("extract", str(path), "--url", url, "--json", "--content-type", "text/html; charset=utf-8")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_cli_reads_an_author_from_the_jsonld_graph(project):
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "NewsArticle", "headline": "New ferry timetable", "datePublished": "2024-05-02T09:00:00+02:00",
         "author": {"@id": "https://harbour.example.org/#/schema/person/1"}},
        {"@type": "Person", "@id": "https://harbour.example.org/#/schema/person/1", "name": "Mara Lindqvist"}]}
    html = (f'<html><head><title>New ferry timetable</title><script type="application/ld+json">{json.dumps(graph)}'
            f'</script></head><body><article><h1>New ferry timetable</h1>{PARAS}</article></body></html>')
    assert _extract(project, html, "https://harbour.example.org/2024/05/ferries")["authors"] == ["Mara Lindqvist"]


def test_cli_reads_the_name_after_a_by_label_and_the_labelled_publication_day(project):
    html = ('<html><head><title>Neuer Fahrplan</title></head><body><article><h1>Neuer Fahrplan</h1>'
            '<div class="meta"><span>| By </span><span>Cara Lind</span></div>'
            f'{PARAS}<p class="foot">Letzte Änderung: 31.10.2023<br>Erschienen am: 01.11.2023</p>'
            '</article></body></html>')
    article = _extract(project, html, "https://hafen.example.de/fahrplan")
    assert article["authors"] == ["Cara Lind"]
    assert article["published_at"][:10] == "2023-11-01"
