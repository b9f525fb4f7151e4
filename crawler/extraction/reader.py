"""Our own precision run: the article's lines read straight from its container, on simple pages.

trafilatura's precision run is most of what an article costs. On many pages one element's direct
``<p>`` children hold nearly all of the page's paragraph text; there a walk of that element,
keeping headings, paragraphs, list items, quotes and table rows and leaving out what is named
or linked like page furniture, gives the article's lines without it. ``article_container``
says whether a page is such a page (``None``: leave it to trafilatura), ``article_lines`` walks
the element it returns.

This is our own code: it neither imports trafilatura nor changes anything of it. Whether it
reads as well is judged by the F1 folds (``bench.folds``), not by equality with trafilatura.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extraction.furniture import class_names, name_parts

# Elements trafilatura's own cleaning removes before it reads a page: they hold no article lines.
DROP_TAGS = frozenset({
    "figure", "picture", "time", "label", "fieldset", "legend", "script", "style", "noscript",
    "form", "button", "select", "textarea", "input", "nav", "aside", "footer", "menu", "svg",
    "iframe", "img",
})
# Blocks that are one line each: their text is taken whole, never walked into.
LEAF_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"})
# Blocks that hold a list of links when most of their text is linked (menus, related stories).
_LINK_LIST_TAGS = ("ul", "ol", "div", "section")
# Words that name a block standing before the article's container which belongs to the article:
# publishers often put the standfirst in a branch of its own, beside the body.
LEAD_PARTS = frozenset({
    "lead", "leader", "intro", "introduction", "perex", "standfirst", "summary", "abstract",
    "einleitung", "subtitle", "subheadline", "dek", "deck", "excerpt",
})
# Class or id names of page furniture inside the container: a whole part of the name must match.
FURNITURE_NAMES = re.compile(
    r"(?:^|[-_\s])(share|social|related|recommend\w*|gallery|slideshow|newsletter|subscribe|"
    r"comments?|promo|teaser|caption|credit|breadcrumbs?|pagination|sidebar|widget|advert\w*|ads?|"
    r"sponsor\w*|cookie|consent|popup|modal|toolbar|rating|signup)(?:$|[-_\s])", re.I)
# Names that only need to begin a part: other stories' excerpts and "read more" lists come named
# in many spellings ("related-posts", "recentArticles", "more-stories-list").
FURNITURE_PREFIXES = re.compile(
    r"(?:^|[-_\s])(related|recent|excerpt|more-?stories|read-?more|also)", re.I)

# Shorter paragraphs are captions, datelines and labels: they are not weighed as article prose.
MIN_PARAGRAPH_CHARS = 25
# Below this much paragraph text a page is a teaser, a gallery or an index, which trafilatura's
# comparison of candidates reads better than one element's walk.
MIN_PAGE_CHARS = 1000
# The container must hold this share of the paragraph text: below it, parts of the article (or
# other text that looks like it) sit elsewhere, which only trafilatura's whole-page reading weighs.
MIN_CONTAINER_SHARE = 0.8
# Fewer paragraphs are a list of teasers or a short note, not an article's body.
MIN_PARAGRAPHS = 5
# A container with more of its text in links is a list of stories, not an article. Stories that
# cite their sources in links run to 10-20 %; teaser lists are well above. From 0.1 to 0.2 the
# reader takes 4 more aeb-dev and 14 more traf-dev pages, and no fold of four splits loses more
# than one page's 0.001 (docs/PERFORMANCE.md); at 0.3 aeb-dev loses precision.
MAX_CONTAINER_LINK_SHARE = 0.2
# A paragraph this long before the container, mostly unlinked, is prose the walk would lose (a
# first paragraph set apart from the rest): such pages are left to trafilatura.
PROSE_BEFORE_CHARS = 80
PROSE_BEFORE_LINK_SHARE = 0.5
# Past this share of linked text, a list, a block or a heading is navigation or a teaser.
MAX_BLOCK_LINK_SHARE = 0.5
# A paragraph is prose that cites its sources until nearly all of it is links.
MAX_PARAGRAPH_LINK_SHARE = 0.8
# A paragraph shorter than this that does not end like a sentence is a label ("Anzeige", "Updated"),
# unless it is Chinese or Japanese, written without spaces, where a few characters make a subheading.
MIN_UNPUNCTUATED_CHARS = 12
_SENTENCE_ENDS = (".", "!", "?", ":")
_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")  # kana, CJK ideographs
# How far up from the container lead-named blocks are looked for: further up they are the page's,
# not the article's.
LEAD_HOPS = 3
# A shorter lead-named block is a label or a kicker, not a standfirst.
MIN_LEAD_CHARS = 40
# A lead-named block with this share of linked text or more is a teaser of another story.
MAX_LEAD_LINK_SHARE = 0.5

_PIECES = XPath(".//text()|.//br", smart_strings=False)
_ZERO_WIDTH_SPACE = "\u200b"


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _link_chars(element: HtmlElement) -> int:
    return sum(len(_text(a)) for a in element.iter("a"))


def _lead_named(element: HtmlElement) -> bool:
    names = class_names(element)
    return bool(names) and not LEAD_PARTS.isdisjoint(name_parts(names))


def _broken_lines(element: HtmlElement) -> list[str]:
    """The element's text split at its ``<br>``s, each line whitespace-collapsed."""
    pieces = ["\n" if not isinstance(piece, str) else piece for piece in _PIECES(element)]
    return [" ".join(line.split()) for line in "".join(pieces).split("\n") if line.strip()]


