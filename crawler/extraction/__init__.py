"""Pure article extraction: HTML and URL in, ``Article`` out. No Scrapy in here.

``extract`` is what the pipeline calls; it raises ``NotArticle`` (with a ``reason`` the
caller logs) for pages that should not be indexed. ``extract_fields`` never raises for
content reasons and returns plain fields; ``score_adapter`` is its shape for
``../shared/eval/score.py``.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from contextlib import contextmanager
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import structlog
from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction import authors as authors_mod
from crawler.extraction import dates, language as language_mod, metadata
from crawler.extraction.body import extract_body
from crawler.extraction.boilerplate import AGENCY_CREDIT, drop_boilerplate
from crawler.extraction.brief import brief_text
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page, jsonld_types
from crawler.extraction.sites import rule_for
from crawler.urls import canonicalize
from indexer.article import Article

__all__ = ["NotArticle", "extract", "extract_fields", "score_adapter", "MAX_HTML_CHARS", "TIME_BUDGET_S"]

log = structlog.get_logger(__name__)

# Real article pages stay well under these; past them a page is a dump, a trap or an attack.
MAX_HTML_CHARS = 6_000_000
MAX_ELEMENTS = 150_000
MAX_LINKS = 20_000  # link farms and sitemaps-as-HTML: hundreds of times a news page's count
# Wall-clock budget for one page; enforced by a timer in the main thread (process-pool
# workers run there) and checked between stages elsewhere.
TIME_BUDGET_S = 10.0
# Below this the "article" is a stub, a paywall teaser or an error page, unless the page
# shows it to be a whole news brief (brief.py).
MIN_TEXT_CHARS = 250
MIN_CJK_CHARS = 80
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_count_elements = etree.XPath("count(descendant-or-self::*)")
_count_links = etree.XPath("count(descendant-or-self::a)")


class NotArticle(Exception):
    """The page is not an article to index; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class _Timeout(Exception):
    pass


@contextmanager
def _deadline(seconds: float) -> Iterator[float]:
    """Interrupt the block after ``seconds`` when a signal timer can be used; yields the end time."""
    end = time.monotonic() + seconds
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield end  # someone else owns the timer (or not the main thread): stage checks only
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield end
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check_time(end: float, stage: str) -> None:
    if time.monotonic() > end:
        raise NotArticle("timeout", f"budget exceeded after {stage}")


def parse(html: str) -> HtmlElement:
    if not html or not html.strip():
        raise NotArticle("empty")
    if len(html) > MAX_HTML_CHARS:
        raise NotArticle("too_large", f"{len(html)} chars")
    tree = load_html(html)
    if tree is None:
        raise NotArticle("unparsable")
    # counted by libxml2 rather than by a Python loop over every element; links are elements,
    # so only a page of more than MAX_LINKS elements needs its links counted
    elements = _count_elements(tree)
    if elements > MAX_ELEMENTS or (elements > MAX_LINKS and _count_links(tree) > MAX_LINKS):
        raise NotArticle("too_large", f"more than {MAX_ELEMENTS} elements or {MAX_LINKS} links")
    return tree


@dataclass
class _Extraction:
    article: Article
    page: Page
    # A short text the page itself shows to be a whole news brief (brief.py), not a stub.
    brief: bool = False


def _build(html: str, url: str, *, feed_date: datetime | None, fetched_at: datetime | None,
           source: str, end: float) -> _Extraction:
    tree = parse(html)
    page = Page(tree, url)
    rule = rule_for(url)
    if rule and rule.prune_xpath:
        for xp in rule.prune_xpath:
            for el in tree.xpath(xp):
                el.drop_tree()
    _check_time(end, "parse")
    raw_text = extract_body(tree, url, keep_credits=True, boilerplate=rule.patterns if rule else ())
    _check_time(end, "body")
    lines = raw_text.split("\n")
    credits = [ln for ln in lines[-4:] if AGENCY_CREDIT.match(ln)]
    text = "\n".join(ln for ln in lines if ln not in credits)
    title = metadata.title(page)
    text = _drop_leading_title(text, title)
    now = fetched_at or datetime.now(timezone.utc)
    published, published_source = dates.published_at(page, feed_date=feed_date, now=now)
    brief = False
    if _text_too_short(text) and not _is_cjk(text):
        found = brief_text(page, text, has_date=published is not None)
        if found is not None:
            lines = drop_boilerplate(found.split("\n"), extra=rule.patterns if rule else ())
            log.debug("extraction.brief", url=url, extractor_words=len(text.split()),
                      brief_words=sum(len(ln.split()) for ln in lines))
            text, brief = _drop_leading_title("\n".join(lines), title), True
    article = Article(
        url=url,
        canonical_url=metadata.canonical_url(page),
        original_url=metadata.original_url(page),
        source=source,
        title=title,
        text=text,
        description=metadata.description(page),
        authors=authors_mod.authors(page, text, credit_lines=credits),
        published_at=published,
        published_at_source=published_source,
        modified_at=dates.modified_at(page, published, now=now),
        language=language_mod.language(page, text),
        section=metadata.section(page),
        tags=metadata.tags(page),
        image=metadata.image(page),
        fetched_at=fetched_at,
    )
    return _Extraction(article, page, brief)


