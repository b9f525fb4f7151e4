"""Authors on real pages where the byline elements (byline.py) name nobody: visible author
markup, then a bare "by/von ..." line (authors.from_microdata, from_text_byline)."""

from __future__ import annotations

import pytest

from crawler.extraction import extract_fields
from crawler.extraction.authors import from_text_byline
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page
from tests.unit.extraction._data import traf_page


@pytest.mark.parametrize("file_name, author", [
    ("rosa-mag.de.womanking.html", "Celia Parbey"),  # <a itemprop="author">By Celia Parbey</a>
    ("7mind.de.grenzen.html", "Daniela Obers"),  # <p><i>von Daniela Obers</i></p>
    ("pferderevue.at-übung.html", "Pamela Sladky"),  # "Ein Artikel von Pamela Sladky | 27.01.2022 - 12:45"
])
def test_real_pages_without_a_byline_pattern_get_their_author(file_name, author):
    html, url, truth = traf_page(file_name)
    assert truth["author"] == author
    assert extract_fields(html, url)["authors"] == [author]


@pytest.mark.parametrize("line", [
    "By the river, the town held its breath",  # prose, not a name
    "von 12 bis 18 Uhr geöffnet",
    "Text: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore",
])
def test_lines_that_are_not_bylines_give_no_author(line):
    page = Page(load_html(f"<html><body><p>{line}</p></body></html>"), "https://ex.com/a")
    assert from_text_byline(page) == []


@pytest.mark.parametrize("file_name, author", [
    ("helmholtz-klima.de.kipppunkt.html", "Christian Mihatsch"),  # meta author: "Helmholtz Klima"
    ("interscenar.io.hoeren.html", "Gàbor Muniér"),  # meta author: "Interscenario"
])
def test_the_publisher_as_author_yields_to_a_named_person(file_name, author):
    html, url, truth = traf_page(file_name)
    assert truth["author"] == author
    assert extract_fields(html, url)["authors"] == [author]


@pytest.mark.parametrize("file_name, publisher", [
    ("nowgrenada.com-pm.html", "NOW Grenada"),  # the byline pattern finds a form label, "Name"
    ("de.happycoffee.org.sidamo.html", "Happy Coffee Deutschland"),  # ... and initials, "D E"
])
def test_the_publisher_stays_when_no_person_is_named(file_name, publisher):
    html, url, _ = traf_page(file_name)
    assert extract_fields(html, url)["authors"] == [publisher]
