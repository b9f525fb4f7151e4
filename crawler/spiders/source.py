"""The spider of one source's run: feeds -> sitemaps -> section pages -> article pages.

Discovery stages run in order: feeds, then sitemaps (news or not), then section pages. With
``discovery: fallback`` (the default) a later stage starts only when the earlier one found
nothing: every document of the stage failed, was refused, or listed no URL (a 304 counts as
"found": the feed is fine and unchanged). ``discovery: all`` runs every stage at once.

Every URL the run touches is counted exactly once (``crawler.outcomes``) with its final status:

    listing        a feed / sitemap / section page fetched and parsed
    not_modified   a 304, or the same body hash (feeds, sitemaps), or the same text (articles)
    new / updated  an article handed to the sink (first time / its date said it changed)
    seen           known and finished in an earlier run, not fetched
    not_article    fetched, but extraction says it is not an article (or it is not HTML)
    skipped:<why>  robots, offsite, private_address, cap, too_old, denied, time_limit, bad_url, ...
    error:<kind>   http_404, timeout, dns, too_large, xml_entities, xml_malformed, extract, ingest, ...

Which URL is requested is ``spiders.requests``' job, the documents' validators
``spiders.documents``'; the item pipelines extract and store what ``parse_page`` yields.

A run is not a Scrapy spider: many sources' runs share one long-lived crawler (``crawler.shared``,
``spiders.hub``). Each request carries its run in ``meta["mw_run"]`` and has the run's bound methods as
callbacks; the run ends when nothing it asked for is outstanding and it has nothing more to ask
(Scrapy's ``spider_idle``, per run), at its time limit, or when its caller is cancelled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import structlog
from scrapy.exceptions import StopDownload
from scrapy.http import Request, Response, TextResponse

from crawler.context import SourceContext
from crawler.decoding import decode_html, header_charset, log_decision
from crawler.discovery.feeds import parse_feed
from crawler.discovery.robots import robots_urls, sitemaps_in_robots
from crawler.discovery.sitemaps import MAX_ENTRIES, parse_sitemap
from crawler.items import PageItem
from crawler.pipelines import page_links
from crawler.settings import source_meta, user_agent
from crawler.spiders.documents import Documents
from crawler.spiders.failures import classify_failure
from crawler.spiders.requests import RequestPlanner
from crawler.xml import XMLError

log = structlog.get_logger("crawler.spider")

MAX_SITEMAP_DEPTH = 3
_HTML_TYPES = (b"text/html", b"application/xhtml+xml", b"application/xml+xhtml", b"text/plain")


def _charset(response: Response) -> str | None:
    return header_charset(response.headers.get(b"Content-Type"))


def _sort_newest(items, key):
    floor = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(items, key=lambda e: key(e) or floor, reverse=True)


class SourceRun:
    """One source's run inside the shared crawler: its stages, requests, callbacks and accounting.

    ``begin(schedule)`` hands its first requests to ``schedule`` (the engine's ``crawl``); ``done``
    resolves with the close reason (``finished``, ``closespider_timeout``, ``cancelled``).

    At most ``crawl.concurrent_requests`` of the run's URLs are in the crawler at once, from the
    request's hand-over until the URL's status is final (fetched, extracted and handed to the sink,
    or failed); the rest wait here, highest priority first. Scrapy's own bound on pages waiting for
    their callbacks stops taking requests from its scheduler, but a crawler carrying many runs
    admits thousands to its downloader, and every page they bring is held until it is processed.
    """

    def __init__(self, context: SourceContext) -> None:
        self.context = context
        self.source = context.source
        # read by the downloader middlewares (through the request's mw_run)
        self.frontier = context.frontier
        self.trusted_netlocs = frozenset(urlsplit(u).netloc.casefold() for u in self.source.entry_points)
        self.accounting = context.accounting
        self.outcomes = context.outcomes
        self.offloader = context.offloader
        self.max_depth = self.source.sections.max_depth
        self.documents = Documents(self.source.name, context.frontier, context.outcomes,
                                   found=lambda stage: self.requests.found(stage))
        headers = {"User-Agent": user_agent(context.crawl, self.source)} if self.source.user_agent else {}
        self.requests = RequestPlanner(context, self.documents, callbacks={
            "feed": self.parse_feed, "sitemap": self.parse_sitemap, "listing": self.parse_listing,
            "robots": self.parse_robots, "page": self.parse_page, "error": self.on_error,
        }, meta={"mw_run": self, **source_meta(self.source)}, headers=headers)
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
        self.close_reason = ""
        self.run_failed = False
        self.closed = False
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._schedule: Callable[[Request], None] | None = None
        self.window = max(1, context.crawl.concurrent_requests)
        self._waiting: list[tuple[int, int, Request]] = []  # a heap: (-priority, order, request)
        self._order = itertools.count()
        self._in_flight: set[str] = set()  # canonical URLs handed to the crawler and not finished
        self._check_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._log = log.bind(source=self.source.name)
        self.outcomes.on_settled = self._poke
        self.outcomes.on_finished = self._finished

    # -- entry --------------------------------------------------------------------------------
    def begin(self, schedule: Callable[[Request], None]) -> None:
        self._schedule = schedule
        limit = self.context.crawl.max_run_seconds
        if limit:
            self._timer = asyncio.get_running_loop().call_later(limit, self.close, "closespider_timeout")
        stages = range(len(self.stages)) if self.source.discovery == "all" else [0]
        for idx in stages if self.stages else ():
            for req in self._stage_requests(idx):
                self._send(req)
        self._poke()  # nothing to fetch at all (every entry point skipped): the run ends here

    def _stage_requests(self, idx: int) -> Iterator[Request]:
        for url, kind in self.stages[idx]:
            req = self.requests.document(url, kind, stage=idx)
            if req is not None:
                yield req

    def domain_ok(self, url: str) -> bool:
        return self.requests.rules.domain_ok(url)

    # -- the run's window of requests in the crawler ----------------------------------------------
    def _send(self, req: Request) -> None:
        heapq.heappush(self._waiting, (-req.priority, next(self._order), req))
        self._fill()

    def _fill(self) -> None:
        while self._waiting and len(self._in_flight) < self.window and not self.closed:
            req = heapq.heappop(self._waiting)[2]
            self._in_flight.add(req.meta["mw_canon"])
            self._schedule(req)

    def _finished(self, canon: str) -> None:
        if canon in self._in_flight:
            self._in_flight.discard(canon)
            self._fill()

    # -- the run's own idle and end -------------------------------------------------------------
    def _poke(self) -> None:
        """Nothing of the run is outstanding: look once the callback that said so has sent its requests."""
        if not self._check_due and not self.closed:
            self._check_due = True
            asyncio.get_running_loop().call_soon(self._check_idle)

    def _check_idle(self) -> None:
        """Follow the links the pipelines listed for non-article section pages, then (with
        ``discovery: fallback``) start the next stage while the current one found nothing; else end."""
        self._check_due = False
        if self.closed or self.outcomes.outstanding:
            return
        reqs = [req for url, stage, depth in self.outcomes.take_listed()
                if (req := self.requests.candidate(url, kind="page", stage=stage, depth=depth)) is not None]
        while not reqs and self.source.discovery != "all" and self.requests.stage_yield.get(self.stage, 0) == 0 \
                and self.stage + 1 < len(self.stages):
            self.stage += 1
            self._log.info("discovery_fallback", stage=self.stages[self.stage][0][1])
            reqs = list(self._stage_requests(self.stage))
        if reqs and self._schedule is not None:
            for req in reqs:
                self._send(req)
            return
        if not self.outcomes.outstanding:
            self.close("finished")

    def close(self, reason: str) -> None:
        """The run ends: what is still out gets its status (time limit, incomplete); later answers to
        its requests are ignored."""
        if self.closed:
            return
        self.closed = True
        self._waiting.clear()
        if reason == "cancelled":
            self.outcomes.stop_commits()
        if self._timer is not None:
            self._timer.cancel()
        self.close_reason = reason
        left = "skipped:time_limit" if reason == "closespider_timeout" else "skipped:incomplete"
        self.outcomes.abandon(left, reason)
        self.run_failed = self.documents.none_read()
        if not self.done.done():
            self.done.set_result(reason)

    def failed_callback(self, meta: dict[str, Any], error: BaseException) -> None:
        """A callback or an item pipeline raised: the URL ends as incomplete (the next run tries it again)."""
        canon = meta.get("mw_canon")
        # said here: Scrapy's own line for it is not shown (logs.py), and a URL already counted (a feed
        # listed before its entries were read) would end with no trace of it
        self.accounting.failure(meta.get("mw_url", canon) or "", error)
        if canon is not None and not self.closed:
            self.outcomes.finish(canon, meta.get("mw_url", canon), "skipped:incomplete", repr(error)[:200],
                                 kind=meta.get("mw_kind", "article"), final=True)

    # -- signals (dispatched by the hub spider) ----------------------------------------------------
    def on_headers(self, headers, request: Request) -> None:
        if request.meta.get("mw_kind") not in ("article", "page"):
            return
        ctype = (headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
        if ctype and not ctype.startswith(_HTML_TYPES):
            raise StopDownload(fail=True)

    def on_response(self, response: Response) -> None:
        self.accounting.pages += 1
        self.accounting.bytes += len(response.body)

    async def finalize(self) -> None:
        """After the crawl: flush and mark what is left, then save the feeds' and sitemaps'
        validators (only when nothing they listed is left to do, and the flush worked)."""
        ok = await self.outcomes.commit()
        if ok and not self.outcomes.flush_failed:
            self.documents.save_validators()

    # -- responses ----------------------------------------------------------------------------
    async def parse_feed(self, response: Response) -> None:
        got = None if self.closed else self.documents.body(response)
        if got is None:
            return
        doc, body = got
        try:
            # in the worker pool: feedparser is pure Python, too slow for the loop thread
            feed = await self.offloader.run(parse_feed, body, response.url, _charset(response))
        except XMLError as err:
            doc.pending = None
            self.outcomes.finish(doc.canon, doc.url, f"error:{err.reason}", err.detail, kind="feed")
            return
        except (asyncio.TimeoutError, BrokenProcessPool) as err:
            doc.pending = None
            self.outcomes.finish(doc.canon, doc.url, "error:feed_parse", repr(err), kind="feed")
            return
        if self.closed:  # its time limit passed while the pool parsed
            return
        if feed.skipped:
            self._log.warning("feed_entries_skipped", url=doc.url, skipped=feed.skipped, problems=feed.problems)
        for entry in _sort_newest(feed.entries, lambda e: e.date):
            req = self.requests.candidate(entry.url, kind="article", stage=doc.stage, depth=doc.depth + 1,
                                          lastmod=entry.date, feed_date=entry.published or entry.updated,
                                          title=entry.title, parent=doc.canon)
            if req is not None:
                self._send(req)
        # listed once its entries are: reading them may fail (the crawl state full), and then the feed
        # ends as incomplete, an error of the run (failed_callback), not as listed
        self.outcomes.finish(doc.canon, doc.url, "listing", f"{feed.kind}: {len(feed.entries)} entries",
                             kind="feed", final=True)

    def parse_sitemap(self, response: Response) -> None:
        got = None if self.closed else self.documents.body(response)
        if got is None:
            return
        doc, body = got
        try:
            sitemap = parse_sitemap(body, response.url, _charset(response))
        except XMLError as err:
            doc.pending = None
            self.outcomes.finish(doc.canon, doc.url, f"error:{err.reason}", err.detail, kind="sitemap")
            return
        if sitemap.skipped or sitemap.truncated:
            self._log.warning("sitemap_entries_skipped", url=doc.url, skipped=sitemap.skipped,
                              truncated_at=MAX_ENTRIES if sitemap.truncated else None)
        self.outcomes.finish(doc.canon, doc.url, "listing", f"{sitemap.kind}: {len(sitemap.entries)} entries",
                             kind="sitemap", final=True)
        if sitemap.kind == "index":
            for entry in _sort_newest(sitemap.entries, lambda e: e.lastmod):
                if doc.depth + 1 > MAX_SITEMAP_DEPTH:
                    self.requests.skip_nested_sitemap(doc, entry.loc)
                    continue
                req = self.requests.document(entry.loc, "sitemap", stage=doc.stage, depth=doc.depth + 1,
                                             lastmod=entry.lastmod, parent=doc.canon)
                if req is not None:
                    self._send(req)
            return
        for entry in _sort_newest(sitemap.entries, lambda e: e.date):
            req = self.requests.candidate(entry.loc, kind="article", stage=doc.stage, depth=doc.depth + 1,
                                          lastmod=entry.lastmod, feed_date=entry.news_date or entry.lastmod,
                                          title=entry.news_title, parent=doc.canon)
            if req is not None:
                self._send(req)

    def parse_robots(self, response: Response) -> None:
        """A source without sitemaps in its config: the ``Sitemap:`` lines of its robots.txt."""
        if self.closed:
            return
        doc = self.documents[response.meta["mw_canon"]]
        if response.status >= 500:
            self.outcomes.finish(doc.canon, doc.url, f"error:http_{response.status}", kind="robots", final=True)
            return
        # A 4xx is a site without robots.txt: nothing listed, the next stage runs.
        urls = sitemaps_in_robots(response.body, response.url) if response.status < 300 else []
        self.outcomes.finish(doc.canon, doc.url, "listing", f"robots.txt: {len(urls)} sitemap(s)", kind="robots",
                             final=True)
        for url in urls:
            req = self.requests.document(url, "sitemap", stage=doc.stage, depth=doc.depth + 1, parent=doc.canon)
            if req is not None:
                self._send(req)

    async def parse_listing(self, response: Response) -> None:
        if self.closed:
            return
        doc = self.documents[response.meta["mw_canon"]]
        if response.status >= 300:
            self.outcomes.finish(doc.canon, doc.url, f"error:http_{response.status}", kind="listing")
            return
        if not isinstance(response, TextResponse):
            self.outcomes.finish(doc.canon, doc.url, "error:not_html", kind="listing")
            return
        # The links first: once the page is finished the run may have nothing outstanding, and it
        # ends unless the requests for its links are asked for without a pause in between.
        links = await self.offloader.run(page_links, self._page_text(response), response.url) \
            if self.max_depth >= 1 else []
        if not self.outcomes.finish(doc.canon, doc.url, "listing", kind="listing", final=True):
            return
        for url, _text in links:
            req = self.requests.candidate(url, kind="page", stage=doc.stage, depth=1, parent=doc.canon)
            if req is not None:
                self._send(req)

    def _page_text(self, response: Response) -> str:
        """The page's text by our decoding rules (labels are often wrong), not Scrapy's header-first one."""
        decoded = decode_html(response.body, response.headers.get(b"Content-Type"))
        log_decision(self._log, response.url, decoded)
        return decoded.text

    def parse_page(self, response: Response) -> Iterator[PageItem]:
        if self.closed:
            return
        meta = response.meta
        canon, url, kind = meta["mw_canon"], meta["mw_url"], meta["mw_kind"]
        if response.status == 304:
            self.outcomes.finish(canon, url, "not_modified", "304", kind=kind)
            return
        if response.status >= 300:
            self.outcomes.finish(canon, url, f"error:http_{response.status}", kind=kind)
            return
        if not isinstance(response, TextResponse):
            self.outcomes.finish(canon, url, "not_article", "non_html", kind=kind)
            return
        yield PageItem(
            canon=canon, final_url=response.url, body=response.body, content_type=response.headers.get(b"Content-Type"),
            url=url, kind=kind, depth=meta["mw_depth"],
            lastmod=meta.get("mw_lastmod"), feed_date=meta.get("mw_feed_date"), title_hint=meta.get("mw_title", ""),
            fetched_at=datetime.now(timezone.utc), previous_hash=meta.get("mw_prev_hash"),
            extra={"stage": meta["mw_stage"]}, run=self,
        )

    # -- failures -----------------------------------------------------------------------------
    def on_error(self, failure) -> None:
        request = getattr(failure, "request", None)
        if request is None or self.closed:
            return
        canon = request.meta.get("mw_canon")
        if canon is None:
            return
        status, reason = classify_failure(failure.value)
        kind = request.meta.get("mw_kind", "article")
        url = request.meta.get("mw_url", request.url)
        self.outcomes.finish(canon, url, status, reason, kind=kind)
