"""The requests of one run: which listed URL is fetched, and with what in its meta.

Every URL is considered once per run (``scheduled``). A document (feed, sitemap, section
page) may be fetched conditionally; an article or a section link is checked against the
source's rules, its age, the frontier (done and fresh: ``seen``) and the run's caps.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from scrapy.http import Request

from crawler.context import SourceContext
from crawler.discovery.links import LinkRules
from crawler.frontier import Frontier
from crawler.sources import parse_duration
from crawler.spiders.documents import Doc, Documents
from crawler.urls import BadURL, canonicalize

__all__ = ["RequestPlanner"]

# Scrapy's own URL length filter drops a request silently: in a crawler many runs share, the run would wait
# for an answer that never comes, so the limit is ours and the URL is counted.
MAX_URL_LENGTH = 2083
_PRIORITY = {"feed": 100, "robots": 95, "sitemap": 90, "listing": 80, "article": 50, "page": 40}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RequestPlanner:
    """Builds the run's requests; ``callbacks`` maps a kind ("feed", "sitemap", "listing", "robots",
    "page") to the run's callback, and "error" to its errback; ``meta`` and ``headers`` go on every
    request (the run itself, the source's page-size caps and user agent)."""

    def __init__(self, context: SourceContext, documents: Documents, callbacks: dict[str, Callable], *,
                 meta: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        self.meta = dict(meta or {})
        self.headers = dict(headers or {})
        source = context.source
        self.source = source.name
        self.frontier = context.frontier
        self.outcomes = context.outcomes
        self.documents = documents
        self.callbacks = callbacks
        self.rules = LinkRules.build(allowed_domains=source.allowed_domains, entry_points=source.entry_points,
                                     allow=source.sections.allow, deny=source.sections.deny)
        self.max_depth = source.sections.max_depth
        self.max_age = parse_duration(source.max_age) if source.max_age else None
        self.revalidate_after = parse_duration(context.crawl.revalidate_after)
        self.articles_left = source.max_articles_per_run
        self.pages_left = source.max_pages_per_run
        self.scheduled: set[str] = set()
        self.stage_yield: dict[int, int] = {}  # stage -> URLs it found (listed, or unchanged documents)

    def found(self, stage: int) -> None:
        self.stage_yield[stage] = self.stage_yield.get(stage, 0) + 1

    def _canon(self, url: str, kind: str) -> str | None:
        """The canonical URL, or None for one nothing can fetch (counted, under itself, as skipped)."""
        try:
            canon = canonicalize(url)
        except BadURL as err:
            self.outcomes.finish(url, url, "skipped:bad_url", err.why, kind=kind, final=True)
            return None
        if len(canon) > MAX_URL_LENGTH:
            self.outcomes.finish(url, url, "skipped:bad_url", f"longer than {MAX_URL_LENGTH} characters", kind=kind,
                                 final=True)
            return None
        return canon

    def document(self, url: str, kind: str, *, stage: int, depth: int = 0, lastmod: datetime | None = None,
                 parent: str | None = None) -> Request | None:
        """A feed, sitemap or section page; conditional (ETag, Last-Modified) unless it is due for a full fetch."""
        canon = self._canon(url, kind)
        if canon is None:
            return None
        if parent is not None:
            self.documents[parent].child_docs.append(canon)
        if canon in self.scheduled:
            return None
        self.scheduled.add(canon)
        if self.pages_left <= 0:
            self.outcomes.finish(canon, url, "skipped:cap", "max_pages_per_run", kind=kind)
            return None
        state = self.frontier.get(canon)
        if (kind == "sitemap" and parent is not None and lastmod is not None and state is not None and state.done
                and state.lastmod is not None and lastmod <= state.lastmod and state.body_hash):
            self.found(stage)
            self.outcomes.finish(canon, url, "seen", "sitemap lastmod unchanged", kind=kind, final=True)
            return None
        validators: dict[str, str] = {}
        if state is not None and state.done and kind in ("feed", "sitemap") and state.body_hash:
            due = state.last_full_fetch is None or utcnow() - state.last_full_fetch >= self.revalidate_after
            if not due and not state.etag_unreliable:
                validators = {k: v for k, v in (("etag", state.etag), ("last_modified", state.last_modified)) if v}
        self.pages_left -= 1
        self.documents.add(Doc(canon=canon, url=url, kind=kind, stage=stage, depth=depth, parent=parent,
                               lastmod=lastmod))
        self.outcomes.expect(canon, url, kind)
        # robots.txt as a document: the robots and per-host middlewares leave it alone
        extra = {"dont_obey_robotstxt": True} if kind == "robots" else {}
        return Request(
            url,
            callback=self.callbacks[kind],
            errback=self.callbacks["error"],
            priority=_PRIORITY[kind] - depth,
            dont_filter=True,
            headers=self.headers or None,
            meta={
                **self.meta,
                "mw_kind": kind, "mw_canon": canon, "mw_url": url, "mw_stage": stage, "mw_depth": depth,
                "mw_validators": validators, "mw_unconditional": not validators,
                "mw_prev_etag": state.etag if state else None, "mw_prev_hash": state.body_hash if state else None,
                "mw_prev_done": bool(state and state.done), **extra,
            },
        )

    def candidate(self, url: str, *, kind: str, stage: int, depth: int, lastmod: datetime | None = None,
                  feed_date: datetime | None = None, title: str = "", parent: str | None = None) -> Request | None:
        """An article URL (kind "article", from a feed/sitemap) or a section link (kind "page")."""
        canon = self._canon(url, kind)
        if canon is None:
            return None
        if parent is not None:
            self.documents[parent].children.append(canon)
        self.found(stage)
        if canon in self.scheduled:
            return None
        self.scheduled.add(canon)
        verdict = self.rules.check(canon, patterns=(kind == "page"))
        if verdict:
            self.outcomes.finish(canon, url, f"skipped:{verdict}", kind=kind, final=True)
            return None
        date = lastmod or feed_date
        if self.max_age is not None and date is not None and date < utcnow() - self.max_age:
            self.outcomes.finish(canon, url, "skipped:too_old", date.isoformat(), kind=kind, final=True)
            return None
        state = self.frontier.get(canon)
        if state is None:
            self.frontier.discovered(canon, canon, source=self.source, kind=kind)
        listing = (kind == "page" and state is not None and state.kind == "listing" and depth < self.max_depth)
        if not listing and Frontier.fresh(state, lastmod):
            self.outcomes.finish(canon, url, "seen", kind=kind, final=True)
            return None
        if self.pages_left <= 0:
            self.outcomes.finish(canon, url, "skipped:cap", "max_pages_per_run", kind=kind, final=True)
            return None
        if not listing:
            if self.articles_left <= 0:
                self.outcomes.finish(canon, url, "skipped:cap", "max_articles_per_run", kind=kind, final=True)
                return None
            self.articles_left -= 1
        self.pages_left -= 1
        previous = state.content_hash if (state is not None and state.done and state.kind == "article") else None
        self.outcomes.expect(canon, url, kind)
        return Request(
            canon,
            callback=self.callbacks["page"],
            errback=self.callbacks["error"],
            priority=_PRIORITY[kind] - depth,
            dont_filter=True,
            headers=self.headers or None,
            meta={
                **self.meta,
                "mw_kind": kind, "mw_canon": canon, "mw_url": url, "mw_stage": stage, "mw_depth": depth,
                "mw_lastmod": lastmod, "mw_feed_date": feed_date, "mw_title": title, "mw_prev_hash": previous,
            },
        )

    def skip_nested_sitemap(self, parent: Doc, url: str) -> None:
        """A sitemap index nested deeper than we follow: counted, not fetched."""
        canon = self._canon(url, "sitemap")
        if canon is None:
            return
        parent.child_docs.append(canon)
        if canon not in self.scheduled:
            self.scheduled.add(canon)
            self.outcomes.finish(canon, url, "skipped:depth", "sitemap index nesting", kind="sitemap", final=True)
