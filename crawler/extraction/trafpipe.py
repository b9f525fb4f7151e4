"""trafilatura's precision and recall runs over one page, through its public ``bare_extraction``,
and its slow run (``rescue_text``) for the pages where both fast runs keep only a fragment.

All runs start from one copy of the page that our own passes have already thinned
(``prepare``); the recall run may be handed only a part of it (``span``). The thinning is in two
steps:

- ``thin``: elements that never hold article text (scripts, styles, embedded media, form
  controls, navigation, page footers, asides) are dropped. trafilatura discards them too, but only
  after copying the whole tree and walking it with its raw-tree XPath prunes, so every element
  removed here is one that its copies and walks skip. The page's ``application/ld+json`` scripts
  stay: trafilatura reads them (a thread-forum page keeps its comment containers as posts).
- ``furniture.drop_furniture``: blocks whose class, id or role name them as share bars, menus,
  related links, ads and the like, while they hold little of the page's text. This step is ours
  and changes what trafilatura returns on some pages (it drops junk trafilatura kept, and the
  recall and rescue runs are asked for less often); it is judged by the F1 folds
  (``bench.folds``), not by equality.

Nothing of trafilatura is changed or reached into: what it does with the thinned tree is its
own public behaviour. tests/unit/extraction/test_trafpipe.py checks, against an unpatched
trafilatura run in a separate process on the raw HTML, that ``thin`` leaves the texts the same.
One difference is deliberate: when even the recall run finds next to nothing, trafilatura falls
back to a dump of the whole page's text, which here no longer holds button labels, form
options or script text. The slow run's readability/justext comparison sees the thinned page
too: of 8 traf-dev pages looked at where trafilatura kept text we lost, on 2 it finds more on
the raw page, and more junk with it (3 and 1 "without" snippets). Left so.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass

import trafilatura
from lxml.etree import XPath
from lxml.html import Element, HtmlElement

from crawler.extraction.furniture import drop_furniture

# Elements that never hold article prose: widgets, embedded media, form controls, page
# furniture. Dropped only while most of the page's paragraph text lies outside them: on a page
# whose article sits in one of them (inside <noscript>, posts in an <aside>) trafilatura's
# recall run falls back on them.
_NO_PROSE = ("noscript", "template", "svg", "canvas", "iframe", "object", "embed", "video", "audio",
             "button", "select", "textarea", "input", "link", "meta", "title",
             "nav", "aside", "footer", "menu")
_JSONLD = "application/ld+json"


@dataclass(frozen=True)
class RawPage:
    """The page both runs start from: a thinned copy; the caller's tree is never modified."""

    tree: HtmlElement
    url: str


def _drop(elements: list[HtmlElement]) -> None:
    for element in elements:
        element.drop_tree()  # its tail is the parent's text and stays


def thin(tree: HtmlElement) -> HtmlElement:
    """A copy of ``tree`` without the elements that never carry article text."""
    thinned = copy(tree)
    # script and style bodies are raw text to the parser: no paragraph can be inside
    _drop([s for s in thinned.iter("script") if (s.get("type") or "").strip().casefold() != _JSONLD])
    _drop(list(thinned.iter("style")))
    no_prose = list(thinned.iter(*_NO_PROSE))
    if no_prose:
        inside = {p for element in no_prose for p in element.iter("p")}
        chars = [0, 0]  # paragraph text outside, inside
        for p in thinned.iter("p"):
            chars[p in inside] += len(p.text_content().strip())
        if chars[0] > chars[1]:
            _drop(no_prose)
    return thinned


def prepare(tree: HtmlElement, url: str = "") -> RawPage:
    thinned = thin(tree)
    drop_furniture(thinned)
    return RawPage(thinned, url)


# A text node holding a run of words; evaluated in C over the page, not walked in Python.
_TEXT_HOLDING = XPath(".//text()[contains(., $words)]")
_SPAN_KEY_WORDS = 3


def _holder(body: HtmlElement, line: str, *, last: bool) -> HtmlElement | None:
    """The element whose own text holds the line's first (or ``last``) words, first (or last) in
    page order; None when no one text node holds them (the line was joined across elements)."""
    words = line.split()
    found = _TEXT_HOLDING(body, words=" ".join(words[-_SPAN_KEY_WORDS:] if last else words[:_SPAN_KEY_WORDS]))
    if not found:
        return None
    text = found[-1 if last else 0]
    # a tail belongs to the element before it, and is held by that element's parent
    return text.getparent().getparent() if text.is_tail else text.getparent()


def span(raw: RawPage, first: str, last: str) -> RawPage | None:
    """A page holding only the smallest element of ``raw`` that holds both lines (a copy, in a
    ``<body>`` of its own), or None when that element is the whole body or a line is not found."""
    body = raw.tree.find("body")
    if body is None:
        return None
    start, end = _holder(body, first, last=False), _holder(body, last, last=True)
    if start is None or end is None:
        return None
    around_start = {start, *start.iterancestors()}
    root = next(el for el in (end, *end.iterancestors()) if el in around_start)  # body at the latest
    if root is body:
        return None
    part = copy(root)
    part.tail = None  # the text after the element is not in it
    page, page_body = Element("html"), Element("body")
    page.append(page_body)
    page_body.append(part)
    return RawPage(page, raw.url)


def _text(raw: RawPage, mode: str, *, fast: bool = True) -> str:
    # bare_extraction copies a tree it is handed, so ``raw.tree`` serves every run
    doc = trafilatura.bare_extraction(
        raw.tree,
        url=raw.url or None,
        fast=fast,
        favor_precision=mode == "precision",
        favor_recall=mode == "recall",
        include_comments=False,
        with_metadata=False,
    )
    return (doc.text or "") if doc is not None else ""


def precision_text(raw: RawPage) -> str:
    """``bare_extraction(favor_precision=True)``'s text."""
    return _text(raw, "precision")


def recall_text(raw: RawPage) -> str:
    """``bare_extraction(favor_recall=True)``'s text."""
    return _text(raw, "recall")


def rescue_text(raw: RawPage) -> str:
    """``bare_extraction``'s default run without ``fast``: trafilatura's own extraction compared
    with its readability and justext fallbacks, keeping what it judges the better."""
    return _text(raw, "default", fast=False)
