"""Short pieces: is a page whose extracted text is short a news brief, and what is its text?

A length cut alone cannot tell a 60-word brief from a stub, a paywall teaser or a section
page, and the body extractor sometimes keeps only part of a brief (a short article gives
its scoring too little text to tell prose from boilerplate). So the page decides: a brief
has ONE dominant block of prose (at least ``MIN_BRIEF_WORDS`` words, most of the page's
paragraph text, not one teaser among many), article markup (``og:type`` article, a
schema.org article type, an ``<article>`` element or ``itemprop=articleBody``) and a
publication date. Its text is then that block's paragraphs whenever they hold more than
the extractor kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml.html import HtmlElement

from crawler.extraction.normalize import clean_inline
from crawler.extraction.page import Page, jsonld_types

MIN_BRIEF_WORDS = 40
# The block must hold this share of the page's paragraph words: on a section page every
# teaser is its own block and none comes close.
DOMINANT_SHARE = 0.6
# A paragraph shorter than this (words) is a caption, a date line or a label, not prose.
MIN_PARAGRAPH_WORDS = 6
# Paragraphs here belong to the page's frame, never to its main content.
_FRAME = {"nav", "header", "footer", "aside", "form", "figcaption", "noscript", "template"}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Block:
    paragraphs: tuple[str, ...]
    words: int
    share: float  # of the page's paragraph words

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def _in_frame(el: HtmlElement) -> bool:
    for anc in el.iterancestors():
        if not isinstance(anc.tag, str):
            continue
        if anc.tag in _FRAME:
            return True
        role = (anc.get("role") or "").casefold()
        if role in ("navigation", "banner", "contentinfo", "complementary"):
            return True
    return False


def _own_text(p: HtmlElement) -> tuple[str, int]:
    """A paragraph's text and its words outside links: a teaser's words are mostly its link."""
    text = clean_inline(p.text_content())
    linked = sum(len(_WORD.findall(a.text_content())) for a in p.iter("a"))
    return text, len(_WORD.findall(text)) - linked


def _container(p: HtmlElement) -> HtmlElement:
    """The element a paragraph belongs to: its article when it declares one (slideshows and
    templates split a brief over sibling divs), else its parent. A section page's teasers each
    sit in an article of their own, so they stay apart."""
    for anc in p.iterancestors():
        if anc.tag == "article" or anc.get("itemprop") == "articleBody":
            return anc
    return p.getparent()


def dominant_block(page: Page) -> Block | None:
    """The paragraphs of the one element that holds most of the page's prose, or None."""
    body = page.tree.find(".//body")
    if body is None:
        return None
    groups: dict[HtmlElement, list[tuple[str, int]]] = {}
    total = 0
    for p in body.iter("p"):
        text, words = _own_text(p)
        if words < MIN_PARAGRAPH_WORDS or _in_frame(p):
            continue
        groups.setdefault(_container(p), []).append((text, words))
        total += words
    if not groups:
        return None
    _container_el, paras = max(groups.items(), key=lambda kv: sum(w for _, w in kv[1]))
    words = sum(w for _, w in paras)
    return Block(tuple(t for t, _ in paras), words, words / total)


def article_markup(page: Page) -> str:
    """Which article markup the page carries ("" when none)."""
    if page.meta_first("og:type").casefold().startswith("article"):
        return "og:type"
    kinds = jsonld_types(page.jsonld_article) if page.jsonld_article else set()
    if kinds - {"webpage"}:
        return "schema.org"
    if page.tree.find(".//article") is not None:
        return "article element"
    if page.tree.xpath("//*[@itemprop='articleBody']"):
        return "itemprop"
    return ""


def brief_text(page: Page, text: str, *, has_date: bool) -> str | None:
    """The brief's text when the page is a news brief (``text`` being what the extractor kept),
    else None."""
    if not has_date or not article_markup(page):
        return None
    block = dominant_block(page)
    if block is None or block.words < MIN_BRIEF_WORDS or block.share < DOMINANT_SHARE:
        return None
    # The block, not the extractor's share of it: on a short page the extractor's scoring has
    # too little text to go on, and may keep a part of the brief or a notice beside it.
    return block.text if block.words > len(_WORD.findall(text)) else text
