"""Our parse must give the tree trafilatura's load_html gives (an unpatched trafilatura in a
separate process), on a parser without the Python class lookup."""

from __future__ import annotations

import json
from copy import copy

import pytest
from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction import htmlparse

from ._data import FIXTURES, SHARED, aeb_page
from ._reference import reference

ODD = {
    "xml-declaration": '<?xml version="1.0" encoding="utf-8"?><html><body><p>Text</p></body></html>',
    "doctype-with-slash": '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/x.dtd">\n'
                          "<html><body><p>Text</p></body></html>",
    "self-closing-html": "<!DOCTYPE html>\n<html lang='en'/>\n<body><p>Text</p></body>",
    "control-chars": "<html><body><p>Te\x00xt\x1b here\ufffe</p></body></html>",
    "fragment": "<p>just a paragraph</p>",
    "no-html-two-blocks": "<div>one</div><div>two</div>",
    "long-first-line": "<!DOCTYPE html><html><body>" + "<p>word</p>" * 1000 + "\n</body></html>",
    "self-closing-near-window-edge": "<!DOCTYPE html>\n" + "x" * 4070 + "\n<html lang='en' data-pad='"
                                     + "y" * 40 + "'/>\n<body>b</body>",
}


def _sources() -> list[str]:
    sources = list(ODD.values()) + [p.read_text("utf-8") for p in sorted((FIXTURES / "pages").glob("*.html"))]
    path = SHARED / "eval" / "aeb-dev" / "ground-truth.json"
    if path.exists():
        urls = [item["url"] for item in json.loads(path.read_text("utf-8")).values()][:20]
        sources += [aeb_page(u)[0] for u in urls]
    return sources


def _dump(tree: HtmlElement | None) -> str | None:
    return None if tree is None else etree.tostring(tree).decode("utf-8", "surrogateescape")


@pytest.mark.timeout(120)
def test_same_tree_as_trafilatura_load_html():
    sources = _sources()
    expected = reference([("load_html", source, "") for source in sources])
    for source, tree in zip(sources, expected, strict=True):
        assert _dump(htmlparse.load_html(source)) == tree, source[:80]


def test_every_element_is_an_html_element_and_copies_stay_cheap():
    tree = htmlparse.load_html("<html><body><form><input name='q'></form><p>Text</p></body></html>")
    assert all(isinstance(el, HtmlElement) for el in tree.iter())
    assert type(copy(tree).find(".//input")) is HtmlElement  # not lxml.html's InputElement
    assert tree.find(".//p").text_content() == "Text"


def test_repairs():
    assert htmlparse.load_html(ODD["control-chars"]).find(".//p").text == "Text here"
    tree = htmlparse.load_html(ODD["self-closing-html"])
    assert tree.get("lang") == "en" and tree.find(".//p").text == "Text"
    assert htmlparse.load_html(ODD["fragment"]) is None
