"""The spider of one source's run: feeds -> sitemaps -> section pages -> article pages.

Discovery stages run in order: feeds, then sitemaps (news or not), then section pages. With
``discovery: fallback`` (the default) a later stage starts only when the earlier one found
nothing: every document of the stage failed, was refused, or listed no URL (a 304 counts as
"found": the feed is fine and unchanged). ``discovery: all`` runs every stage at once.

Every URL the run touches is counted exactly once (``RunAccounting``) with its final status:

    listing        a feed / sitemap / section page fetched and parsed
    not_modified   a 304, or the same body hash (feeds, sitemaps), or the same text (articles)
    new / updated  an article handed to the sink (first time / its date said it changed)
    seen           known and finished in an earlier run, not fetched
    not_article    fetched, but extraction says it is not an article (or it is not HTML)
    skipped:<why>  robots, offsite, private_address, cap, too_old, denied, time_limit, bad_url, ...
    error:<kind>   http_404, timeout, dns, too_large, xml_entities, xml_malformed, extract, ingest, ...
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator
from urllib.parse import urlsplit

import scrapy
import structlog
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, StopDownload
from scrapy.http import Request, Response, TextResponse

from crawler.discovery.feeds import parse_feed
from crawler.discovery.links import LinkRules
from crawler.discovery.robots import robots_urls, sitemaps_in_robots
from crawler.discovery.sitemaps import parse_sitemap
from crawler.decoding import decode_html
from crawler.frontier import Frontier, is_retryable
from crawler.middlewares import RequestRefused
from crawler.pipelines import PageItem, page_links
from crawler.sources import parse_duration
from crawler.urls import BadURL, canonicalize
from crawler.xml import XMLError

if TYPE_CHECKING:
    from crawler.runner import SourceContext

log = structlog.get_logger("crawler.spider")

MAX_SITEMAP_DEPTH = 3
_PRIORITY = {"feed": 100, "robots": 95, "sitemap": 90, "listing": 80, "article": 50, "page": 40}
_HTML_TYPES = (b"text/html", b"application/xhtml+xml", b"application/xml+xhtml", b"text/plain")


@dataclass
class Doc:
    """A feed, sitemap or section page of this run, and what it listed."""

    canon: str
    url: str
    kind: str
    stage: int
    depth: int = 0
    parent: str | None = None
    lastmod: datetime | None = None  # as given by the parent sitemap index
    status: str = ""
    children: list[str] = field(default_factory=list)
    child_docs: list[str] = field(default_factory=list)
    pending: dict[str, Any] | None = None  # validators to save once everything listed is finished


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _sort_newest(items, key):
    floor = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(items, key=lambda e: key(e) or floor, reverse=True)


def classify_failure(exc: BaseException) -> tuple[str, str]:
    """Map a download failure to (status, reason)."""
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadCancelledError,
        DownloadConnectionRefusedError,
        DownloadFailedError,
        DownloadTimeoutError,
        ResponseDataLossError,
    )

    if isinstance(exc, RequestRefused):
        return exc.status, exc.reason
    if isinstance(exc, StopDownload):
        return "not_article", "non_html"
    if isinstance(exc, IgnoreRequest):
        msg = str(exc)
        if "redirect" in msg.lower():
            return "error:redirect_loop", msg
        if "offsite" in msg.lower():
            return "skipped:offsite", msg
        if "maxsize" in msg.lower() or "max size" in msg.lower() or "exceeded" in msg.lower():
            return "error:too_large", msg
        return "skipped:ignored", msg
    name = type(exc).__name__
    text = str(exc)[:300] or name
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)) or "Timeout" in name:
        return "error:timeout", text
    if isinstance(exc, CannotResolveHostError) or "DNSLookup" in name:
        return "error:dns", text
    if isinstance(exc, DownloadConnectionRefusedError) or "ConnectionRefused" in name:
        return "error:connection_refused", text
    if isinstance(exc, DownloadCancelledError):
        return "error:too_large", text
    if isinstance(exc, ResponseDataLossError):
        return "error:data_loss", text
    if isinstance(exc, DownloadFailedError) or "Connection" in name:
        return "error:connection", text
    return f"error:{name.lower()}", text


class SourceSpider(scrapy.Spider):
    name = "mediawatch"

    def __init__(self, context: SourceContext, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, name=f"mediawatch:{context.source.name}", **kwargs)
        self.context = context
        self.source = context.source
        self.frontier: Frontier = context.frontier
        self.sink = context.sink
        self.accounting = context.accounting
        self.offloader = context.offloader
        self.max_depth = self.source.sections.max_depth
        self.rules = LinkRules.build(
            allowed_domains=self.source.allowed_domains,
            entry_points=self.source.entry_points,
            allow=self.source.sections.allow,
            deny=self.source.sections.deny,
        )
        self.trusted_netlocs = frozenset(urlsplit(u).netloc.casefold() for u in self.source.entry_points)
        self.max_age = parse_duration(self.source.max_age) if self.source.max_age else None
        self.revalidate_after = parse_duration(context.crawl.revalidate_after)
        self.articles_left = self.source.max_articles_per_run
        self.pages_left = self.source.max_pages_per_run
        self.scheduled: set[str] = set()
        self.outstanding: dict[str, tuple[str, str]] = {}  # canon -> (url, kind)
        self.docs: dict[str, Doc] = {}
        sitemaps = [(u, "sitemap") for u in self.source.sitemaps]
        if not (self.source.feeds or sitemaps) and self.source.robots_sitemaps:
            # Section pages only: the sitemaps a site names in robots.txt list articles with dates.
            sitemaps = [(u, "robots") for u in robots_urls(self.source.entry_points)]
        self.stages = [s for s in (
            [(u, "feed") for u in self.source.feeds],
            sitemaps,
            [(u, "listing") for u in self.source.sections.urls],
        ) if s]
        self.stage = 0
        self.stage_yield: dict[int, int] = {}
        self.close_reason = ""
        self.run_failed = False
        self.extract_seconds = 0.0
        self.extracted = 0
        self.pending_marks: list[tuple[PageItem, str]] = []  # submitted, not yet flushed
        self.flush_failed = False
        self._flush_since = self.sink.mark()  # the sink's answer covers what was submitted after it
        self._commit_lock = asyncio.Lock()
        self._log = log.bind(source=self.source.name)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "SourceSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_headers, signal=signals.headers_received)
        crawler.signals.connect(spider._on_response, signal=signals.response_received)
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
        return spider

    # -- entry --------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        if not self.stages:
            return
        stages = range(len(self.stages)) if self.source.discovery == "all" else [0]
        for idx in stages:
            for req in self._stage_requests(idx):
                yield req

    def _stage_requests(self, idx: int) -> Iterator[Request]:
        for url, kind in self.stages[idx]:
            req = self._doc_request(url, kind, stage=idx)
            if req is not None:
                yield req

    def domain_ok(self, url: str) -> bool:
        return self.rules.domain_ok(url)

    # -- accounting ---------------------------------------------------------------------------
    def finish(self, canon: str, url: str, status: str, reason: str = "", *, kind: str = "article",
               final: bool = False) -> None:
        """Record the URL's one final status for this run (and the frontier, unless ``final``)."""
        if not self.accounting.record(canon, url, status, reason):
            return
        self.outstanding.pop(canon, None)
        doc = self.docs.get(canon)
        if doc is not None and not doc.status:
            doc.status = status
        if final:
            return
        if status.startswith("error:"):
            self.frontier.mark_failed(canon, url=url, source=self.source.name, kind=kind, status=status,
                                      permanent=not is_retryable(status) and kind in ("article", "page"))
        elif status == "not_article":
            self.frontier.mark_done(canon, url=url, source=self.source.name, kind="page", status=status)

    def stats_extract(self, seconds: float) -> None:
        self.extract_seconds += seconds
        self.extracted += 1

    # -- requests -----------------------------------------------------------------------------
    def _canon(self, url: str, kind: str) -> str | None:
        """The canonical URL, or None for one nothing can fetch (counted, under itself, as skipped)."""
        try:
            return canonicalize(url)
        except BadURL as err:
            self.finish(url, url, "skipped:bad_url", err.why, kind=kind, final=True)
            return None

    def _doc_request(self, url: str, kind: str, *, stage: int, depth: int = 0, lastmod: datetime | None = None,
                     parent: str | None = None) -> Request | None:
        canon = self._canon(url, kind)
        if canon is None:
            return None
        if parent is not None:
            self.docs[parent].child_docs.append(canon)
        if canon in self.scheduled:
            return None
        self.scheduled.add(canon)
        if self.pages_left <= 0:
            self.finish(canon, url, "skipped:cap", "max_pages_per_run", kind=kind)
            return None
        state = self.frontier.get(canon)
        if (kind == "sitemap" and parent is not None and lastmod is not None and state is not None and state.done
                and state.lastmod is not None and lastmod <= state.lastmod and state.body_hash):
            self.stage_yield[stage] = self.stage_yield.get(stage, 0) + 1
            self.finish(canon, url, "seen", "sitemap lastmod unchanged", kind=kind, final=True)
            return None
        validators: dict[str, str] = {}
        if state is not None and state.done and kind in ("feed", "sitemap") and state.body_hash:
            due = state.last_full_fetch is None or _utcnow() - state.last_full_fetch >= self.revalidate_after
            if not due and not state.etag_unreliable:
                validators = {k: v for k, v in (("etag", state.etag), ("last_modified", state.last_modified)) if v}
        self.pages_left -= 1
        self.docs[canon] = Doc(canon=canon, url=url, kind=kind, stage=stage, depth=depth, parent=parent,
                               lastmod=lastmod)
        self.outstanding[canon] = (url, kind)
        callback = {"feed": self.parse_feed, "sitemap": self.parse_sitemap, "listing": self.parse_listing,
                    "robots": self.parse_robots}[kind]
        # robots.txt as a document: the robots and per-host middlewares leave it alone
        extra = {"dont_obey_robotstxt": True} if kind == "robots" else {}
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=_PRIORITY[kind] - depth,
            dont_filter=True,
            meta={
                "mw_kind": kind, "mw_canon": canon, "mw_url": url, "mw_stage": stage, "mw_depth": depth,
                "mw_validators": validators, "mw_unconditional": not validators,
                "mw_prev_etag": state.etag if state else None, "mw_prev_hash": state.body_hash if state else None,
                "mw_prev_done": bool(state and state.done), **extra,
            },
        )

    def _candidate(self, url: str, *, kind: str, stage: int, depth: int, lastmod: datetime | None = None,
                   feed_date: datetime | None = None, title: str = "", parent: str | None = None) -> Request | None:
        """An article URL (kind "article", from a feed/sitemap) or a section link (kind "page")."""
        canon = self._canon(url, kind)
        if canon is None:
            return None
        if parent is not None:
            self.docs[parent].children.append(canon)
        self.stage_yield[stage] = self.stage_yield.get(stage, 0) + 1
        if canon in self.scheduled:
            return None
        self.scheduled.add(canon)
        verdict = self.rules.check(canon, patterns=(kind == "page"))
        if verdict:
            self.finish(canon, url, f"skipped:{verdict}", kind=kind, final=True)
            return None
        date = lastmod or feed_date
        if self.max_age is not None and date is not None and date < _utcnow() - self.max_age:
            self.finish(canon, url, "skipped:too_old", date.isoformat(), kind=kind, final=True)
            return None
        state = self.frontier.get(canon)
        if state is None:
            self.frontier.discovered(canon, canon, source=self.source.name, kind=kind)
        listing = (kind == "page" and state is not None and state.kind == "listing" and depth < self.max_depth)
        if not listing and Frontier.fresh(state, lastmod):
            self.finish(canon, url, "seen", kind=kind, final=True)
            return None
        if self.pages_left <= 0:
            self.finish(canon, url, "skipped:cap", "max_pages_per_run", kind=kind, final=True)
            return None
        if not listing:
            if self.articles_left <= 0:
                self.finish(canon, url, "skipped:cap", "max_articles_per_run", kind=kind, final=True)
                return None
            self.articles_left -= 1
        self.pages_left -= 1
        previous = state.content_hash if (state is not None and state.done and state.kind == "article") else None
        self.outstanding[canon] = (url, kind)
        return Request(
            canon,
            callback=self.parse_page,
            errback=self.on_error,
            priority=_PRIORITY[kind] - depth,
            dont_filter=True,
            meta={
                "mw_kind": kind, "mw_canon": canon, "mw_url": url, "mw_stage": stage, "mw_depth": depth,
                "mw_lastmod": lastmod, "mw_feed_date": feed_date, "mw_title": title, "mw_prev_hash": previous,
            },
        )

    # -- signals ------------------------------------------------------------------------------
    def _on_headers(self, headers, body_length, request, spider=None, **_: Any) -> None:
        if request.meta.get("mw_kind") not in ("article", "page"):
            return
        ctype = (headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
        if ctype and not ctype.startswith(_HTML_TYPES):
            raise StopDownload(fail=True)

    def _on_response(self, response: Response, request: Request, spider=None, **_: Any) -> None:
        self.accounting.pages += 1
        self.accounting.bytes += len(response.body)

    def _on_idle(self, spider=None) -> None:
        if self.source.discovery == "all":
            return
        while self.stage_yield.get(self.stage, 0) == 0 and self.stage + 1 < len(self.stages):
            self.stage += 1
            self._log.info("discovery_fallback", stage=self.stages[self.stage][0][1])
            reqs = list(self._stage_requests(self.stage))
            if reqs:
                for req in reqs:
                    self.crawler.engine.crawl(req)
                raise DontCloseSpider

    def _on_closed(self, spider=None, reason: str = "") -> None:
        self.close_reason = reason
        left = "skipped:time_limit" if reason == "closespider_timeout" else "skipped:incomplete"
        for canon, (url, kind) in list(self.outstanding.items()):
            self.finish(canon, url, left, reason, kind=kind, final=True)
        top = [d for d in self.docs.values() if d.parent is None and d.depth == 0]
        ok = ("listing", "not_modified", "seen")
        self.run_failed = bool(top) and not any(d.status in ok for d in top)

    # -- durability: flush the sink, then mark ------------------------------------------------------
    async def commit(self) -> bool:
        """Flush the sink (off the loop thread), then mark the articles submitted before it done."""
        async with self._commit_lock:
            batch, self.pending_marks = self.pending_marks, []
            if not batch:
                return True
            since, self._flush_since = self._flush_since, self.sink.mark()
            try:
                stored = await asyncio.to_thread(functools.partial(self.sink.flush, since=since))
            except Exception as err:
                stored, reason = False, repr(err)
            else:
                reason = "the sink could store them neither in the index nor in its spool"
            if not stored:
                self.flush_failed = True
                self._log.error("sink_flush_failed", error=reason, articles=len(batch),
                                reason="not marked done: they are fetched again next run")
                return False
            for item, status in batch:
                self.frontier.mark_done(item.canon, url=item.url, source=self.source.name, kind="article",
                                        status=status, lastmod=item.lastmod, content_hash=item.article.content_hash,
                                        fetched_at=item.fetched_at)
                self.mark_aliases(item, status, item.article)
            return True

    async def finalize(self) -> None:
        """After the crawl: flush and mark what is left, then save the feeds' and sitemaps'
        validators (only when nothing they listed is left to do, and the flush worked)."""
        ok = await self.commit()
        if ok and not self.flush_failed:
            self._commit_documents()

    # -- documents: validators saved only when complete ------------------------------------------
    def _complete(self, canon: str, guard: set[str] | None = None) -> bool:
        guard = guard if guard is not None else set()
        if canon in guard:
            return True
        guard.add(canon)
        status = self.accounting.statuses.get(canon)
        doc = self.docs.get(canon)
        if status is None:
            return False
        if doc is None or status != "listing":
            return not is_retryable(status)
        statuses = self.accounting.statuses
        if any(statuses.get(c) is None or is_retryable(statuses[c]) for c in doc.children):
            return False
        return all(self._complete(c, guard) for c in doc.child_docs)

    def _commit_documents(self) -> None:
        for canon, doc in self.docs.items():
            if doc.pending is None:
                continue
            if doc.status == "listing" and not self._complete(canon):
                self._log.debug("document_incomplete", url=doc.url)
                continue
            p = doc.pending
            self.frontier.save_document(
                canon, url=doc.url, source=self.source.name, kind=doc.kind, status=doc.status, etag=p["etag"],
                last_modified=p["last_modified"], body_hash=p["body_hash"], lastmod=doc.lastmod,
                full_fetch=p["full_fetch"], etag_unreliable=p.get("etag_unreliable"),
            )

    # -- responses ----------------------------------------------------------------------------
    def _doc_body(self, response: Response) -> tuple[Doc, bytes] | None:
        meta = response.meta
        doc = self.docs[meta["mw_canon"]]
        stage = meta["mw_stage"]
        if response.status == 304:
            self.stage_yield[stage] = self.stage_yield.get(stage, 0) + 1
            self.finish(doc.canon, doc.url, "not_modified", "304", kind=doc.kind, final=True)
            return None
        if response.status >= 300:
            self.finish(doc.canon, doc.url, f"error:http_{response.status}", kind=doc.kind)
            return None
        body = response.body
        body_hash = hashlib.sha256(body).hexdigest()
        etag = (response.headers.get(b"ETag") or b"").decode("latin-1") or None
        last_modified = (response.headers.get(b"Last-Modified") or b"").decode("latin-1") or None
        pending = {"etag": etag, "last_modified": last_modified, "body_hash": body_hash,
                   "full_fetch": bool(meta.get("mw_unconditional"))}
        prev_hash, prev_etag = meta.get("mw_prev_hash"), meta.get("mw_prev_etag")
        if etag and prev_etag == etag and prev_hash and prev_hash != body_hash:
            self._log.warning("etag_unreliable", url=doc.url, etag=etag,
                              reason="same ETag for a changed body: conditional GET disabled for it")
            pending["etag_unreliable"] = True
            self.frontier.flag_unreliable_etag(doc.canon)
        doc.pending = pending
        if meta.get("mw_prev_done") and prev_hash == body_hash:
            self.stage_yield[stage] = self.stage_yield.get(stage, 0) + 1
            self.finish(doc.canon, doc.url, "not_modified", "same body hash", kind=doc.kind, final=True)
            return None
        return doc, body

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        got = self._doc_body(response)
        if got is None:
            return
        doc, body = got
        try:
            # in the worker pool: feedparser is pure Python, too slow for the loop thread
            feed = await self.offloader.run(parse_feed, body, response.url)
        except XMLError as err:
            doc.pending = None
            self.finish(doc.canon, doc.url, f"error:{err.reason}", err.detail, kind="feed")
            return
        except (asyncio.TimeoutError, BrokenProcessPool) as err:
            doc.pending = None
            self.finish(doc.canon, doc.url, "error:feed_parse", repr(err), kind="feed")
            return
        if feed.skipped:
            self._log.warning("feed_entries_skipped", url=doc.url, skipped=feed.skipped, problems=feed.problems)
        self.finish(doc.canon, doc.url, "listing", f"{feed.kind}: {len(feed.entries)} entries", kind="feed",
                    final=True)
        for entry in _sort_newest(feed.entries, lambda e: e.date):
            req = self._candidate(entry.url, kind="article", stage=doc.stage, depth=doc.depth + 1,
                                  lastmod=entry.updated, feed_date=entry.published or entry.updated,
                                  title=entry.title, parent=doc.canon)
            if req is not None:
                yield req

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        got = self._doc_body(response)
        if got is None:
            return
        doc, body = got
        try:
            sitemap = parse_sitemap(body, response.url)
        except XMLError as err:
            doc.pending = None
            self.finish(doc.canon, doc.url, f"error:{err.reason}", err.detail, kind="sitemap")
            return
        self.finish(doc.canon, doc.url, "listing", f"{sitemap.kind}: {len(sitemap.entries)} entries",
                    kind="sitemap", final=True)
        if sitemap.kind == "index":
            for entry in _sort_newest(sitemap.entries, lambda e: e.lastmod):
                if doc.depth + 1 > MAX_SITEMAP_DEPTH:
                    canon = self._canon(entry.loc, "sitemap")
                    if canon is None:
                        continue
                    doc.child_docs.append(canon)
                    if canon not in self.scheduled:
                        self.scheduled.add(canon)
                        self.finish(canon, entry.loc, "skipped:depth", "sitemap index nesting", kind="sitemap",
                                    final=True)
                    continue
                req = self._doc_request(entry.loc, "sitemap", stage=doc.stage, depth=doc.depth + 1,
                                        lastmod=entry.lastmod, parent=doc.canon)
                if req is not None:
                    yield req
            return
        for entry in _sort_newest(sitemap.entries, lambda e: e.date):
            req = self._candidate(entry.loc, kind="article", stage=doc.stage, depth=doc.depth + 1,
                                  lastmod=entry.lastmod, feed_date=entry.news_date or entry.lastmod,
                                  title=entry.news_title, parent=doc.canon)
            if req is not None:
                yield req

    def parse_robots(self, response: Response) -> Iterator[Request]:
        """A source without sitemaps in its config: the ``Sitemap:`` lines of its robots.txt."""
        doc = self.docs[response.meta["mw_canon"]]
        if response.status >= 500:
            self.finish(doc.canon, doc.url, f"error:http_{response.status}", kind="robots", final=True)
            return
        # A 4xx is a site without robots.txt: nothing listed, the next stage runs.
        urls = sitemaps_in_robots(response.body, response.url) if response.status < 300 else []
        self.finish(doc.canon, doc.url, "listing", f"robots.txt: {len(urls)} sitemap(s)", kind="robots", final=True)
        for url in urls:
            req = self._doc_request(url, "sitemap", stage=doc.stage, depth=doc.depth + 1, parent=doc.canon)
            if req is not None:
                yield req

    async def parse_listing(self, response: Response) -> AsyncIterator[Request]:
        meta = response.meta
        doc = self.docs[meta["mw_canon"]]
        if response.status >= 300:
            self.finish(doc.canon, doc.url, f"error:http_{response.status}", kind="listing")
            return
        if not isinstance(response, TextResponse):
            self.finish(doc.canon, doc.url, "error:not_html", kind="listing")
            return
        self.finish(doc.canon, doc.url, "listing", kind="listing", final=True)
        if self.max_depth < 1:
            return
        links = await self.offloader.run(page_links, self._page_text(response), response.url)
        for url, _text in links:
            req = self._candidate(url, kind="page", stage=doc.stage, depth=1, parent=doc.canon)
            if req is not None:
                yield req

    def _page_text(self, response: Response) -> str:
        """The page's text by our decoding rules (labels are often wrong), not Scrapy's header-first one."""
        decoded = decode_html(response.body, response.headers.get(b"Content-Type"))
        self._log.debug("charset", url=response.url, charset_header=decoded.header, charset_used=decoded.encoding,
                        why=decoded.why)
        return decoded.text

    def parse_page(self, response: Response) -> Iterator[PageItem]:
        meta = response.meta
        canon, url, kind = meta["mw_canon"], meta["mw_url"], meta["mw_kind"]
        if response.status == 304:
            self.finish(canon, url, "not_modified", "304", kind=kind)
            return
        if response.status >= 300:
            self.finish(canon, url, f"error:http_{response.status}", kind=kind)
            return
        if not isinstance(response, TextResponse):
            self.finish(canon, url, "not_article", "non_html", kind=kind)
            return
        try:
            html = self._page_text(response)
        except (UnicodeError, ValueError, LookupError) as err:
            self.finish(canon, url, "error:decode", str(err), kind=kind)
            return
        yield PageItem(
            url=canon, canon=canon, final_url=response.url, html=html, kind=kind, depth=meta["mw_depth"],
            lastmod=meta.get("mw_lastmod"), feed_date=meta.get("mw_feed_date"), title_hint=meta.get("mw_title", ""),
            fetched_at=_utcnow(), previous_hash=meta.get("mw_prev_hash"), extra={"stage": meta["mw_stage"]},
        )

    def on_not_article(self, item: PageItem, reason: str, links: list[tuple[str, str]]) -> None:
        followed = item.kind == "page" and item.depth < self.max_depth
        self.frontier.mark_done(item.canon, url=item.url, source=self.source.name,
                                kind="listing" if followed else "page", status="not_article", lastmod=item.lastmod)
        self.finish(item.canon, item.url, "not_article", reason, kind=item.kind, final=True)
        if not followed:
            return
        for url, _text in links:
            req = self._candidate(url, kind="page", stage=item.extra.get("stage", 0), depth=item.depth + 1)
            if req is not None:
                self.crawler.engine.crawl(req)

    def mark_aliases(self, item: PageItem, status: str, article: Any) -> None:
        """A redirected article is also done under its final URL."""
        final = canonicalize(item.final_url)
        if final != item.canon:
            self.frontier.mark_done(final, url=item.final_url, source=self.source.name, kind="article",
                                    status=status, lastmod=item.lastmod, content_hash=article.content_hash)

    # -- failures -----------------------------------------------------------------------------
    def on_error(self, failure) -> None:
        request = getattr(failure, "request", None)
        if request is None:
            return
        canon = request.meta.get("mw_canon")
        if canon is None:
            return
        status, reason = classify_failure(failure.value)
        kind = request.meta.get("mw_kind", "article")
        url = request.meta.get("mw_url", request.url)
        self.finish(canon, url, status, reason, kind=kind)
