"""Our parse must give the tree trafilatura's load_html gives, on a parser without the Python lookup."""

from __future__ import annotations

import json
from copy import copy

import pytest
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html as trafilatura_load_html
from trafilatura.utils import repair_faulty_html

from crawler.extraction import htmlparse

from ._data import FIXTURES, SHARED, aeb_page

ODD = {
    "xml-declaration": '<?xml version="1.0" encoding="utf-8"?><html><body><p>Text</p></body></html>',
    "doctype-with-slash": '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/x.dtd">\n'
                          "<html><body><p>Text</p></body></html>",
    "self-closing-html": "<!DOCTYPE html>\n<html lang='en'/>\n<body><p>Text</p></body>",
    "control-chars": "<html><body><p>Te\x00xt\x1b here\ufffe</p></body></html>",
    "fragment": "<p>just a paragraph</p>",
    "no-html-two-blocks": "<div>one</div><div>two</div>",
    "long-first-line": "<!DOCTYPE html><html><body>" + "<p>word</p>" * 1000 + "\n</body></html>",
}


def _sources() -> list[str]:
    sources = list(ODD.values()) + [p.read_text("utf-8") for p in sorted((FIXTURES / "pages").glob("*.html"))]
    path = SHARED / "eval" / "aeb-dev" / "ground-truth.json"
    if path.exists():
        urls = [item["url"] for item in json.loads(path.read_text("utf-8")).values()][:20]
        sources += [aeb_page(u)[0] for u in urls]
    return sources


def _dump(tree: HtmlElement | None) -> bytes | None:
    return None if tree is None else etree.tostring(tree)


@pytest.mark.timeout(60)
def test_same_tree_as_trafilatura_load_html():
    for source in _sources():
        assert _dump(htmlparse.load_html(source)) == _dump(trafilatura_load_html(source)), source[:80]


def test_every_element_is_an_html_element_and_copies_stay_cheap():
    tree = htmlparse.load_html("<html><body><form><input name='q'></form><p>Text</p></body></html>")
    assert all(isinstance(el, HtmlElement) for el in tree.iter())
    assert type(copy(tree).find(".//input")) is HtmlElement  # not lxml.html's InputElement
    assert tree.find(".//p").text_content() == "Text"


@pytest.mark.parametrize("name", sorted(ODD))
def test_repair_equals_trafilatura_repair(name):
    source = ODD[name]
    assert htmlparse._repair(source, source[:50].lower()) == repair_faulty_html(source, source[:50].lower())


def test_repair_of_a_self_closing_html_tag_near_the_window_edge():
    # the line holding <html .../> starts inside the first 4096 chars and ends past them
    source = "<!DOCTYPE html>\n" + "x" * 4070 + "\n<html lang='en' data-pad='" + "y" * 40 + "'/>\n<body>b</body>"
    assert htmlparse._repair(source, source[:50].lower()) == repair_faulty_html(source, source[:50].lower())
