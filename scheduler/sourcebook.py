"""Each source's crawls as the daemon has seen them since it started: when the last one began, the
last success and the last new article, the failures in a row (for /healthz), and whether the source
has gone quiet, noticed once per quiet spell by mail."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import structlog

from crawler.sources import CrawlSettings, Source, parse_duration
from scheduler.health import Metrics

log = structlog.get_logger("mediawatch.daemon")


class SourceBook:
    def __init__(self, metrics: Metrics, crawl: CrawlSettings, started_at: datetime,
                 notify: Callable[[str, str, str], Any]) -> None:
        """``notify(source, subject, text)`` sends a notice without blocking the caller (the loop)."""
        self.metrics = metrics
        self.crawl = crawl
        self.started_at = started_at
        self.notify = notify
        self.last_start: dict[str, float] = {}  # source -> when its last crawl began (epoch seconds)
        self.last_success: dict[str, datetime] = {}
        self.last_article: dict[str, datetime] = {}
        self.failure_streaks: dict[str, int] = {}  # source -> crawls failed in a row
        self._quiet_notified: set[str] = set()

    def began(self, name: str) -> None:
        self.last_start[name] = time.time()

    def failed(self, name: str) -> None:
        """A crawl that broke before it could sum itself up."""
        self.metrics.crawl_failures.labels(name).inc()
        self.failure_streaks[name] = self.failure_streaks.get(name, 0) + 1

    def record(self, name: str, summary, seconds: float, src: Source | None) -> None:
        """A crawl that ran to its end; ``src`` is None when the source left the config meanwhile."""
        self.metrics.crawl_seconds.labels(name).observe(seconds)
        if summary is None:
            return
        for status, count in summary.counts.items():
            self.metrics.urls.labels(name, status).inc(count)
        self.metrics.articles.labels(name).inc(summary.articles)
        now = datetime.now(timezone.utc)
        if summary.failed:
            self.failed(name)
        else:
            self.failure_streaks[name] = 0
            self.last_success[name] = now
            self.metrics.last_success.labels(name).set(now.timestamp())
        if summary.articles:
            self.last_article[name] = now
        if src is not None:
            self._check_quiet(src, now)

    def _check_quiet(self, src: Source, now: datetime) -> None:
        name = src.name
        interval = src.schedule.interval or timedelta(hours=1)
        since = self.last_article.get(name, self.started_at)
        threshold = max(interval * self.crawl.quiet_after_intervals, parse_duration(self.crawl.quiet_min))
        quiet = now - since > threshold
        self.metrics.quiet.labels(name).set(1 if quiet else 0)
        if not quiet:
            self._quiet_notified.discard(name)
            return
        log.warning("source_quiet", source=name, no_new_article_since=since.isoformat())
        if name in self._quiet_notified:
            return  # one notice per quiet spell
        self._quiet_notified.add(name)
        self.notify(name, f"source {name} has gone quiet",
                    f"mediawatch found no new article from source {name} since {since.isoformat()},\n"
                    f"although it crawls it every {src.schedule.every or src.schedule.cron}.\n"
                    f"Check the site's feeds: `mediawatch sources list` shows the last runs.")
