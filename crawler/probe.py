"""``sources add``: find a site's feeds, sitemaps or section page from its homepage, and
test-crawl a few articles, through the crawler's own Scrapy settings and middlewares.

    probe = run_blocking(probe_homepage("https://www.example.com/", crawl))
    source = propose(probe, "example")                   # a source config (dict), or ProbeError
    articles, summary = run_blocking(sample_crawl(Source(**source), crawl, articles=5))

Every request goes through the SSRF guard, robots.txt, the per-host gate and the page-size
cap exactly as a crawl's would (``engine.download_async`` applies the downloader
middlewares). The homepage's host is trusted like a URL written in the config (on the command
line; from the web app, ``trust_homepage=False``, it is checked like the rest); a feed or
sitemap on another host is resolved and refused when it is not public. The sample crawl is a
real ``CrawlRun`` of the proposed source into memory, with its own throw-away crawl state: the
index and the crawl state of the daemon are left alone.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

import scrapy
import structlog
from scrapy.http import Request, Response, TextResponse

from crawler.accounting import RunSummary
from crawler.decoding import decode_html, header_charset
from crawler.discovery.feeds import parse_feed
from crawler.discovery.homepage import feed_links, feed_paths, per_day, sitemap_paths
from crawler.discovery.robots import robots_url, sitemaps_in_robots
from crawler.discovery.sitemaps import parse_sitemap
from crawler.frontier import Frontier
from crawler.middlewares import RequestRefused
from crawler.runner import CrawlRun
from crawler.settings import scrapy_settings
from crawler.sources import CrawlSettings, Source
from crawler.urls import registrable_domain, same_site
from crawler.xml import XMLError
from indexer.article import Article

log = structlog.get_logger("crawler.probe")

__all__ = ["Found", "Probe", "ProbeError", "probe_homepage", "propose", "sample_crawl"]

MAX_INDEX_CHILDREN = 3  # child sitemaps of an index read for dates (the newest ones)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_FLOOR = datetime.min.replace(tzinfo=timezone.utc)


class ProbeError(Exception):
    """The homepage cannot be used: unreachable, an HTTP error, not HTML."""


@dataclass
class Found:
    """A feed or sitemap that parsed, and what it lists."""

    url: str
    kind: str  # rss2 | rss1 | atom | index | urlset
    via: str  # <link rel=alternate> | robots.txt | usual path
    entries: int = 0
    dates: list[datetime | None] = field(default_factory=list)
    news: bool = False

    @property
    def per_day(self) -> float | None:
        return per_day(self.dates)


@dataclass
class Probe:
    homepage: str
    final_url: str = ""
    status: int = 0
    error: str = ""
    feeds: list[Found] = field(default_factory=list)
    sitemaps: list[Found] = field(default_factory=list)
    robots_sitemaps: list[str] = field(default_factory=list)
    tried: list[tuple[str, str]] = field(default_factory=list)  # (url, why it was not used)

    @property
    def section(self) -> str | None:
        """The homepage as a section page, when it names nothing better."""
        return None if (self.feeds or self.sitemaps) else (self.final_url or self.homepage)


def _why(err: BaseException) -> str:
    if isinstance(err, RequestRefused):
        return f"{err.status} ({err.reason})" if err.reason else err.status
    text = str(err).strip()
    name = type(err).__name__
    if "ConnectionRefused" in name:
        return "connection refused"
    return f"{name}: {text[:200]}" if text else name


class ProbeSpider(scrapy.Spider):
    """Reads the homepage, then (one request at a time) robots.txt, feeds and sitemaps."""

    name = "mediawatch-probe"

    def __init__(self, homepage: str, source: Source, probe: Probe, *args: Any, trust_homepage: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.homepage = homepage
        self.source = source  # what the SSRF guard reads (allow_private_addresses)
        self.trusted_netlocs = frozenset({urlsplit(homepage).netloc.casefold()} if trust_homepage else ())
        self.probe = probe

    async def start(self) -> AsyncIterator[Request]:
        yield Request(self.homepage, callback=self.parse_home, errback=self.home_failed, dont_filter=True,
                      meta={"mw_kind": "listing"})

    def home_failed(self, failure) -> None:
        self.probe.error = f"cannot fetch the homepage {self.homepage}: {_why(failure.value)}"

    async def _get(self, url: str, kind: str) -> Response | None:
        meta: dict[str, Any] = {"mw_kind": kind}
        if kind == "robots":
            meta["dont_obey_robotstxt"] = True  # robots.txt itself: as the robots middleware fetches it
        try:
            response = await self.crawler.engine.download_async(Request(url, meta=meta, dont_filter=True))
        except Exception as err:  # refused by a middleware, or a network failure: that URL is out
            self.probe.tried.append((url, _why(err)))
            return None
        if response.status >= 300:
            self.probe.tried.append((url, f"HTTP {response.status}"))
            return None
        return response

    async def parse_home(self, response: Response) -> AsyncIterator[Any]:
        probe = self.probe
        probe.final_url, probe.status = response.url, response.status
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()
        if response.status >= 300:
            probe.error = f"the homepage {self.homepage} answered HTTP {response.status}"
            return
        if not isinstance(response, TextResponse) or (ctype and not ctype.startswith(_HTML_TYPES)):
            probe.error = f"the homepage {self.homepage} is not an HTML page (Content-Type: {ctype or 'none'})"
            return
        html = decode_html(response.body, response.headers.get(b"Content-Type")).text
        linked = feed_links(html, response.url)
        for url in linked or feed_paths(response.url):
            await self._feed(url, "<link rel=alternate>" if linked else "usual path")
            if probe.feeds and not linked:
                break  # /feed, /rss and /atom.xml are mostly one feed under several names: the first that parses
        robots = await self._get(robots_url(response.url), "robots")
        if robots is not None:
            probe.robots_sitemaps = sitemaps_in_robots(robots.body, robots.url)
        named = probe.robots_sitemaps
        for url in named or sitemap_paths(response.url):
            await self._sitemap(url, "robots.txt" if named else "usual path")
            if probe.sitemaps and not named:
                break  # the usual paths often name the same sitemap twice: the first that parses
        return
        yield  # an async generator callback, with nothing to yield

    async def _feed(self, url: str, via: str) -> None:
        response = await self._get(url, "feed")
        if response is None:
            return
        url = response.url  # after redirects: the address to write in the config
        if any(f.url == url for f in self.probe.feeds):
            return
        try:
            feed = parse_feed(response.body, response.url, header_charset(response.headers.get(b"Content-Type")))
        except XMLError as err:
            self.probe.tried.append((url, f"not a feed ({err.reason})"))
            return
        self.probe.feeds.append(Found(url=url, kind=feed.kind, via=via, entries=len(feed.entries),
                                      dates=[e.published or e.updated for e in feed.entries]))

    async def _sitemap(self, url: str, via: str) -> None:
        response = await self._get(url, "sitemap")
        if response is None:
            return
        try:
            sitemap = parse_sitemap(response.body, response.url, header_charset(response.headers.get(b"Content-Type")))
        except XMLError as err:
            self.probe.tried.append((url, f"not a sitemap ({err.reason})"))
            return
        found = Found(url=url, kind=sitemap.kind, via=via)
        pages = [sitemap]
        if sitemap.kind == "index":
            newest = sorted(sitemap.entries, key=lambda e: e.lastmod or _FLOOR, reverse=True)
            children = sorted(newest, key=lambda e: "news" not in e.loc.lower())  # news sitemaps first
            for child in children[:MAX_INDEX_CHILDREN]:
                got = await self._get(child.loc, "sitemap")
                if got is None:
                    continue
                try:
                    pages.append(parse_sitemap(got.body, got.url, header_charset(got.headers.get(b"Content-Type"))))
                except XMLError as err:
                    self.probe.tried.append((child.loc, f"not a sitemap ({err.reason})"))
        listed: dict[str, datetime | None] = {}  # an index's sitemaps often list a URL twice (news, pages)
        for page in pages:
            if page.kind != "urlset":
                continue
            for e in page.entries:
                listed[e.loc] = listed.get(e.loc) or e.news_date or e.lastmod
            found.news = found.news or page.is_news
        found.entries, found.dates = len(listed), list(listed.values())
        self.probe.sitemaps.append(found)


def _probe_source(homepage: str) -> Source:
    return Source(name="probe", sections={"urls": [homepage]})


async def probe_homepage(homepage: str, crawl: CrawlSettings, *, trust_homepage: bool = True) -> Probe:
    """Fetch the homepage, its robots.txt and candidate feeds and sitemaps; never raises for
    what the site answers (``Probe.error`` says what went wrong with the homepage). Without
    ``trust_homepage`` (a URL typed in the web app) the SSRF guard checks the homepage's host too."""
    from scrapy.crawler import AsyncCrawlerRunner

    source = _probe_source(homepage)
    settings = scrapy_settings(crawl, source)
    settings["ITEM_PIPELINES"] = {}
    settings["CLOSESPIDER_TIMEOUT"] = 0
    probe = Probe(homepage=homepage)
    runner = AsyncCrawlerRunner(settings)
    await runner.crawl(ProbeSpider, homepage=homepage, source=source, probe=probe, trust_homepage=trust_homepage)
    log.info("homepage_probed", homepage=homepage, error=probe.error or None, feeds=len(probe.feeds),
             sitemaps=len(probe.sitemaps), tried=len(probe.tried))
    return probe


