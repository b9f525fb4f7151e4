"""Author rules chosen because they explain misses on many sites at once (issue 16, item 4),
each on a short page written for the test."""

from __future__ import annotations

from crawler.extraction.authors import authors
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page

TEXT = "<p>The harbour authority presented its new ferry timetable to the council on Monday.</p>"


def _page(body: str, head: str = "", url: str = "https://news.example.org/2024/05/story") -> Page:
    return Page(load_html(f"<html><head>{head}</head><body>{body}</body></html>"), url)


def test_a_meta_author_the_page_never_shows_yields_to_the_visible_byline():
    head = '<meta name="author" content="Webredaktion Hafenblatt">'
    body = f"<article><h1>Neuer Fahrplan</h1><p>Von Cara Lind</p>{TEXT}</article>"
    assert authors(_page(body, head)) == ["Cara Lind"]


def test_a_meta_author_the_page_shows_keeps_its_precedence():
    head = '<meta name="author" content="Mara Lindqvist">'
    body = f"<article><h1>New timetable</h1><p>By Cara Lind</p>{TEXT}<p>Mara Lindqvist reported.</p></article>"
    assert authors(_page(body, head)) == ["Mara Lindqvist"]


def test_a_hidden_meta_author_stays_when_the_page_names_nobody():
    head = '<meta name="author" content="Mara Lindqvist">'
    assert authors(_page(f"<article><h1>New timetable</h1>{TEXT}</article>", head)) == ["Mara Lindqvist"]


def test_a_hidden_meta_author_does_not_win_over_the_hidden_jsonld_one():
    # both sources name someone the reader never sees: the visible byline decides
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "author": {"name": "Uploader Account"}}'
            '</script><meta name="author" content="Uploader Account">')
    body = f"<article><h1>New timetable</h1><p>Text: Cara Lind</p>{TEXT}</article>"
    assert authors(_page(body, head)) == ["Cara Lind"]


def test_a_name_only_in_a_script_is_not_shown():
    head = '<meta name="author" content="Mara Lindqvist">'
    body = (f'<article><h1>New timetable</h1><p>Von Cara Lind</p>{TEXT}</article>'
            '<script>var author = "Mara Lindqvist";</script>')
    assert authors(_page(body, head)) == ["Cara Lind"]
