"""Byline clean-up on real pages: the name element inside a longer byline, user names standing
in for a person, degrees, quotes and "erstellt von" (authors.from_byline, authors.authors)."""

from __future__ import annotations

import pytest

from crawler.extraction import extract_fields
from crawler.extraction.names import clean_names
from tests.unit.extraction._data import traf_page


@pytest.mark.parametrize("file_name, authors", [
    # "By Adam Aaronson PhillyVoice Staff", then the name element "Adam Aaronson"
    ("phillyvoice.com-Sixers.html", ["Adam Aaronson"]),
    # "Von Tomas Spahn Fr, 18. Oktober 2019", then "Von Tomas Spahn"
    ("d32ad974a4b04657bb6e4d91852bd52d.html", ["Tomas Spahn"]),
    # "Steven Salentin Mitglied der Tonight News-Redaktion", then "Steven Salentin"
    ("tonight.de-Arschloch.html", ["Steven Salentin"]),
])
def test_the_name_element_inside_a_longer_byline_wins(file_name, authors):
    html, url, truth = traf_page(file_name)
    assert {a.casefold() for a in authors} == {truth["author"].strip().casefold()}
    assert extract_fields(html, url)["authors"] == authors


@pytest.mark.parametrize("file_name, author", [
    ("libero.pe-ronaldo.html", "Edilson La Rosa"),  # JSON-LD author "edilson.la.rosa"
    ("baumeister.de.sportzentrum.html", "Arian Schlichenmayer"),  # JSON-LD "arianschlichenmayer"
])
def test_a_user_name_yields_to_the_same_person_spelt_out(file_name, author):
    html, url, truth = traf_page(file_name)
    assert truth["author"] == author
    assert extract_fields(html, url)["authors"] == [author]


def test_a_user_name_stays_when_no_later_name_spells_it():
    # "lupa" signs a forum post; a later byline-like "Gesponserte Inhalte" is not lupa
    html, url, truth = traf_page("wolfsrebellen-netz.forumieren.com.regeln.html")
    assert truth["author"] == "lupa"
    assert extract_fields(html, url)["authors"] == ["lupa"]


@pytest.mark.parametrize("raw, names", [
    (["Grant Tinsley, PhD"], ["Grant Tinsley"]),
    (["'Luana Patriolino", "Raphael Felice'"], ["Luana Patriolino", "Raphael Felice"]),
    (["erstellt von Dominique —"], ["Dominique"]),
    (["Dr. Tim Loppe"], ["Dr. Tim Loppe"]),  # a title before the name stays
])
def test_degrees_quotes_and_prefixes_go(raw, names):
    assert clean_names(raw) == names
