"""What a user declares about a news site: the Source model, validated at config load."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from crawler.urls import check_http_url, origin, split_credentials
from indexer.addresses import networks

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: str | int | float) -> timedelta:
    """'15m' / '2h' / '30s' / '1d' or a number of seconds."""
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 1d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@functools.lru_cache(maxsize=256)  # sources share a few cron lines; an impossible one is sought year by year
def _cron_fires(cron: str) -> bool:
    """Whether the cron line ever fires, read by the parser the daemon uses (ValueError when it cannot)."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(cron, timezone=timezone.utc)
    return trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=timezone.utc)) is not None


class Schedule(BaseModel):
    """Either a fixed interval (`every: 15m`) or a crontab line (`cron: "*/10 * * * *"`)."""

    model_config = ConfigDict(extra="forbid")

    every: str | None = "15m"
    cron: str | None = None
    jitter: str = "30s"

    @model_validator(mode="after")
    def _one_of(self) -> "Schedule":
        if self.cron:
            self.every = None
            if len(self.cron.split()) != 5:
                raise ValueError(f"cron needs 5 fields, got {self.cron!r}")
            try:
                fires = _cron_fires(self.cron)
            except ValueError as err:
                raise ValueError(f"invalid cron {self.cron!r}: {err}") from None
            if not fires:  # the 31st of February: the source would never be crawled
                raise ValueError(f"cron {self.cron!r} never fires: no day matches it (a day must match both the "
                                 "day of the month and the day of the week when both are set)")
        elif self.every:
            if parse_duration(self.every) < timedelta(seconds=1):  # 0s would crawl the site without a pause
                raise ValueError(f"every must be at least 1s, got {self.every!r}")
        else:
            raise ValueError("set either 'every' or 'cron'")
        parse_duration(self.jitter)
        return self

    @property
    def interval(self) -> timedelta | None:
        return parse_duration(self.every) if self.every else None


