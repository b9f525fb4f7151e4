"""HTML text to an lxml.html tree, on a parser that does not call back into Python per element.

lxml.html's own parser picks each element's Python class through a lookup written in Python,
called every time lxml hands out an element it has not handed out before; extraction touches
thousands of elements per page. The C ``ElementDefaultClassLookup`` gives every element
``HtmlElement``, which is all trafilatura, htmldate and we use (the form-specific subclasses
lxml.html would give <form>, <input>... are never needed here). Copies of a tree keep its
parser, so they keep the cheap lookup too.

The parser options and the repairs before parsing are what libxml2 needs to read real pages
the way ``trafilatura.load_html`` reads them; tests/unit/extraction/test_htmlparse.py checks
the trees are equal to those of an unpatched trafilatura run in a separate process.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction

_PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                               remove_comments=True, remove_pis=True)
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))

# Characters XML forbids, which make libxml2 cut the text short: C0 controls but tab, LF
# and CR, and the noncharacters U+FFFE/U+FFFF. Looked for in the UTF-8 bytes first (a C0
# byte there is always that character, and bytes.translate scans in C), deleted only when there.
_C0_BYTES = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))
_INVALID = dict.fromkeys([*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0xfffe, 0xffff])
# libxml2 misreads a doctype that holds a "/" (an XHTML DTD URL) on the first line; the
# declaration tells the parser nothing it uses, so it goes.
_SLASHED_DOCTYPE = re.compile(r"<\s?!\s?doctype[^>]*/[^<>]*>", re.I)
# ``<html lang="en"/>``: an empty root would leave the page outside it
_SELF_CLOSED_ROOT = re.compile(r"(<html\b[^<>]*?)\s*/>", re.I)
_HEAD_LINES, _HEAD_CHARS = 4, 4096
# A numeric reference to a character XML cannot hold ("&#27;", "&#x8", "&#65535;"): libxml2 puts the character
# in the tree, and lxml then refuses any text holding it, so trafilatura's runs gave nothing and the page was
# lost as too short. Deleted before parsing, as those characters are when written raw (&#0; libxml2 reads as U+FFFD).
_BAD_CHAR_REF = re.compile(r"&#(?:0*(?:[1-8]|1[124-9]|2[0-9]|3[01]|6553[45])(?![0-9])"
                           r"|[xX]0*(?:[1-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF])(?![0-9a-fA-F]));?")


def _has_invalid_chars(html: str) -> bool:
    if "\ufffe" in html or "\uffff" in html:
        return True
    data = html.encode("utf-8", "surrogatepass")
    return len(data.translate(None, _C0_BYTES)) != len(data)


def _repaired(html: str) -> str:
    if _has_invalid_chars(html):
        html = html.translate(_INVALID)
    if _BAD_CHAR_REF.search(html) is not None:  # seldom: the copy sub() makes is the cost
        html = _BAD_CHAR_REF.sub("", html)
    first, newline, rest = html.partition("\n")
    if "doctype" in first[:50].lower():
        html = _SLASHED_DOCTYPE.sub("", first, count=1) + newline + rest
    for line in html[:_HEAD_CHARS].splitlines()[:_HEAD_LINES]:
        if "<html" in line and line.endswith("/>"):
            return _SELF_CLOSED_ROOT.sub(r"\1>", html, count=1)
    return html


def _parse(source: str | bytes) -> HtmlElement | None:
    try:
        return lxml.html.fromstring(source, parser=_PARSER)
    except (ValueError, etree.LxmlError):
        # ValueError: a str that declares its encoding, which libxml2 only takes as bytes
        return None


def load_html(html: str) -> HtmlElement | None:
    """The parsed page, or None when ``html`` is not an HTML document."""
    beginning = html[:50].lower()
    html = _repaired(html)
    tree = _parse(html)
    if tree is None or len(tree) < 1:
        tree = _parse(html.encode("utf8", "surrogatepass"))
    # without an <html> or doctype near the start, a one-block tree is a fragment or not HTML
    if tree is not None and "html" not in beginning and len(tree) < 2:
        return None
    return tree
