"""Downloader middlewares: the SSRF guard, a per-host gate (Crawl-delay, Retry-After back-off),
a per-host concurrency cap, conditional GET and the incremental skip, 429/503 retries that honour
Retry-After, and meta refresh looked for only where the page can have one.

Order (see ``crawler.settings``): SSRFGuard 10 -> Robots 100 -> RobotsStatus 110 (``crawler.robotstxt``) -> ConditionalGet 130
-> (Scrapy's) ... -> RetryAfter 540 -> MetaRefresh 580 -> ... -> HostConcurrency 950 -> HostGate 960.

Each refusal raises :class:`RequestRefused` carrying the accounting status, so the run's
errback counts the URL exactly once with the right reason. One crawler carries many sources' runs
(``crawler.shared``): what a middleware needs of the source (its rules, trusted hosts, frontier) is
the run in the request's ``mw_run`` meta (the probe's crawler: its spider). Per host state (robots.txt,
Crawl-delay, Retry-After, the concurrency cap) is the crawler's, so it holds across the runs. Nothing here connects anywhere:
the SSRF guard resolves the host name (``getaddrinfo``) and refuses before Scrapy opens a
socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import structlog
from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from w3lib.http import basic_auth_header

from crawler.dns import PINS
from indexer.addresses import networks, reachable

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = structlog.get_logger("crawler.middlewares")

__all__ = [
    "ConditionalGetMiddleware",
    "MetaRefreshMiddleware",
    "HostConcurrencyMiddleware",
    "HostGateMiddleware",
    "RequestRefused",
    "RetryAfterMiddleware",
    "SSRFGuardMiddleware",
    "parse_retry_after",
    "run_of",
]


def run_of(request: Request, crawler: Crawler) -> Any:
    """What the request was made for: its run (``mw_run``), else the crawler's spider (the probe)."""
    return request.meta.get("mw_run") or crawler.spider


class RequestRefused(IgnoreRequest):
    """A request we decided not to send; ``status`` is what the run accounting records."""

    def __init__(self, status: str, reason: str = "") -> None:
        super().__init__(f"{status}: {reason}" if reason else status)
        self.status = status
        self.reason = reason


