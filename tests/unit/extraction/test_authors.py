from __future__ import annotations

import pytest

from crawler.extraction import extract
from crawler.extraction.authors import from_agency_credit
from crawler.extraction.names import clean_names

BODY = "".join(f"<p>Paragraph {i} of a reasonably long wire story about a summit between leaders.</p>" for i in range(10))


@pytest.mark.parametrize("raw, names", [
    (["By Jane Doe and John Smith"], ["Jane Doe", "John Smith"]),
    (["Von Anna Müller, Berlin"], ["Anna Müller", "Berlin"]),
    (["Jane Doe | Updated 3 hours ago"], ["Jane Doe"]),
    (["https://www.facebook.com/janedoe"], []),
    (["View all posts by Daniel Lemire"], ["Daniel Lemire"]),
    (["Support Team"], ["Support Team"]),
    (["Perry Bacon Jr."], ["Perry Bacon Jr."]),  # the dot of "Jr." is part of the spelling
    (["Perry Bacon."], ["Perry Bacon"]),
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
    "plain": ("<div class='byline'>By Jane Doe</div>", ["Jane Doe"]),
    "time-inside": ("<div class='author-name'>By<time>May 2</time>Jane Doe, <time>10:00</time>Berlin</div>",
                    ["Jane Doe", "Berlin"]),
    "in-comments": ("<section class='comments'><span class='author'>Troll 42</span></section>"
                    "<p class='author'>Jane Doe</p>", ["Jane Doe"]),
    "in-sidebar": ("<div class='sidebar'><a rel='author'>Other Writer</a></div><span class='byline'>Jane Doe</span>",
                   ["Jane Doe"]),
    "microdata-first": ("<div class='author-box'>Staff</div><span itemprop='author'>Jane Doe</span>", ["Jane Doe"]),
    "portrait-and-bio": ("<div class='author-bio'>Jane writes about summits.</div>"
                         "<img class='author-avatar' alt='x'><span class='author'>Jane Doe</span>", ["Jane Doe"]),
    "too-long": ("<div class='author'>" + "word " * 40 + "</div><span class='writer'>Jane Doe</span>", ["Jane Doe"]),
    "label-then-name": ("<div class='td-author-by'>Von</div><div class='td-author-name'>Patrick Czerny</div>",
                        ["Patrick Czerny"]),
    "page-classes-ignored": ("<span class='author vcard'>Jane Doe</span>", ["Jane Doe"]),
    "none": ("<p>Nobody signed this.</p>", []),
}


@pytest.mark.parametrize("name", sorted(BYLINES))
def test_byline(name):
    from crawler.extraction import parse
    from crawler.extraction.authors import from_byline
    from crawler.extraction.page import Page

    markup, names = BYLINES[name]
    body_class = " class='single-post comments-open has-sidebar'" if name == "page-classes-ignored" else ""
    tree = parse(f"<html><body{body_class}><article>{markup}{BODY}</article></body></html>")
    assert from_byline(Page(tree, "https://ex.com/a")) == names


def _names(value) -> set[str]:
    """The shared scorer's comparison: case-folded, whitespace-collapsed, ";"-separated names."""
    if isinstance(value, list):
        value = ";".join(value)
    return {" ".join(x.split()).lower() for x in (value or "").split(";") if x.strip()}


@pytest.mark.timeout(300)
def test_bylines_at_least_as_right_as_trafilatura_on_real_pages():
    """On the traf-dev pages whose author only a byline element gives (no JSON-LD or meta
    author), our names match the truth at least as often as an unpatched trafilatura's
    ``extract_metadata`` author does."""
    from crawler.extraction import parse
    from crawler.extraction.authors import from_byline, from_jsonld, from_meta
    from crawler.extraction.page import Page

    from ._data import _traf_truth, traf_page
    from ._reference import reference

    pages = []
    for name, item in _traf_truth().items():
        if not item.get("author"):
            continue
        html, url, _ = traf_page(name)
        page = Page(parse(html), url)
        if not from_jsonld(page) and not from_meta(page):
            pages.append((html, url, item["author"], from_byline(page)))
    assert len(pages) > 100
    theirs = reference([("author", html, url) for html, url, _, _ in pages])
    ours_right = sum(_names(truth) == _names(found) for _, _, truth, found in pages)
    theirs_right = sum(_names(truth) == _names(found) for (_, _, truth, _), found in zip(pages, theirs, strict=True))
    assert ours_right >= theirs_right > 0, (ours_right, theirs_right)
