"""HTML text to an lxml.html tree: trafilatura's ``load_html`` for a str, on a cheaper parser.

lxml.html's parser picks each element's Python class through a lookup written in Python
(``HtmlElementClassLookup.lookup``), called every time lxml hands out an element it has not
handed out before: trafilatura's passes touch thousands of elements per page, and that
callback cost ~1.3 ms of a ~16 ms page on aeb-dev. The C ``ElementDefaultClassLookup`` gives
every element ``HtmlElement`` instead, which is all trafilatura, htmldate and we use (the
form-specific subclasses lxml.html would give <form>, <input>... are never needed here).
Copies of a tree keep its parser, so they keep the cheap lookup too.

Otherwise this parses as ``trafilatura.utils.load_html`` does (same parser options, same
repairs and fallbacks); tests/unit/extraction/test_htmlparse.py checks the trees are equal.
"""

from __future__ import annotations

import lxml.html
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura.utils import repair_faulty_html

_PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                               remove_comments=True, remove_pis=True)
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))


# What trafilatura's repair deletes everywhere: C0 controls but tab/LF/CR, and U+FFFE/U+FFFF.
# The controls are looked for in the UTF-8 bytes, where a C0 byte is always that character and
# bytes.translate scans ~3x faster than the repair's regex does over the str (~0.5 ms on a
# 160 kB page); the two noncharacters by str.find, which is a memchr.
_C0_BYTES = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))
# trafilatura's other repairs read only the first line and the lines within its first 4096 chars
_REPAIR_WINDOW = 4096


def _has_invalid_xml_chars(html: str) -> bool:
    if "\ufffe" in html or "\uffff" in html:
        return True
    data = html.encode("utf-8", "surrogatepass")
    return len(data.translate(None, _C0_BYTES)) != len(data)


def _repair(html: str, beginning: str) -> str:
    """``repair_faulty_html(html, beginning)``, without its full-text regex pass when that pass
    has nothing to delete: then only the head needs repairing, cut at a line end (its line
    repairs never reach across one) past the window they read."""
    if _has_invalid_xml_chars(html):
        return repair_faulty_html(html, beginning)
    cut = html.find("\n", _REPAIR_WINDOW) + 1 or len(html)
    return repair_faulty_html(html[:cut], beginning) + html[cut:]


def _parse(source: str | bytes) -> HtmlElement | None:
    try:
        return lxml.html.fromstring(source, parser=_PARSER)
    except (ValueError, etree.LxmlError):
        # ValueError: a str that declares its encoding, which libxml2 only takes as bytes
        return None


def load_html(html: str) -> HtmlElement | None:
    """The parsed page, or None when ``html`` is not an HTML document."""
    beginning = html[:50].lower()
    html = _repair(html, beginning)
    tree = _parse(html)
    if tree is None or len(tree) < 1:
        tree = _parse(html.encode("utf8", "surrogatepass"))
    # without an <html> or doctype near the start, a one-block tree is a fragment or not HTML
    if tree is not None and "html" not in beginning and len(tree) < 2:
        return None
    return tree
