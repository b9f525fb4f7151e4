"""robots.txt, per host, for every run of the crawler: fetched once and kept ``crawl.robots_ttl``,
with RFC 9309's reading of its status (5xx: disallow everything for a while; 4xx: no rules).

Order (see ``crawler.settings``): ... SSRFGuard 10 -> Robots 100 -> RobotsStatus 110 -> ...
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import structlog
from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object

from crawler.middlewares import RequestRefused

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = structlog.get_logger("crawler.middlewares")

__all__ = ["RobotsMiddleware", "RobotsStatusMiddleware"]


class RobotsMiddleware:
    """robots.txt, fetched once per host and kept ``MEDIAWATCH_ROBOTS_TTL`` seconds: the crawler lives
    as long as the daemon, so a host's rules are read once a day, not before every run. A 5xx answer
    (disallow all, see ``RobotsStatusMiddleware``) or a failed fetch is kept only ``RETRY_S``: the
    site is asked again soon. A refusal raises ``RequestRefused("skipped:robots")``; every parse
    sends Scrapy's ``robots_parsed`` signal (the host gate reads Crawl-delay from it)."""

    RETRY_S = 60.0
    PRIORITY = 1000  # before anything else waiting: every request to the host waits for it

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.token = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get("USER_AGENT")
        self.ttl = crawler.settings.getfloat("MEDIAWATCH_ROBOTS_TTL", 86400.0)
        self.parser_class = load_object(crawler.settings.get("ROBOTSTXT_PARSER"))
        self._rules: dict[str, tuple[float, Any]] = {}  # netloc -> (expires, parser or None: no rules)
        self._fetching: dict[str, asyncio.Future] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RobotsMiddleware":
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return None
        parser = await self.rules(request)
        if parser is not None and not parser.allowed(request.url, self.token):
            raise RequestRefused("skipped:robots", "forbidden by robots.txt")
        return None

    async def rules(self, request: Request) -> Any:
        parts = urlparse_cached(request)
        netloc = parts.netloc
        cached = self._rules.get(netloc)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        waiting = self._fetching.get(netloc)
        if waiting is None:
            waiting = self._fetching[netloc] = asyncio.ensure_future(self._fetch(request, parts.scheme, netloc))
            waiting.add_done_callback(lambda _f: self._fetching.pop(netloc, None))
        return await asyncio.shield(waiting)

    async def _fetch(self, request: Request, scheme: str, netloc: str) -> Any:
        # robots.txt goes through the same guards as the request that needs it (its run's SSRF trust)
        carried = {k: request.meta[k] for k in ("mw_run", "download_maxsize", "download_warnsize") if k in request.meta}
        robots = Request(f"{scheme}://{netloc}/robots.txt", priority=self.PRIORITY, callback=NO_CALLBACK,
                         headers={b"User-Agent": request.headers[b"User-Agent"]} if b"User-Agent" in request.headers
                         else None, meta={"dont_obey_robotstxt": True, **carried})
        parser, keep = None, self.RETRY_S
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest:
            pass  # refused by a guard: no rules known, asked again soon
        except Exception as err:
            log.warning("robots_fetch_failed", host=netloc, error=repr(err)[:300])
        else:
            parser = self.parser_class.from_crawler(self.crawler, response.body)
            keep = self.RETRY_S if response.status >= 500 else self.ttl
            await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser,
                                                            request=request)
        now = time.monotonic()
        if len(self._rules) >= 4096 and len(self._rules) % 1024 == 0:
            self._rules = {h: entry for h, entry in self._rules.items() if entry[0] > now}
        self._rules[netloc] = (now + keep, parser)
        return parser


_DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class RobotsStatusMiddleware:
    """RFC 9309 for the answer to robots.txt, which Scrapy parses whatever its status: a 5xx means
    "disallow everything" for this run (the site may be down, or hiding its rules), a 4xx means
    "no rules". Rewrites the response the robots middleware is about to parse, so that Scrapy's
    own parser and ``robots_parsed`` signal serve us unchanged."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RobotsStatusMiddleware":
        return cls()

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        if not request.meta.get("dont_obey_robotstxt") or urlparse_cached(request).path != "/robots.txt":
            return response
        if response.status >= 500:
            log.warning("robots_unavailable", url=response.url, status=response.status,
                        reason="5xx: treating the host as disallowed for this run")
            return response.replace(body=_DISALLOW_ALL)
        if response.status >= 400 or response.status == 304:
            return response.replace(body=b"")
        return response