def _prose_before(container: HtmlElement) -> bool:
    for sibling in container.itersiblings(preceding=True):
        for p in sibling.iter("p"):
            text = _text(p)
            if (len(text) >= PROSE_BEFORE_CHARS
                    and _link_chars(p) < PROSE_BEFORE_LINK_SHARE * len(text)):
                return True
    return False


def article_container(body: HtmlElement) -> HtmlElement | None:
    """The element whose direct ``<p>`` children hold the article, or ``None`` when the page is
    not that simple (the caller then asks trafilatura)."""
    direct: dict[HtmlElement, int] = {}
    total = 0
    for p in body.iter("p"):
        n = len(_text(p))
        if n < MIN_PARAGRAPH_CHARS:
            continue
        total += n
        parent = p.getparent()
        direct[parent] = direct.get(parent, 0) + n
    if total < MIN_PAGE_CHARS or not direct:
        return None
    best = max(direct, key=direct.__getitem__)
    if direct[best] < MIN_CONTAINER_SHARE * total or best is body:
        return None
    paragraphs = sum(1 for p in best if p.tag == "p" and len(_text(p)) >= MIN_PARAGRAPH_CHARS)
    if paragraphs < MIN_PARAGRAPHS:
        return None
    if _link_chars(best) > MAX_CONTAINER_LINK_SHARE * len(_text(best)):
        return None
    if _prose_before(best):
        return None
    return best


def _left_out(child: HtmlElement, tag: str) -> bool:
    """Whether a block is no part of the article: deleted by trafilatura's cleaning, named as
    furniture, a teaser (a block inside a link, an article inside the article) or a list of links."""
    if tag in DROP_TAGS or tag in ("a", "article"):
        return True
    names = class_names(child)
    if names and (FURNITURE_NAMES.search(names) or FURNITURE_PREFIXES.search(names)):
        return True
    if tag in _LINK_LIST_TAGS:
        text = _text(child)
        return bool(text) and _link_chars(child) > MAX_BLOCK_LINK_SHARE * len(text)
    return False


def _row_lines(row: HtmlElement) -> list[str]:
    cells = [text for text in (_text(cell) for cell in row if cell.tag in ("td", "th")) if text]
    return [" | ".join(cells)] if cells else []


def _block_lines(block: HtmlElement, tag: str) -> list[str]:
    """A heading's, paragraph's, list item's or quote's lines; none for a link-dense one or a label."""
    text = _text(block)
    if not text or text == _ZERO_WIDTH_SPACE:
        return []
    limit = MAX_PARAGRAPH_LINK_SHARE if tag == "p" else MAX_BLOCK_LINK_SHARE
    if _link_chars(block) > limit * len(text):
        return []
    if (tag == "p" and len(text) < MIN_UNPUNCTUATED_CHARS and not text.endswith(_SENTENCE_ENDS)
            and not _UNSPACED_SCRIPT.search(text)):
        return []
    return _broken_lines(block) if block.find(".//br") is not None else [text]


def _walk(element: HtmlElement, lines: list[str]) -> None:
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""  # comments, processing instructions
        if not tag or _left_out(child, tag):
            continue
        if tag == "tr":
            lines.extend(_row_lines(child))
        elif tag in LEAF_TAGS:
            lines.extend(_block_lines(child, tag))
        else:
            _walk(child, lines)


def _sibling_lead(sibling: HtmlElement) -> str | None:
    """The text of the first lead-named element in a branch, if it reads as a standfirst: long
    enough, not the headline's block, not a teaser of another story."""
    for element in sibling.iter():
        if isinstance(element.tag, str) and element.tag not in DROP_TAGS and _lead_named(element):
            text = _text(element)
            if (len(text) > MIN_LEAD_CHARS and element.find(".//h1") is None
                    and _link_chars(element) < MAX_LEAD_LINK_SHARE * len(text)):
                return text
            return None
    return None


def _leads(container: HtmlElement) -> list[str]:
    """Lead-named blocks in the branches before the container, in page order, each text once."""
    leads: list[str] = []
    node, hops = container, 0
    while node is not None and hops < LEAD_HOPS and node.tag != "body":
        for sibling in node.itersiblings(preceding=True):
            text = _sibling_lead(sibling)
            if text and text not in leads:
                leads.insert(0, text)
        node, hops = node.getparent(), hops + 1
    return leads


def article_lines(container: HtmlElement) -> list[str]:
    """The article's lines, in page order: lead-named blocks before the container, then its
    headings, paragraphs (split at ``<br>``), list items, quotes and table rows (cells joined
    by " | "), without furniture, link-dense blocks, teasers and labels."""
    lines: list[str] = []
    _walk(container, lines)
    return _leads(container) + lines
