"""One source's run, counted: each URL once with its final status, the run's summary, and which
statuses leave a URL to be tried again next run.

``RunAccounting`` counts while the run goes; its ``summary`` is the ``RunSummary`` the frontier keeps
(``crawler.frontier``), the log line ends with, ``mediawatch sources list`` shows and ``/metrics`` reads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import structlog

log = structlog.get_logger("crawler.frontier")  # the logger name operators already filter the url_* events on

__all__ = ["RunAccounting", "RunSummary", "is_retryable"]

# Statuses after which nothing about the URL is left to do this run. Anything else
# (caps, time limit, transient errors) means "try again next run".
_FINAL = frozenset({"new", "updated", "seen", "not_modified", "not_article", "listing"})
_PERMANENT_ERRORS = frozenset({
    "error:http_404", "error:http_410", "error:http_451", "error:http_400", "error:http_403",
    "error:xml_entities", "error:xml_dtd_subset", "error:too_large", "error:not_a_feed",
    "error:not_a_sitemap", "error:xml_malformed", "error:redirect_loop", "error:private_address",
})
_FINAL_SKIPS = frozenset({"skipped:robots", "skipped:offsite", "skipped:private_address", "skipped:too_old",
                          "skipped:denied", "skipped:not_allowed", "skipped:non_html", "skipped:scheme",
                          "skipped:depth", "skipped:bad_url"})


def is_retryable(status: str) -> bool:
    """True when a URL with this status should be tried again on the next run."""
    return not (status in _FINAL or status in _PERMANENT_ERRORS or status in _FINAL_SKIPS)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """As the frontier stores a time and the summary shows it: ISO 8601 in UTC, a naive time taken as UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat()


@dataclass
class RunSummary:
    """One source's run: counts per status (each URL exactly once), articles found, errors."""

    source: str
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    articles: int = 0  # articles handed to the sink (new + updated)
    errors: int = 0  # URLs whose status is error:<kind>, and callbacks that raised (sampled as error:callback)
    failed: bool = False  # the run itself failed (crashed, or no entry point could be read)
    reason: str = ""  # why it failed / how it ended ("finished", "closespider_timeout", ...)
    pages: int = 0  # responses downloaded (robots.txt included)
    bytes: int = 0
    error_samples: list[dict[str, str]] = field(default_factory=list)
    run_id: int | None = None

    @property
    def duration_s(self) -> float:
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()

    @property
    def urls(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_s": round(self.duration_s, 3),
            "counts": dict(sorted(self.counts.items())),
            "articles": self.articles,
            "errors": self.errors,
            "failed": self.failed,
            "reason": self.reason,
            "pages": self.pages,
            "bytes": self.bytes,
            "error_samples": self.error_samples,
        }



class RunAccounting:
    """Counts each URL of one source's run exactly once, with its final status.

    The first status recorded for a canonical URL wins; a second record is a bug
    upstream, logged and ignored, so the counts stay exact.
    """

    MAX_SAMPLES = 20

    def __init__(self, source: str, *, progress: Callable[[dict], None] | None = None) -> None:
        self.source = source
        self.statuses: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.articles = 0
        self.samples: list[dict[str, str]] = []
        self.progress = progress
        self.pages = 0
        self.bytes = 0
        self.started_at = utcnow()
        self.failures = 0  # callbacks that raised (``failure``): errors beside the URLs' own
        self._log = log.bind(source=source)

    def record(self, canonical_url: str, url: str, status: str, reason: str = "") -> bool:
        if canonical_url in self.statuses:
            if self.statuses[canonical_url] != status:
                self._log.debug("url_already_counted", url=url, status=status, first=self.statuses[canonical_url])
            return False
        self._count(canonical_url, url, status, reason)
        return True

    def revise(self, canonical_url: str, url: str, status: str, reason: str = "") -> None:
        """A URL counted as an article found turned out not stored (the sink could keep it neither in the
        index nor in its spool): it counts as ``status`` instead, so the run's figures say what landed."""
        before = self.statuses.get(canonical_url)
        if before is not None:
            self.counts[before] -= 1
            if not self.counts[before]:
                del self.counts[before]
            if before in ("new", "updated"):
                self.articles -= 1
        self._count(canonical_url, url, status, reason)

    def _count(self, canonical_url: str, url: str, status: str, reason: str) -> None:
        self.statuses[canonical_url] = status
        self.counts[status] += 1
        if status in ("new", "updated"):
            self.articles += 1
        if status.startswith("error:"):
            if len(self.samples) < self.MAX_SAMPLES:
                self.samples.append({"url": url, "status": status, "reason": reason[:300]})
            self._log.warning("url_failed", url=url, status=status, reason=reason)
        elif status.startswith("skipped:") and status not in ("skipped:offsite", "skipped:cap"):
            self._log.info("url_skipped", url=url, status=status, reason=reason)
        else:
            self._log.debug("url_done", url=url, status=status, reason=reason)
        if self.progress is not None:
            try:
                self.progress(self.snapshot())
            except Exception as err:  # a broken progress display must not break the crawl
                self._log.debug("progress_failed", error=str(err))

    def failure(self, url: str, error: BaseException) -> None:
        """Our own code failed on a URL, whatever status the URL has (a feed's callback that raised after
        the feed was counted as listed): an error of the run, logged with its traceback and sampled."""
        self.failures += 1
        if len(self.samples) < self.MAX_SAMPLES:
            self.samples.append({"url": url, "status": "error:callback", "reason": repr(error)[:300]})
        self._log.error("callback_failed", url=url, error=repr(error)[:300], exc_info=error)

    def snapshot(self) -> dict[str, Any]:
        return {"source": self.source, "articles": self.articles, **self.counts}

    def summary(self, *, reason: str = "finished", failed: bool = False) -> RunSummary:
        return RunSummary(
            source=self.source,
            started_at=self.started_at,
            finished_at=utcnow(),
            counts=dict(self.counts),
            articles=self.articles,
            errors=sum(v for k, v in self.counts.items() if k.startswith("error:")) + self.failures,
            failed=failed,
            reason=reason,
            pages=self.pages,
            bytes=self.bytes,
            error_samples=list(self.samples),
        )
