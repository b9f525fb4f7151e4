"""trafilatura's precision and recall runs over one page, sharing the work they have in common.

``bare_extraction(tree, fast=True, include_comments=False, ...)`` per mode costs three
full-tree copies (its own input copy, the cleaning copy, a backup only the non-fast
comparison reads) and two raw-tree XPath prunes whose ``re:test`` calls back into Python
for every element. Both runs prune the raw tree identically, so here that is done once
(``prepare``), the precision run cleans a copy of the pruned tree and the recall run, when
the caller wants one, the pruned tree itself: two or three copies and one set of prunes
per page instead of six and two. Those prunes look for rare markup, so each runs only on
pages whose ids and classes could match it (``_LAYOUT_PRUNES``, ``_COMMENT_PRUNES``).

This calls trafilatura's internal steps in the order ``trafilatura_sequence`` does for
these options (fast, no comments, no links/images/formatting, tables on), so it is pinned
to trafilatura 2.3.1 (pyproject pins it); tests/unit/extraction/test_trafpipe.py checks
that the texts equal ``bare_extraction``'s, and must be rerun when trafilatura moves.
"""

from __future__ import annotations

from copy import copy
from collections.abc import Callable
from dataclasses import dataclass

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.baseline import baseline
from trafilatura.core import _forum_thread_page
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor
from trafilatura.xml import xmltotxt
from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH, REMOVE_COMMENTS_XPATH

from crawler.extraction import fastxpath

# Before the tables below take expressions out of trafilatura's lists; the package imports
# this module (via body), so the author finder's XPaths are guarded from the start too.
fastxpath.install()

# Built once: an Extractor reads its config file values on construction, and nothing in
# these steps writes to it (the balanced-mode escalation that copies options never runs).
_OPTIONS = {
    mode: Extractor(output_format="python", fast=True, comments=False,
                    precision=mode == "precision", recall=mode == "recall")
    for mode in ("precision", "recall")
}


# A prune can only match an element whose id or class holds one of its tokens (read off its
# regexes; test_trafpipe checks they are still there and that every prune is listed). Most
# pages hold none of them, and skipping a prune that cannot match saves a walk over the whole
# tree with a regex callback per element: ~1.3 ms a page on aeb-dev. Cleaning and tag
# conversion add no id or class, so the raw page's answer also holds for the cleaned tree.
_COMMENT_TOKENS = ("omment", "comol", "disqus_thread")
_LAYOUT_PRUNES = (
    (RAW_TREE_PRUNE_XPATH[0], ("mvp-post-add-", "infinite")),  # infinite-scroll containers
    (RAW_TREE_PRUNE_XPATH[1], ("elementor-share-buttons",)),
)
_COMMENT_PRUNES = ((REMOVE_COMMENTS_AND_LISTS_XPATH[0], _COMMENT_TOKENS),)
_CLEANED_COMMENT_PRUNES = ((REMOVE_COMMENTS_XPATH[0], _COMMENT_TOKENS),)  # the precision run's
_IDS_AND_CLASSES = XPath("//@id|//@class", smart_strings=False)


@dataclass(frozen=True)
class RawPage:
    """The page as both runs start from it: a copy of the parsed tree, raw-pruned once."""

    source: HtmlElement  # the caller's tree, never modified
    tree: HtmlElement  # raw-pruned copy: the precision run cleans a copy, the recall run this
    is_forum: bool
    prunes: list[XPath]  # the raw-tree prunes applied to ``tree``
    comment_prunes: list[XPath]  # those of them that remove comment sections
    cleaned_prunes: list[XPath]  # what the precision run prunes from its cleaned tree


def _applicable(table: tuple[tuple[XPath, tuple[str, ...]], ...], ids_and_classes: str) -> list[XPath]:
    return [xpath for xpath, tokens in table if any(t in ids_and_classes for t in tokens)]


def prepare(tree: HtmlElement) -> RawPage:
    """One copy and one set of raw-tree prunes for both runs; ``tree`` is left untouched."""
    raw = copy(tree)
    is_forum = _forum_thread_page(raw)
    ids_and_classes = "\n".join(_IDS_AND_CLASSES(raw))
    comment_prunes = _applicable(_COMMENT_PRUNES, ids_and_classes)
    # on a thread-forum the recall run keeps comment containers (they are the posts)
    prunes = _applicable(_LAYOUT_PRUNES, ids_and_classes) + ([] if is_forum else comment_prunes)
    return RawPage(tree, prune_unwanted_nodes(raw, prunes), is_forum, prunes, comment_prunes,
                   _applicable(_CLEANED_COMMENT_PRUNES, ids_and_classes))


def _run(tree: HtmlElement, options: Extractor, baseline_input: Callable[[], HtmlElement],
         cleaned_prunes: list[XPath]) -> str:
    """Cascade stages 1 and 3 of ``trafilatura_sequence`` on ``tree`` (consumed), as text."""
    cleaned = convert_tags(tree_cleaning(tree, options), options)
    # the precision run's comment prune (the recall run has none): post-conversion, where lists
    # are <list> and match the xpath (see trafilatura_sequence)
    cleaned = prune_unwanted_nodes(cleaned, cleaned_prunes)
    body, text = extract_content(cleaned, options)
    if len(text) < options.min_extracted_size and options.focus != "precision":
        b_body, b_text, b_len = baseline(baseline_input())
        if b_len > len(text):
            body, text = b_body, b_text
    if len(text) < options.min_output_size:
        return ""  # bare_extraction's "text not long enough": no document
    return xmltotxt(body, options.formatting) or ""


def _guarded(tree: HtmlElement, options: Extractor, baseline_input: Callable[[], HtmlElement],
             cleaned_prunes: list[XPath]) -> str:
    # bare_extraction turns these into "no document"; so do we
    try:
        return _run(tree, options, baseline_input, cleaned_prunes)
    except (TypeError, ValueError):
        return ""


def precision_text(raw: RawPage) -> str:
    """``bare_extraction(favor_precision=True)``'s text; ``raw`` stays usable for the recall run."""
    tree = copy(raw.tree)
    if raw.is_forum:
        tree = prune_unwanted_nodes(tree, raw.comment_prunes)
    # (precision never calls the baseline rescue)
    return _guarded(tree, _OPTIONS["precision"], lambda: raw.tree, raw.cleaned_prunes)


def recall_text(raw: RawPage) -> str:
    """``bare_extraction(favor_recall=True)``'s text. Consumes ``raw``: call it last.

    Its baseline rescue (short results only) needs the raw-pruned tree intact, so that
    rare path prunes a fresh copy of the source rather than every page paying a copy."""
    fresh = lambda: prune_unwanted_nodes(copy(raw.source), raw.prunes)  # noqa: E731
    return _guarded(raw.tree, _OPTIONS["recall"], fresh, [])
