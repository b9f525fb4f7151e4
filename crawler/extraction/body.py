"""Article body: an ensemble of trafilatura runs, merged line by line, then boilerplate-filtered.

Why an ensemble: trafilatura's precision mode drops little junk but also the odd real
paragraph; its recall mode keeps those paragraphs but also captions, promos and share bars.
A line that only the recall run found is trusted when it sits *between* lines both runs
agree on and reads like prose: junk clusters at the edges of the article, paragraphs do not.

The recall run costs as much as the precision run, and on most pages adds nothing, so it
only runs when the precision text is a small share of the page's text (see
``_needs_recall``) and the precision lines leave out some of the page's text between them
(see ``_leaves_gaps``); both runs start from one thinned copy of the page (``trafpipe``).
When the recall run too finds next to nothing (``_needs_rescue``), trafilatura's slower
run with its readability/justext comparison is asked for the article.

The precision run is most of an article's cost, so on pages where one element's direct
paragraphs hold the article (``reader.article_container``) our own walk of that element
(``reader.article_lines``) stands in for it; the recall run, the merge and the rescue then
treat its lines as they would trafilatura's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.etree import XPath
from lxml.html import HtmlElement

from crawler.extraction import trafpipe
from crawler.extraction.boilerplate import drop_boilerplate
from crawler.extraction.normalize import clean_text
from crawler.extraction.reader import article_container, article_lines

# A recall-only line shorter than this (in words) must end like a sentence to be admitted.
_MIN_PROSE_WORDS = 8
# When the precision run returns less than this share of the recall run, it lost the article.
_PRECISION_COLLAPSE_RATIO = 0.25
# When the precision text is at least this share of the page's text, the recall run has too
# little left to add. Below it, the page is mostly other text, among which a dropped paragraph
# or a collapsed precision run hides. On both dev sets F1 is flat for shares from 0.3 down to
# 0.15 (aeb-dev 0.976, traf-dev snippets 0.918) and drops below 0.1. Now that each run is a
# whole public ``bare_extraction``, the plateau's low end is taken: on aeb-dev it runs the
# recall pass on 39 pages of 91 where 0.2 ran it on 46.
_COMPLETE_SHARE = 0.15
# Below this share of the thinned page's text, precision lines that leave no gap may still be a
# stray fragment (a teaser, a caption) while the article sits elsewhere, which only the recall
# run finds (the collapse above). On both dev sets the one such page is at 0.033, and every page
# whose precision run collapsed is under 0.14; the margin is deliberate.
_STRAY_SHARE = 0.1

# When the recall run keeps less than this share of the page's text (and fewer characters than
# _RESCUE_MAX_CHARS), both runs fell on the same wrong container (a teaser, a sidebar, the
# site's menu when the precision run kept nothing at all), and only trafilatura's
# readability/justext comparison, which the fast runs skip, finds the article.
# Found on traf-dev folds 0 and 2 (salt mediawatch-folds-v1), where these pages were the
# largest class of snippets trafilatura kept and we lost; read on fold 1, not looked at: body
# F1 0.903 -> 0.911 (trafilatura 0.909). Every fold's F1 moves by 0.001 at most for shares
# from 0.05 to 0.1; at 0.02-0.03 fold 2 keeps 0.001 of its 0.003 gain.
_RESCUE_SHARE = 0.05
# A recall text this short (about 150 words) is a teaser, not an article. The rescue costs two
# to three precision runs, so the cap is where it stops paying: no snippet moved on any fold with
# a recall text between 1,000 and 2,500 characters (trafilatura's own bound for its recall
# mode), where it ran on 14 traf-dev and 4 aeb-dev pages. Set after fold 1 had been read: it
# keeps that fold's gain down to 900 and loses it below 700. It runs on 19 of 495 traf-dev pages
# and 3 of 91 aeb-dev pages.
_RESCUE_MAX_CHARS = 1000

# Counted in C rather than by text_content() and a split in Python. XPath collapses only
# space, tab, CR and LF, so a run of NBSPs counts as characters: the count can only grow, and on
# both dev sets the same pages fall below _COMPLETE_SHARE (the recall runs are the same).
_COLLAPSED_LENGTH = XPath("string-length(normalize-space(.))")
_URL_ONLY = re.compile(r"^\s*(?:https?://|www\.)\S+\s*$", re.I)
_SENTENCE_END = re.compile(r"""[.!?:;…。！？」"”’'»)\]]\s*$""")


def _key(line: str) -> str:
    return " ".join(line.split()).casefold()


def _is_prose(line: str) -> bool:
    words = line.split()
    if _URL_ONLY.match(line):
        return False
    letters = [c for c in line if c.isalpha()]
    # SHOUTED lines on news sites are nearly always promo links ("CLICK HERE TO GET THE APP")
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return False
    return len(words) >= _MIN_PROSE_WORDS or bool(_SENTENCE_END.search(line))


