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


BYLINES = {
    "plain": "<div class='byline'>By Jane Doe</div>",
    "time-inside": "<div class='author-name'>By<time>May 2</time>Jane Doe, <time>10:00</time>Berlin</div>",
    "in-comments": "<section class='comments'><span class='author'>Troll 42</span></section>"
                   "<p class='author'>Jane Doe</p>",
    "in-sidebar": "<div class='sidebar'><a rel='author'>Other Writer</a></div><span class='byline'>Jane Doe</span>",
    "discarded-byline": "<div class='meta-date author'>Yesterday</div><span itemprop='author'>Jane Doe</span>",
    "too-long": "<div class='author'>" + "word " * 40 + "</div><span class='writer'>Jane Doe</span>",
    "none": "<p>Nobody signed this.</p>",
}


@pytest.mark.parametrize("name", sorted(BYLINES))
def test_byline_finder_answers_as_trafilatura(name):
    from trafilatura.metadata import extract_author

    from crawler.extraction import parse
    from crawler.extraction.byline import find_byline

    tree = parse(f"<html><body><article>{BYLINES[name]}{BODY}</article></body></html>")
    assert find_byline(tree) == extract_author(tree)


@pytest.mark.timeout(120)
def test_byline_finder_answers_as_trafilatura_on_real_pages():
    import json

    from trafilatura.metadata import extract_author

    from crawler.extraction import parse
    from crawler.extraction.byline import find_byline

    from ._data import SHARED, aeb_page

    path = SHARED / "eval" / "aeb-dev" / "ground-truth.json"
    if not path.exists():
        pytest.skip("shared data not available")
    for item in list(json.loads(path.read_text("utf-8")).values())[:40]:
        tree = parse(aeb_page(item["url"])[0])
        assert find_byline(tree) == extract_author(tree), item["url"]
