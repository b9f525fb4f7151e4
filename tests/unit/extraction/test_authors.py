from __future__ import annotations

import pytest

from crawler.extraction import extract
from crawler.extraction.authors import clean_names, from_agency_credit

BODY = "".join(f"<p>Paragraph {i} of a reasonably long wire story about a summit between leaders.</p>" for i in range(10))


@pytest.mark.parametrize("raw, names", [
    (["By Jane Doe and John Smith"], ["Jane Doe", "John Smith"]),
    (["Von Anna Müller, Berlin"], ["Anna Müller", "Berlin"]),
    (["Jane Doe | Updated 3 hours ago"], ["Jane Doe"]),
    (["https://www.facebook.com/janedoe"], []),
    (["View all posts by Daniel Lemire"], ["Daniel Lemire"]),
    (["Support Team"], ["Support Team"]),
    (["Perry Bacon Jr."], ["Perry Bacon Jr"]),
    (["Jane  Doe", "jane doe"], ["Jane Doe"]),
    (["12.03.2020 14:00"], []),
])
def test_clean_names(raw, names):
    assert clean_names(raw) == names


@pytest.mark.parametrize("line, agencies", [
    ("mm/rc (AFP, AP, Reuters)", ["AFP", "AP", "Reuters"]),
    ("jsi/sms (dpa, Reuters)", ["dpa", "Reuters"]),
    ("(AFP)", ["AFP"]),
    ("Reuters says the talks failed.", []),
])
def test_agency_credit(line, agencies):
    assert from_agency_credit(line) == agencies


def test_agency_byline_page():
    html = (f"<html><head><title>Summit ends</title></head><body><article><h1>Summit ends</h1>{BODY}"
            "<p>dj/jsi (dpa, AFP)</p></article></body></html>")
    a = extract(html, "https://www.dw.com/en/summit-ends/a-1")
    assert a.authors == ["dpa", "AFP"]
    assert "dj/jsi" not in a.text


def test_named_author_beats_agency_credit():
    html = ('<html><head><title>Summit ends</title><meta name="author" content="Jane Doe"></head><body>'
            f"<article><h1>Summit ends</h1>{BODY}<p>(AFP, Reuters)</p></article></body></html>")
    a = extract(html, "https://ex.com/summit")
    assert a.authors == ["Jane Doe"]
    assert "(AFP, Reuters)" not in a.text