def merge_runs(precise: str, recall: str) -> list[str]:
    """Precision lines in order, plus recall-only prose lines found between two agreed lines."""
    p_lines = [ln for ln in precise.split("\n") if ln.strip()]
    r_lines = [ln for ln in recall.split("\n") if ln.strip()]
    p_keys = {_key(ln) for ln in p_lines}
    anchors = [i for i, ln in enumerate(r_lines) if _key(ln) in p_keys]
    if len(anchors) < 2:
        return p_lines
    first, last = anchors[0], anchors[-1]
    admitted = {
        i for i in range(first + 1, last)
        if _key(r_lines[i]) not in p_keys and _is_prose(r_lines[i])
    }
    if not admitted:
        return p_lines
    # Walk the recall order (it is a superset in practice) and splice precision-only
    # lines back where they were, so nothing the precision run saw is lost.
    out: list[str] = []
    seen: set[str] = set()
    r_pos = {_key(ln): i for i, ln in enumerate(r_lines)}
    p_iter = iter(p_lines)
    pending = next(p_iter, None)
    for i, ln in enumerate(r_lines):
        while pending is not None and _key(pending) not in r_pos:
            out.append(pending)
            pending = next(p_iter, None)
        k = _key(ln)
        if pending is not None and k == _key(pending):
            out.append(pending)
            seen.add(k)
            pending = next(p_iter, None)
        elif i in admitted:
            out.append(ln)
    while pending is not None:
        out.append(pending)
        pending = next(p_iter, None)
    return out


def page_chars(tree: HtmlElement) -> int:
    """Characters of the page body's text, whitespace collapsed: menus, footers, inline
    scripts and all (a raw measure, as cheap as libxml2 makes it)."""
    body = tree.find(".//body")
    return int(_COLLAPSED_LENGTH(body if body is not None else tree))


def _needs_recall(precise: str, chars: int) -> bool:
    return len(precise) < _COMPLETE_SHARE * chars


def _needs_rescue(recall: str, chars: int) -> bool:
    return len(recall) < min(_RESCUE_SHARE * chars, _RESCUE_MAX_CHARS)


def _squeezed(text: str) -> str:
    # trafilatura re-spaces what it joins (inline elements, line breaks): compare without spaces
    return "".join(text.split())


def _page_text(thinned: HtmlElement) -> str:
    """The thinned page's text, squeezed: what precision lines are looked for in."""
    body = thinned.find("body")
    return _squeezed((body if body is not None else thinned).text_content())


def _stray(lines: list[str], page: str) -> bool:
    """Whether the precision lines are so little of the page that they may be a stray fragment (a
    teaser, a caption) while the article sits elsewhere, which only a recall run over the whole
    page finds."""
    return len(lines) < 2 or sum(len(_squeezed(ln)) for ln in lines) < _STRAY_SHARE * len(page)


def _leaves_gaps(lines: list[str], page: str) -> bool:
    """Whether the recall run could add a line: it is admitted only between two precision
    lines (``merge_runs``), so when those lines, found in page order, cover all the thinned
    page's text (``page``) from the first to the last, it has nothing to add. A line not found
    (a table row trafilatura re-formats) or a stray fragment counts as a gap."""
    if _stray(lines, page):
        return True
    wanted = [_squeezed(ln) for ln in lines]
    start = page.find(wanted[0])
    if start < 0:
        return True
    pos = start + len(wanted[0])
    for line in wanted[1:]:
        if not page.startswith(line, pos):
            return True
        pos += len(line)
    return False


def _recall_page(raw: trafpipe.RawPage, lines: list[str], page: str) -> trafpipe.RawPage:
    """What the recall run reads: a line it finds is admitted only between the first and the last
    precision line (``merge_runs``), so it reads the smallest element holding both, unless the
    precision lines may be a stray fragment."""
    if _stray(lines, page):
        return raw
    return trafpipe.span(raw, lines[0], lines[-1]) or raw


def ensemble_lines(tree: HtmlElement, url: str) -> list[str]:
    raw = trafpipe.prepare(tree, url)
    body = raw.tree.find("body")
    container = article_container(body) if body is not None else None
    if container is not None:
        precise = "\n".join(article_lines(container))
    else:
        precise = trafpipe.precision_text(raw)
    lines = [ln for ln in precise.split("\n") if ln.strip()]
    chars = page_chars(tree)
    if not _needs_recall(precise, chars):
        return lines
    page = _page_text(raw.tree)
    if not _leaves_gaps(lines, page):
        return lines
    recall = trafpipe.recall_text(_recall_page(raw, lines, page))
    if _needs_rescue(recall, chars):
        rescued = trafpipe.rescue_text(raw)
        if len(rescued) > len(recall):
            return [ln for ln in rescued.split("\n") if ln.strip()]
    if len(precise) < _PRECISION_COLLAPSE_RATIO * len(recall):
        # Precision lost the article (over-pruned container); the recall run plus the
        # boilerplate filter is nearly as good as trafilatura's slow readability/justext
        # fallback where the recall run found more than a fragment, and costs nothing more.
        precise = recall
    return merge_runs(precise, recall)


def extract_body(tree: HtmlElement, url: str, *, keep_credits: bool = False,
                 boilerplate: Iterable[re.Pattern[str]] = ()) -> str:
    """Body text, one paragraph a line. ``keep_credits`` leaves agency credit lines in
    (the caller reads the byline from them, then drops them)."""
    lines = ensemble_lines(tree, url)
    lines = drop_boilerplate(lines, extra=boilerplate, keep_credits=keep_credits)
    return clean_text("\n".join(lines))
