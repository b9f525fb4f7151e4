"""Page furniture named as such: blocks whose class, id or role says they are not the article.

Share bars, sign-up prompts, related-story lists, ad slots and menus sit inside the article's
container as often as around it. trafilatura finds and drops them itself, but by testing every
element under the container against long XPath lists on each of its runs; a block dropped here,
once per page, is one that none of those runs copies or tests again.

A block is dropped only while it holds little of the page's paragraph text (``_MAX_SHARE``), so a
site that puts its article in a ``<div class="social-story">`` or its posts in ``comments`` keeps
them, and never when it holds the page's ``<h1>``. Nor when it holds much of the page's text at
all: trafilatura weighs what its own prunes would remove against the text of the container, all or
nothing, and a large block gone from that weighing can tip it into removing the article (a shop
page whose product text sits beside a cross-selling tab of 10,000 characters).

The vocabulary is data (``FURNITURE_PARTS``): a name is split into parts at spaces, hyphens,
underscores and lowercase-to-uppercase steps, and one part must equal a listed word, so
``share-bar`` and ``shareBar`` match and ``shareholder``, ``loader`` or ``header`` do not.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml.html import HtmlElement

# Words that name a block of page furniture, grouped by what the block is for.
FURNITURE_PARTS = frozenset({
    # sharing and following
    "share", "sharing", "sharebar", "social", "sociallinks",
    # sign-up, paywall and consent prompts
    "newsletter", "subscribe", "signup", "cookie", "cookies", "consent", "gdpr",
    # navigation
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "pagination",
    # other stories
    "related", "recommended", "recommendations", "trending", "mostread", "outbrain", "taboola",
    # advertising
    "ad", "advert", "advertisement", "adslot", "sponsored",
    # around the article
    "sidebar", "footer", "tags", "comments", "disqus",
})
# Roles of landmarks that are never the article (ARIA: menus, side content, the page footer).
FURNITURE_ROLES = frozenset({"navigation", "complementary", "contentinfo"})
# Tags that furniture comes in; a <p> or a heading with such a class is left to trafilatura.
_BLOCKS = ("div", "section", "ul", "ol", "span", "form")
# A block holding more than this share of the page's paragraph text, or of its text, may be the
# article itself or weigh in trafilatura's own pruning (see above).
_MAX_SHARE = 0.1
# Below this much paragraph text the page has too little prose to weigh a block against.
_MIN_PAGE_CHARS = 500

_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def class_names(element: HtmlElement) -> str:
    """The element's class and id, as one string of names ("" when it has neither)."""
    return " ".join(filter(None, (element.get("class"), element.get("id"))))


def name_parts(names: str) -> list[str]:
    """``names`` split at spaces, hyphens, underscores and lowercase-to-uppercase steps, lower-cased."""
    return [part.lower() for part in _PARTS.findall(names)]


@lru_cache(maxsize=1 << 16)  # a site repeats its class names from page to page
def _names_furniture(names: str) -> bool:
    return any(part in FURNITURE_PARTS for part in name_parts(names))


def _named(element: HtmlElement) -> bool:
    """Whether the role, class or id of ``element`` names it as furniture."""
    role = element.get("role")
    if role is not None and role.strip().lower() in FURNITURE_ROLES:
        return True
    names = class_names(element)
    return bool(names) and _names_furniture(names)


def _paragraph_chars(element: HtmlElement) -> int:
    return sum(len(p.text_content().strip()) for p in element.iter("p"))


def drop_furniture(root: HtmlElement) -> int:
    """Drop, in place, the named furniture blocks of ``root``; returns how many were dropped."""
    page = _paragraph_chars(root)
    if page < _MIN_PAGE_CHARS:
        return 0
    text = len(root.text_content())
    gone: set[HtmlElement] = set()  # blocks inside a dropped one
    dropped = 0
    for element in [e for e in root.iter(*_BLOCKS) if _named(e)]:
        if element in gone:
            continue
        if (_paragraph_chars(element) > _MAX_SHARE * page or len(element.text_content()) > _MAX_SHARE * text
                or next(element.iter("h1"), None) is not None):
            continue
        gone.update(element.iter(*_BLOCKS))
        element.drop_tree()
        dropped += 1
    return dropped