# -- SSRF ------------------------------------------------------------------------------------
class SSRFGuardMiddleware:
    """Refuse requests that would reach a private, loopback or link-local address.

    The hosts of the URLs the user wrote in the config (feeds, sitemaps, section pages) are
    trusted: the user chose them. Everything found in third-party content (feed entries,
    sitemap locs, links, redirects) is resolved first and refused when any of its addresses
    is not public, unless the source sets ``allow_private_addresses``. Also refuses
    non-http(s) schemes and redirects that leave the source's allowed domains.

    The addresses it approves are pinned (``crawler.dns``): the connection goes to one of them,
    whatever the host's DNS answers next. ``crawl.allowed_networks`` lists private networks that
    count as reachable (an intranet news site), finer than a source's ``allow_private_addresses``.
    """

    DNS_TIMEOUT = 10.0
    DNS_TTL = 300.0  # the crawler lives as long as the daemon: a host that moves is checked again

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._cache: dict[str, tuple[float, list[str]]] = {}  # host -> (expires, approved addresses)
        self.allowed = networks(crawler.settings.getlist("MEDIAWATCH_ALLOWED_NETWORKS"))

    def reachable(self, ip: str) -> bool:
        return reachable(ip, self.allowed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SSRFGuardMiddleware":
        return cls(crawler)

    async def resolve(self, host: str, port: int) -> list[str]:
        try:
            ipaddress.ip_address(host.strip("[]"))
            return [host.strip("[]")]
        except ValueError:
            pass
        cached = self._cache.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=self.DNS_TIMEOUT
            )
        except (OSError, asyncio.TimeoutError, UnicodeError) as err:
            raise RequestRefused("error:dns", f"cannot resolve {host}: {err}") from None
        ips = sorted({info[4][0] for info in infos})
        now = time.monotonic()
        if len(self._cache) >= 4096:
            self._cache = {h: entry for h, entry in self._cache.items() if entry[0] > now}
        self._cache[host] = (now + self.DNS_TTL, ips)
        return ips

    async def process_request(self, request: Request, spider: Any = None) -> None:
        spider = run_of(request, self.crawler)
        if getattr(spider, "closed", False) is True:  # its run ended (time limit, cancelled): the rest is not sent
            raise IgnoreRequest("the run has ended")
        parts = urlparse_cached(request)
        if parts.scheme not in ("http", "https"):
            raise RequestRefused("skipped:scheme", f"scheme {parts.scheme!r} refused")
        kind = request.meta.get("mw_kind")
        checker = getattr(spider, "domain_ok", None)
        if kind in ("article", "page") and checker is not None and not checker(request.url):
            raise RequestRefused("skipped:offsite", f"{parts.hostname} is not an allowed domain")
        source = getattr(spider, "source", None)
        if source is not None and source.allow_private_addresses:
            return None
        trusted = getattr(spider, "trusted_netlocs", frozenset())
        if parts.netloc.casefold() in trusted:
            return None
        host = parts.hostname or ""
        if not host:
            raise RequestRefused("skipped:scheme", "no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        ips = await self.resolve(host, port)
        for ip in ips:
            if not self.reachable(ip):
                raise RequestRefused("skipped:private_address", f"{host} resolves to non-public address {ip}")
        if host.strip("[]") not in ips:
            PINS.pin(host, ips)
        return None


# -- per-host gate: Crawl-delay and Retry-After -------------------------------------------------
class HostGateMiddleware:
    """Spaces requests to one host by its robots.txt Crawl-delay, and holds every request to a
    host until a Retry-After it sent has passed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_crawl_delay = crawler.settings.getfloat("MEDIAWATCH_MAX_CRAWL_DELAY", 30.0)
        self.interval: dict[str, float] = {}
        self.next_at: dict[str, float] = {}
        self.blocked_until: dict[str, float] = {}
        crawler.mediawatch_gate = self  # type: ignore[attr-defined]
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "HostGateMiddleware":
        return cls(crawler)

    def _robots_parsed(self, robotparser: Any, request: Request, **_: Any) -> None:
        try:
            delay = robotparser.crawl_delay(self.crawler.settings.get("ROBOTSTXT_USER_AGENT") or "*")
        except Exception:  # a parser without crawl_delay support
            delay = None
        netloc = urlparse_cached(request).netloc
        if delay:
            self.interval[netloc] = min(float(delay), self.max_crawl_delay)
            log.info("crawl_delay", host=netloc, seconds=self.interval[netloc], asked=float(delay))
        else:  # robots.txt read again (its time to live passed) without a Crawl-delay
            self.interval.pop(netloc, None)

    def block(self, netloc: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self.blocked_until[netloc] = max(self.blocked_until.get(netloc, 0.0), until)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return None  # robots.txt itself
        netloc = urlparse_cached(request).netloc
        now = time.monotonic()
        start = max(now, self.blocked_until.get(netloc, 0.0))
        interval = self.interval.get(netloc)
        if interval:
            start = max(start, self.next_at.get(netloc, 0.0))
            self.next_at[netloc] = start + interval
        if start > now:
            await asyncio.sleep(start - now)
        return None


# -- HTTP basic auth for the origins a source's URLs name ---------------------------------------
class CredentialsMiddleware:
    """A request of a source's run to an origin whose configured URL held ``user:password@``
    (``Source.credentials_for``) carries them as HTTP basic auth; no other request does, and a
    redirect elsewhere comes back through here without them."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "CredentialsMiddleware":
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        source = getattr(run_of(request, self.crawler), "source", None)
        credentials = source.credentials_for(request.url) if source is not None else None
        if credentials is not None and b"Authorization" not in request.headers:
            request.headers[b"Authorization"] = basic_auth_header(*credentials)
        return None


# -- conditional GET + incremental skip ----------------------------------------------------------
class ConditionalGetMiddleware:
    """Feeds, sitemaps and listing pages get If-None-Match / If-Modified-Since from the
    frontier (skipped when the ETag proved unreliable or a revalidation is due); an article
    URL the frontier already finished (e.g. the target of a redirect) is not fetched again."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ConditionalGetMiddleware":
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        frontier = getattr(run_of(request, self.crawler), "frontier", None)
        if frontier is None or request.meta.get("dont_obey_robotstxt"):
            return None
        kind = request.meta.get("mw_kind")
        if kind in ("article", "page") and request.meta.get("redirect_times"):
            from crawler.urls import canonicalize

            canon = canonicalize(request.url)
            if canon != request.meta.get("mw_canon") and frontier.is_fresh(canon, request.meta.get("mw_lastmod")):
                raise RequestRefused("seen", f"redirect target {canon} already done")
        if kind in ("feed", "sitemap") and not request.meta.get("mw_unconditional"):
            validators = request.meta.get("mw_validators") or {}
            if validators.get("etag") and b"If-None-Match" not in request.headers:
                request.headers[b"If-None-Match"] = validators["etag"]
            if validators.get("last_modified") and b"If-Modified-Since" not in request.headers:
                request.headers[b"If-Modified-Since"] = validators["last_modified"]
        return None


# -- 429 / 503 with Retry-After --------------------------------------------------------------------
def parse_retry_after(value: bytes | str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1", errors="replace")
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class RetryAfterMiddleware:
    """429 Too Many Requests / 503 Service Unavailable: hold the whole host for Retry-After
    (or an exponential back-off when the header is missing), then retry the request, up to
    ``retry_times``. A wait longer than ``max_retry_after`` gives up for this run: the URL is
    counted as error:http_429 and tried again next run."""

    CODES = (429, 503)

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("MEDIAWATCH_MAX_RETRY_AFTER", 120.0)
        self.times = crawler.settings.getint("MEDIAWATCH_RETRY_TIMES", 3)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RetryAfterMiddleware":
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if response.status not in self.CODES or request.meta.get("dont_obey_robotstxt"):
            return response
        tries = request.meta.get("mw_retry_after", 0)
        wait = parse_retry_after(response.headers.get(b"Retry-After"))
        if wait is None:
            wait = min(self.max_wait, 2.0 * (2 ** tries))
        netloc = urlparse_cached(request).netloc
        if tries >= self.times or wait > self.max_wait:
            log.warning("retry_after_give_up", url=request.url, status=response.status, wait_s=wait, tries=tries)
            return response
        gate = getattr(self.crawler, "mediawatch_gate", None)
        if gate is not None:
            gate.block(netloc, wait)
        log.info("retry_after", url=request.url, status=response.status, wait_s=round(wait, 3), attempt=tries + 1)
        retry = request.replace(dont_filter=True)
        retry.meta["mw_retry_after"] = tries + 1
        if gate is None:  # pragma: no cover - the gate is always installed by our settings
            retry.meta["download_slot_delay"] = wait
        return retry


# -- the per-host concurrency cap ------------------------------------------------------------------
class HostConcurrencyMiddleware:
    """At most CONCURRENT_REQUESTS_PER_DOMAIN requests per host inside the downloader, whichever
    runs they belong to (each run bounds its own, ``SourceRun.window``).

    Under the asyncio reactor Scrapy's downloader dispatches a slot's whole queue at once when
    DOWNLOAD_DELAY is 0, so its own per-domain cap is not enforced (seen: 11 requests in flight to
    one host with a cap of 1). This middleware runs last before the downloader and admits a request
    only while its host has a free place; the place is given back on ``request_left_downloader``,
    which Scrapy sends for every request that entered the downloader, whatever became of it.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.cap = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 1))
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._held: dict[int, asyncio.Semaphore] = {}
        crawler.signals.connect(self._left, signal=signals.request_left_downloader)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "HostConcurrencyMiddleware":
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        host = urlparse_cached(request).netloc
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = asyncio.Semaphore(self.cap)
        await gate.acquire()
        self._held[id(request)] = gate
        return None

    def _left(self, request: Request, **_: Any) -> None:
        gate = self._held.pop(id(request), None)
        if gate is not None:
            gate.release()


# Scrapy reads a meta refresh in the first 4,096 characters of the page's text: at most four bytes
# each in the encodings where the word is ASCII bytes; UTF-16 and UTF-32 pages have NULs early.
_REFRESH_WINDOW = 4 * 4096


class MetaRefreshMiddleware(ScrapyMetaRefreshMiddleware):
    """Scrapy's meta refresh, asked only of a page whose first bytes name a refresh: it decodes the whole
    body to look at its head, and every page is decoded again by our own rules (``crawler.decoding``)."""

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        body = response.body
        # bytes.lower() folds ASCII only, as a bytes pattern's IGNORECASE does, and then find() runs in C at
        # memory speed where the case-blind regex stepped through every byte
        if b"\x00" not in body[:64] and body[:_REFRESH_WINDOW].lower().find(b"refresh") < 0:
            return response
        return super().process_response(request, response)
