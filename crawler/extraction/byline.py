"""The byline element of a page: our own reading of the markup sites sign their articles with.

Candidates are elements marked as the author by microdata or a link relation
(``itemprop="author"``, ``rel="author"``), then elements whose class or id names a byline,
then an author; each kind in document order. A candidate is left out when it sits in a part
of the page that signs something else (comment threads, sidebars, related-story teasers) or
its text, read without dates and media, is empty or too long to be a byline. The caller
takes the first candidate that holds a name.

One walk over the elements reads their attributes and a regex scan of the four marks' folded values
keeps the few that could be candidates; only those are ranked and read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.etree import iterwalk
from lxml.html import HtmlElement

# A byline's text, dates and media left out: at least this long (a nickname, "oz") and shorter than the cap.
_MIN_CHARS, _MAX_CHARS = 2, 120
# A piece of one of the words ranked below, in their usual spellings: one regex scan in C over
# an element's case-folded markup keeps most elements from being ranked at all.
_MAYBE = re.compile(r"aut|writer|journalist|reporter|verfasser|by")
_MARKS = frozenset({"class", "id", "itemprop", "rel"})
_TOKENS = re.compile(r"[^\W_]+")  # "td-post-author-name" -> td, post, author, name
_BYLINE_TOKENS = frozenset({"byline", "byl", "by"})
_AUTHOR_PARTS = ("author", "autor", "auteur", "writer", "journalist", "reporter", "verfasser")
# Tokens that mark an author-ish element holding something else: a portrait, a biography,
# the author's other stories, a follow button.
_NOT_A_NAME = frozenset("""avatar image img photo pic picture bio biography desc description about more all
posts count postcount follow social twitter facebook email mail title role job position""".split())
# Parts of a page that sign something other than the article.
_ELSEWHERE = frozenset("""comment comments sidebar related recommended recommendations teaser teasers
widget widgets share sharing newsletter promo promos popular trending""".split())
# A class that says what the layout has ("gallery--wrapper__with-sidebar", "has-comments") is no
# such part itself.
_HAS_PART = re.compile(r"(?:with|has|no|without)[-_]+[^\W_]+")
_ELSEWHERE_TAGS = frozenset({"aside", "nav", "menu", "figure", "form"})
_PAGE_TAGS = frozenset({"body", "html"})
_SKIPPED_TAGS = frozenset({"time", "figure", "img", "picture", "svg", "script", "style", "noscript", "button"})


def _tokens(element: HtmlElement) -> set[str]:
    return set(_TOKENS.findall(f"{element.get('class') or ''} {element.get('id') or ''}".casefold()))


def _part_tokens(element: HtmlElement) -> set[str]:
    marks = _HAS_PART.sub(" ", f"{element.get('class') or ''} {element.get('id') or ''}".casefold())
    return set(_TOKENS.findall(marks))


def _rank(element: HtmlElement) -> int:
    """0 microdata or link relation, 1 a byline class/id, 2 an author class/id, 3 not a candidate."""
    if (element.get("itemprop") or "").strip().casefold() == "author" or \
            "author" in (element.get("rel") or "").casefold().split():
        return 0
    tokens = _tokens(element)
    if not tokens or not tokens.isdisjoint(_NOT_A_NAME):
        return 3
    if not tokens.isdisjoint(_BYLINE_TOKENS):
        return 1
    return 2 if any(part in token for token in tokens for part in _AUTHOR_PARTS) else 3


def _elsewhere(element: HtmlElement) -> bool:
    for node in element.iterancestors():
        if node.tag in _PAGE_TAGS:
            break  # their classes describe the whole page ("comments-open", "has-sidebar")
        if node.tag in _ELSEWHERE_TAGS or not _part_tokens(node).isdisjoint(_ELSEWHERE):
            return True
    return False


def _text(element: HtmlElement) -> str:
    """The element's text without that of dates and media; stops once past a byline's length."""
    parts: list[str] = []
    size = skipping = 0
    for event, node in iterwalk(element, events=("start", "end")):
        if event == "start":
            if skipping or (node is not element and node.tag in _SKIPPED_TAGS):
                skipping += 1
            elif node.text:
                parts.append(node.text)
                size += len(node.text)
        else:
            skipping -= bool(skipping)
            if node is not element and node.tail and not skipping:
                parts.append(node.tail)  # a skipped element's tail is its parent's text
                size += len(node.tail)
        if size > 4 * _MAX_CHARS:
            break  # too long to be a byline whatever the spacing
    return " ".join(" ".join(parts).split())


def bylines(tree: HtmlElement) -> Iterator[str]:
    """Texts of the page's byline candidates, most trusted kind first, each kind in document
    order; ``tree`` is left untouched."""
    ranked: list[list[HtmlElement]] = [[], [], []]
    # a plain walk: an XPath that selects the elements with these attributes costs more, as
    # each element it returns becomes a Python object before any is looked at. One items() call
    # reads all of an element's attributes in C, cheaper than four get() calls; the regex spans
    # no space, so it matches the four marks joined exactly when it matches one of them.
    search = _MAYBE.search
    for element in tree.iter():
        for name, value in element.items():
            # folded first: the same regex with IGNORECASE folds every character it compares
            if name in _MARKS and search(value.casefold()):
                rank = _rank(element)
                if rank < 3 and element.tag not in _SKIPPED_TAGS:
                    ranked[rank].append(element)
                break
    for kind in ranked:
        for element in kind:
            text = _text(element)
            if _MIN_CHARS <= len(text) < _MAX_CHARS and not _elsewhere(element):
                yield text
