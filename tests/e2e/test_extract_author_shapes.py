"""`mediawatch extract FILE` on pages written for the test: an author given by a JSON-LD @id
reference, a name after a "By" label element, the day a page without date markup labels
as its publication's, and the name and day printed beside the headline where the metadata
names someone the page never shows."""

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


def test_cli_prefers_the_date_line_beside_the_headline_over_a_name_the_page_never_shows(project):
    # the meta author is the CMS account that uploaded the story; the page prints its byline and
    # day only in the line beside the headline, and a later day lower down
    html = ('<html><head><title>Neuer Fahrplan</title><meta name="author" content="Webredaktion Hafenblatt">'
            '</head><body><header><h1><a href="/"><img src="/logo.png" alt=""></a></h1></header><article>'
            '<h1>Neuer Fahrplan</h1><p class="text-muted">11.12.2019 - Cara Lind</p>'
            f'{PARAS}<p>Die nächste Sitzung ist am 14. Januar 2020.</p></article></body></html>')
    article = _extract(project, html, "https://hafen.example.de/fahrplan")
    assert article["authors"] == ["Cara Lind"]
    assert article["published_at"][:10] == "2019-12-11"
