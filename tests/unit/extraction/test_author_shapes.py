"""Author shapes that many sites share, each on a short page written for the test: JSON-LD
references into the page's graph, social handles beside a name, publisher names written a
little differently from the site's name, label elements followed by the name."""

from __future__ import annotations

import json

from crawler.extraction.authors import authors, clean_names, from_jsonld
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page


def _page(body: str, head: str = "", url: str = "https://news.example.org/2024/05/story") -> Page:
    return Page(load_html(f"<html><head>{head}</head><body>{body}</body></html>"), url)


def _jsonld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_a_jsonld_author_given_by_reference_is_read_from_the_graph():
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "Article", "headline": "Rates rise", "datePublished": "2024-05-02",
         "author": {"@id": "https://news.example.org/#/schema/person/ab12"}},
        {"@type": "Person", "@id": "https://news.example.org/#/schema/person/ab12", "name": "Mara Lindqvist"},
        {"@type": "Organization", "@id": "https://news.example.org/#org", "name": "Example News"},
    ]}
    assert from_jsonld(_page("<p>x</p>", _jsonld(graph))) == ["Mara Lindqvist"]


def test_a_reference_to_nothing_named_gives_no_author():
    graph = {"@graph": [{"@type": "NewsArticle", "headline": "h", "author": {"@id": "#nobody"}},
                        {"@type": "Person", "@id": "#somebody", "name": "Other Person"}]}
    assert from_jsonld(_page("<p>x</p>", _jsonld(graph))) == []


def test_a_social_handle_beside_the_name_is_dropped_but_an_address_is_no_name():
    assert clean_names(["Tomás Ferreira @tferreira"]) == ["Tomás Ferreira"]
    assert clean_names(["Tomás Ferreira @tferreira and Ana Ruiz @anaruiz"]) == ["Tomás Ferreira", "Ana Ruiz"]
    assert clean_names(["desk@news.example.org"]) == []
