"""Author shapes that many sites share, each on a short page written for the test: JSON-LD
references into the page's graph, social handles beside a name, publisher names written a
little differently from the site's name, label elements followed by the name."""

from __future__ import annotations

import json

from crawler.extraction.authors import authors, from_jsonld
from crawler.extraction.names import clean_names
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


BODY = "".join(f"<p>Paragraph {i} of a long enough report about the harbour's new ferry timetable.</p>" for i in range(6))


def test_a_by_label_element_is_followed_by_the_name_in_the_next_element():
    page = _page(f'<article><h1>Ferries</h1><div class="meta"><span>more</span><span>| By </span>'
                 f'<span>Cara Lind</span> | <time>May 2, 2024</time></div>{BODY}</article>')
    assert authors(page) == ["Cara Lind"]


def test_an_author_label_is_followed_by_the_name_in_its_tail_or_a_link():
    page = _page(f'<article><p><strong>Autor:</strong> <a href="/profil/7">Klaus Brenner</a><br>'
                 f'<strong>Tags:</strong> <a href="/t/1">Fähre</a></p>{BODY}</article>')
    assert authors(page) == ["Klaus Brenner"]
    page = _page(f'<article><div><span>Datum:</span> 3.5.2024<br><span>Autor:</span> Fritz Imhauser<br>'
                 f'<span>Quelle:</span> Hafenblatt</div>{BODY}</article>')
    assert authors(page) == ["Fritz Imhauser"]


def test_a_by_label_followed_by_prose_gives_no_author():
    page = _page(f'<article><p><b>By</b> the time the ferry left, the harbour was empty.</p>{BODY}</article>')
    assert authors(page) == []


def test_a_byline_candidate_that_is_only_a_label_is_skipped():
    # class names that read as author markup, but the first ones hold labels, not names
    page = _page(f'<article><div class="article-author-block"><span class="author-label">Datum:</span> 3.5.2024 '
                 f'<span class="author-label">Autor:</span> Fritz Imhauser</div>{BODY}</article>')
    assert authors(page) == ["Fritz Imhauser"]


def test_the_publisher_written_with_more_words_yields_to_the_person():
    head = '<meta name="author" content="Die Hafenpost"><meta property="og:site_name" content="Hafenpost">'
    page = _page(f'<article><p>Von Jana Kiel</p>{BODY}</article>', head, url="https://www.hafenpost.de/a/1")
    assert authors(page) == ["Jana Kiel"]
    # our own splitting of "Jobs & Hire" does not hide the site's name
    head = '<meta name="author" content="Docks &amp; Cranes"><meta property="og:site_name" content="Docks &amp; Cranes">'
    page = _page(f'<article><div class="byline">By Omar Haddad</div>{BODY}</article>', head,
                 url="https://www.docksncranes.com/a/1")
    assert authors(page) == ["Omar Haddad"]


def test_a_short_site_name_inside_a_persons_name_does_not_make_them_the_publisher():
    head = '<meta name="author" content="Ada Zeitler"><meta property="og:site_name" content="Zeit">'
    page = _page(f'<article><p>Von Jana Kiel</p>{BODY}<div class="box">Ada Zeitler schreibt über Verkehr.</div></article>',
                 head, url="https://www.zeit.example/a/1")
    assert authors(page) == ["Ada Zeitler"]


def test_an_interview_credit_is_the_interviewers_name():
    assert clean_names(["Interview: Julia Lorenz"]) == ["Julia Lorenz"]


def test_a_final_initial_keeps_its_dot_and_a_sentence_dot_goes():
    assert clean_names(["Joe S.", "Anna K. Berg.", "By Lee Park."]) == ["Joe S.", "Anna K. Berg", "Lee Park"]