# The headline is looked for among the text's first lines; the lines above it are dropped with it
# only when each is shorter than a sentence of the story.
_HEADLINE_WITHIN, _LABEL_CHARS = 3, 40


def _drop_leading_title(text: str, title: str) -> str:
    """The headline is the title field, not the first paragraph (extractors often keep the h1), and
    the short lines above it are the page's labels for it, not the story: a kicker, a category
    ("Categorias", "Review"), a date or a byline."""
    if not title:
        return text
    lines, folded = text.split("\n"), _fold(title)
    for at, line in enumerate(lines[:_HEADLINE_WITHIN]):
        if _fold(line) == folded:
            above = lines[:at]
            if at + 1 < len(lines) and all(len(ln) < _LABEL_CHARS for ln in above):
                return "\n".join(lines[at + 1:])
            break
    return text


def _fold(value: str) -> str:
    return " ".join(re.findall(r"\w+", value.casefold()))


def _run(html: str, url: str, **kwargs: Any) -> _Extraction:
    try:
        with _deadline(TIME_BUDGET_S) as end:
            return _build(html, url, end=end, **kwargs)
    except _Timeout:
        raise NotArticle("timeout", f"over {TIME_BUDGET_S}s") from None
    except RecursionError:
        raise NotArticle("too_deep") from None


def _is_cjk(text: str) -> bool:
    return len(_CJK.findall(text[:1000])) > 100


def _text_too_short(text: str) -> bool:
    if _is_cjk(text):
        return len(text) < MIN_CJK_CHARS
    return len(text) < MIN_TEXT_CHARS


def not_article_reason(ex: _Extraction) -> str:
    """Why this extraction should not be indexed, or "" when it should."""
    page, article = ex.page, ex.article
    og_type = page.meta_first("og:type").casefold()
    kinds = jsonld_types(page.jsonld_article) if page.jsonld_article else set()
    has_video = og_type.startswith("video") or any("videoobject" in jsonld_types(o) for o in page.jsonld[:5])
    if has_video and article.word_count < 120:
        return "video_without_text"
    if _text_too_short(article.text) and not ex.brief:
        return "too_short"
    # An index page announces itself as a website, carries no article markup and no date,
    # and most of its text is link text.
    if og_type in ("website", "") and not (kinds - {"webpage"}) and article.published_at is None:
        body = page.tree.find(".//body")
        if body is not None:
            total = len(" ".join(body.text_content().split())) or 1
            linked = sum(len(" ".join(a.text_content().split())) for a in body.iter("a"))
            if linked / total > 0.5:
                return "index_page"
    return ""


def extract(html: str, url: str, *, feed_date: datetime | None = None, fetched_at: datetime | None = None,
            source: str = "") -> Article:
    """The article in ``html`` fetched from ``url``; raises NotArticle (with .reason) otherwise."""
    url = canonicalize(url) if url else url
    ex = _run(html, url, feed_date=feed_date, fetched_at=fetched_at, source=source)
    reason = not_article_reason(ex)
    if reason:
        raise NotArticle(reason, url)
    return ex.article


def extract_fields(html: str, url: str) -> dict[str, Any]:
    """Plain fields for inspection and scoring; never raises for content reasons."""
    try:
        ex = _run(html, url, feed_date=None, fetched_at=None, source="")
    except NotArticle as exc:
        log.info("extraction.skipped", url=url, reason=exc.reason)
        return {"text": "", "title": "", "date": "", "authors": [], "not_article": exc.reason}
    a = ex.article
    return {
        "text": a.text,
        "title": a.title,
        "date": a.published_at.strftime("%Y-%m-%d") if a.published_at else "",
        "authors": a.authors,
        "language": a.language,
        "description": a.description,
        "section": a.section,
        "tags": a.tags,
        "canonical_url": a.canonical_url,
        "original_url": a.original_url,
        "published_at_source": a.published_at_source,
        "not_article": not_article_reason(ex),
    }


def score_adapter(html: str, url: str) -> dict[str, Any]:
    fields = extract_fields(html, url)
    return {k: fields[k] for k in ("text", "title", "date", "authors")}