def propose(probe: Probe, name: str) -> dict[str, Any]:
    """The source a probe suggests: its feeds and sitemaps, else the homepage as a section page."""
    if probe.error:
        raise ProbeError(probe.error)
    source: dict[str, Any] = {"name": name}
    if probe.feeds:
        source["feeds"] = [f.url for f in probe.feeds]
    if probe.sitemaps:
        source["sitemaps"] = [s.url for s in probe.sitemaps]
    if probe.section:
        source["sections"] = {"urls": [probe.section]}
    home = probe.final_url or probe.homepage
    if any(not same_site(f.url, home) for f in [*probe.feeds, *probe.sitemaps]):
        # A feed on a feed service: without this its articles, on the site itself, would be off-site.
        source["allowed_domains"] = [registrable_domain(home) or urlsplit(home).hostname]
    return source


class _Memory:
    """The sink of a sample crawl: articles stay in memory, nothing reaches the index."""

    def __init__(self) -> None:
        self.articles: list[Article] = []

    def submit(self, article: Article) -> None:
        self.articles.append(article)

    def mark(self) -> int:
        return len(self.articles)

    def flush(self, timeout: float | None = None, *, since: int = 0) -> bool:
        return True


async def sample_crawl(source: Source, crawl: CrawlSettings, *, articles: int = 5,
                       max_seconds: float = 120) -> tuple[list[Article], RunSummary]:
    """Crawl up to ``articles`` articles of ``source`` into memory, as the daemon would."""
    sample = source.model_copy(update={"max_articles_per_run": articles,
                                       "max_pages_per_run": max(20, 4 * articles)})
    sink = _Memory()
    with tempfile.TemporaryDirectory(prefix="mediawatch-probe-") as tmp:
        settings = crawl.model_copy(update={
            "state_path": str(Path(tmp) / "crawl.sqlite3"),
            "max_run_seconds": min(crawl.max_run_seconds or max_seconds, max_seconds),
            "extraction_pool": "thread",
        })
        frontier = Frontier(settings.state_path)
        try:
            summaries = await CrawlRun([sample], settings, sink, frontier=frontier).run()
        finally:
            frontier.close()
    return sink.articles, summaries[sample.name]