class Sections(BaseModel):
    """Start pages whose links are followed to find articles."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    # Depth of a page = link hops from a start page (a start page is 0). Pages up to max_depth
    # are fetched; links of a non-article page are followed only while its depth < max_depth.
    max_depth: int = Field(1, ge=0, le=5)

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        return [check_http_url(url) for url in urls]

    @field_validator("allow", "deny")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"not a regular expression: {pattern!r} ({err})") from None
        return patterns


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    feeds: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list)
    sections: Sections = Field(default_factory=Sections)
    allowed_domains: list[str] = Field(default_factory=list)
    schedule: Schedule = Field(default_factory=Schedule)
    # "fallback": feeds first, then sitemaps, then sections, each only when the previous
    # stage found nothing (all its documents failed or listed no URL). "all": every stage.
    discovery: Literal["fallback", "all"] = "fallback"
    # With neither feeds nor sitemaps listed, a sitemap stage reads the Sitemap: lines of robots.txt.
    robots_sitemaps: bool = True
    max_articles_per_run: int = Field(500, ge=1)
    # Every request of a run (feeds, sitemaps, listings, articles): the crawler-trap bound.
    max_pages_per_run: int = Field(2000, ge=1)
    max_page_bytes: int = Field(5_000_000, ge=10_000)
    # Feed/sitemap entries dated older than this are not fetched (None: no age limit).
    max_age: str | None = None
    user_agent: str | None = None
    # Off by default: links in third-party content must not reach private addresses (SSRF).
    allow_private_addresses: bool = False
    enabled: bool = True
    _credentials: dict[tuple[str, str, int | None], tuple[str, str]] = PrivateAttr(default_factory=dict)

    @field_validator("feeds", "sitemaps")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        return [check_http_url(url) for url in urls]

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _has_entry_point(self) -> "Source":
        if not (self.feeds or self.sitemaps or self.sections.urls):
            raise ValueError("a source needs at least one of feeds, sitemaps, sections.urls")
        return self

    @model_validator(mode="after")
    def _credentials_apart(self) -> "Source":
        """``user:password@`` in a configured URL (a feed behind HTTP basic auth) becomes the source's
        credentials for that URL's origin, and the URL is kept without it: no log line, page, store or
        request line shows the password, and ``CredentialsMiddleware`` sends it to that origin only."""
        for urls in (self.feeds, self.sitemaps, self.sections.urls):
            for i, url in enumerate(urls):
                clean, credentials = split_credentials(url)
                if credentials is not None:
                    urls[i] = clean
                    self._credentials[origin(clean)] = credentials
        return self

    def credentials_for(self, url: str) -> tuple[str, str] | None:
        """The (user, password) written for ``url``'s origin in this source's URLs, if any."""
        return self._credentials.get(origin(url)) if self._credentials else None

    @property
    def credential_users(self) -> list[str]:
        """Who the source logs in as, and where (``reader at https://host:443``), for ``config check``."""
        return [f"{user} at {scheme}://{host}:{port}" for (scheme, host, port), (user, _) in self._credentials.items()]

    @property
    def entry_points(self) -> list[str]:
        return [*self.feeds, *self.sitemaps, *self.sections.urls]


class CrawlSettings(BaseModel):
    """Politeness and bounds shared by every source."""

    model_config = ConfigDict(extra="forbid")

    user_agent_contact: str = "https://github.com/mediawatch/mediawatch"
    obey_robots: bool = True
    concurrent_requests_per_host: int = Field(2, ge=1, le=32)
    download_delay: float = Field(0.5, ge=0)
    autothrottle: bool = True
    download_timeout: float = Field(30, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    state_path: str = "./data/crawl.sqlite3"
    # Run summaries are kept this long (each source's last one always): the daemon's housekeeping deletes older ones.
    runs_keep_days: int = Field(90, ge=1)
    # Total concurrent requests of one source's crawl (the per-host cap above still applies).
    concurrent_requests: int = Field(16, ge=1, le=256)
    # Crawls in flight at once across all sources; the rest wait their turn in order of their
    # scheduled time (the daemon; `mediawatch crawl` crawls the sources it is given together).
    max_concurrent_crawls: int = Field(128, ge=1, le=10_000)
    # A run stops (cleanly, counting the rest as skipped) after this long; 0 = no limit.
    max_run_seconds: float = Field(1800, ge=0)
    # 429/503: wait Retry-After (capped here) and retry up to retry_times; longer waits give up.
    max_retry_after: float = Field(120, ge=0)
    retry_times: int = Field(3, ge=0, le=10)
    # robots.txt Crawl-delay is honoured up to this many seconds between requests to one host.
    max_crawl_delay: float = Field(30, ge=0)
    # Feeds and sitemaps: conditional GET, but an unconditional GET at least this often, so
    # a server answering 304 for a changed document (a lying ETag) is caught.
    revalidate_after: str = "6h"
    # robots.txt is fetched once per host and kept this long across runs (an answer of 5xx or a
    # failed fetch is asked again after a minute).
    robots_ttl: str = "24h"
    # Extraction runs off the reactor thread: a process pool (default) or threads.
    extraction_pool: Literal["process", "thread"] = "process"
    extraction_workers: int = Field(2, ge=1, le=64)
    # Pool processes this many steps below the daemon's priority (crawler.offload says why); 0: the same.
    extraction_niceness: int = Field(10, ge=0, le=19)
    extraction_timeout: float = Field(60, gt=0)
    # A source is "quiet" after this many of its intervals without a new article (and at least
    # quiet_min): reported in logs and metrics, and mailed to mail.operators.
    quiet_after_intervals: int = Field(4, ge=1)
    quiet_min: str = "2h"
    # Private networks the SSRF guard lets links reach (an intranet news site), e.g. 10.1.0.0/16.
    allowed_networks: list[str] = Field(default_factory=list)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(net) for net in networks(value)]  # ValueError names the bad entry

    @field_validator("revalidate_after", "quiet_min", "robots_ttl")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value
