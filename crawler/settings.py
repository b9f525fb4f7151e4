"""Scrapy settings as data, derived from the config's ``crawl:`` block and a ``Source``.

Nothing here reads files or the environment: ``shared_settings(crawl)`` is the plain dict of the
long-lived crawler many sources' runs share (``crawler.shared``), ``source_meta(source)`` what one
source sets per request (page-size caps; its user agent is a header), and ``scrapy_settings(crawl,
source)`` the settings of a crawler of one source's own (the ``sources add`` probe). Scrapy's own logging is off
(``LOG_ENABLED = False``); its stdlib loggers still propagate to the root logger, which
``scheduler.logs`` routes through structlog's processors, so every line looks alike.
"""

from __future__ import annotations

from typing import Any

from crawler.sources import CrawlSettings, Source, parse_duration

try:  # the installed distribution's version; a source checkout falls back to pyproject's
    from importlib.metadata import version

    VERSION = version("mediawatch")
except Exception:  # PackageNotFoundError or no metadata at all
    VERSION = "0.1.0"

ROBOTS_TOKEN = "mediawatch"  # the product token robots.txt groups are matched against
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# Scrapy's RetryMiddleware keeps the transient server/network errors; 429 and 503 go to ours,
# which honours Retry-After.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]


def user_agent(crawl: CrawlSettings, source: Source | None = None) -> str:
    if source is not None and source.user_agent:
        return source.user_agent
    return f"{ROBOTS_TOKEN}/{VERSION} (+{crawl.user_agent_contact})"


def scrapy_settings(crawl: CrawlSettings, source: Source | None = None) -> dict[str, Any]:
    """The complete Scrapy settings of one source's crawl."""
    max_bytes = source.max_page_bytes if source is not None else 5_000_000
    delay = crawl.download_delay
    settings: dict[str, Any] = {
        "BOT_NAME": "mediawatch",
        "TWISTED_REACTOR": REACTOR,
        "TWISTED_REACTOR_ENABLED": True,
        "LOG_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "USER_AGENT": user_agent(crawl, source),
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": ROBOTS_TOKEN,
        "ROBOTSTXT_PARSER": "scrapy.robotstxt.ProtegoRobotParser",
        # politeness
        "CONCURRENT_REQUESTS": crawl.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_requests_per_host,
        # Our callbacks yield at most one item per response (a page's PageItem) and requests,
        # which are scheduled synchronously: Scrapy's default of 100 only meant 100 idle worker
        # tasks created per response, all of them work for the reactor thread.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(1.0, delay),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(min(2, crawl.concurrent_requests_per_host)),
        # bounds
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "DOWNLOAD_MAXSIZE": max_bytes,
        "DOWNLOAD_WARNSIZE": max(max_bytes // 2, 1),
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
        "REDIRECT_ENABLED": True,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "METAREFRESH_ENABLED": True,
        "METAREFRESH_MAXDELAY": 10,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 1,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "URLLENGTH_LIMIT": 0,  # ours (crawler.spiders.requests.MAX_URL_LENGTH): counted, not dropped unseen
        "DEPTH_LIMIT": 0,  # depth is ours (per source, sections only)
        "CLOSESPIDER_TIMEOUT": crawl.max_run_seconds or 0,
        "COOKIES_ENABLED": False,
        # dedup is ours (canonical URLs, counted once), so Scrapy's filter stays out of the way
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "HTTPERROR_ALLOW_ALL": True,  # the spider accounts for every status itself
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "MEMUSAGE_ENABLED": False,
        "STATS_DUMP": False,
        "DNSCACHE_ENABLED": True,
        "DNS_TIMEOUT": 20,
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "*",
        },
        # LogCount adds a handler to the root logger per crawler (each log line then passes through every
        # live crawler's), LogStats a timer per crawler: the daemon's counts are its own (Outcomes, /metrics).
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None, "scrapy.extensions.logcount.LogCount": None,
                       "scrapy.extensions.logstats.LogStats": None},
        "DOWNLOADER_MIDDLEWARES": {
            # first: nothing leaves for a private address or an off-site host
            "crawler.middlewares.SSRFGuardMiddleware": 10,
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robotstxt.RobotsMiddleware": 100,
            # before Scrapy's retries (550) in the response chain: it sees robots.txt's final answer
            "crawler.robotstxt.RobotsStatusMiddleware": 110,
            "crawler.middlewares.CredentialsMiddleware": 120,
            "crawler.middlewares.ConditionalGetMiddleware": 130,
            "crawler.middlewares.RetryAfterMiddleware": 540,
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "crawler.middlewares.MetaRefreshMiddleware": 580,
            # last before the downloader: the per-host cap counts only what is really in it, and a
            # request takes its Crawl-delay / Retry-After turn only once it holds a place under the cap
            # (spaced earlier, two requests held at the cap would leave together)
            "crawler.middlewares.HostConcurrencyMiddleware": 950,
            "crawler.middlewares.HostGateMiddleware": 960,
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
        },
        "ITEM_PIPELINES": {
            "crawler.pipelines.ExtractPipeline": 300,
            "crawler.pipelines.IngestPipeline": 400,
        },
        # mediawatch's own knobs, read by the middlewares
        "MEDIAWATCH_MAX_RETRY_AFTER": crawl.max_retry_after,
        "MEDIAWATCH_RETRY_TIMES": crawl.retry_times,
        "MEDIAWATCH_MAX_CRAWL_DELAY": crawl.max_crawl_delay,
        "MEDIAWATCH_ALLOWED_NETWORKS": list(crawl.allowed_networks),
        "MEDIAWATCH_ROBOTS_TTL": parse_duration(crawl.robots_ttl).total_seconds(),
    }
    return settings


def shared_settings(crawl: CrawlSettings) -> dict[str, Any]:
    """The settings of the crawler that every source's run of one ``crawl:`` block shares: what Scrapy
    has only per crawler is the same for all of them, the rest is per request (``source_meta``)."""
    settings = scrapy_settings(crawl, None)
    # Scrapy's request cap is per crawler, and the crawler carries every run in flight: each run keeps its own
    # share (``SourceRun.window``), the per-host cap and delay keep each site's load down.
    settings["CONCURRENT_REQUESTS"] = min(4096, crawl.concurrent_requests * crawl.max_concurrent_crawls)
    # The time limit is each run's own (crawler.shared), not the long-lived crawler's.
    settings["CLOSESPIDER_TIMEOUT"] = 0
    return settings


def source_meta(source: Source) -> dict[str, Any]:
    """Request meta of every request of ``source``'s run: its page-size caps (Scrapy reads them per request)."""
    return {"download_maxsize": source.max_page_bytes, "download_warnsize": max(source.max_page_bytes // 2, 1)}
