"""Helpers for crawler tests run in this process: a sink that collects what a crawl submits, and
crawl settings without delays."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class CollectingSink:
    """An in-memory sink (the Ingestor's interface): keeps what was submitted, can be told to fail."""

    def __init__(self) -> None:
        self.articles: list[Any] = []
        self.flushes = 0
        self.fail_paths: set[str] = set()
        self.lock = threading.Lock()

    def submit(self, article: Any) -> None:
        if urlsplit(article.url).path in self.fail_paths:
            raise RuntimeError(f"sink refuses {article.url}")
        with self.lock:
            self.articles.append(article)

    def mark(self) -> int:
        return len(self.articles)

    def flush(self, timeout: float | None = None, *, since: int = 0) -> bool:
        self.flushes += 1
        return True

    @property
    def paths(self) -> list[str]:
        return [urlsplit(a.url).path for a in self.articles]


def fast_crawl_settings(state_dir: Path | str, **overrides: Any):
    """CrawlSettings for tests: no delay, no AutoThrottle, thread-pool extraction, short waits."""
    from crawler.sources import CrawlSettings

    cfg: dict[str, Any] = {
        "state_path": str(Path(state_dir) / "crawl.sqlite3"),
        "download_delay": 0,
        "autothrottle": False,
        "extraction_pool": "thread",
        "extraction_workers": 4,
        "download_timeout": 10,
        "max_retry_after": 5,
        "concurrent_requests_per_host": 8,
    }
    cfg.update(overrides)
    return CrawlSettings(**cfg)
