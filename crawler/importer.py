"""Backfill: archived pages -> the same decoding, extraction, sink and frontier as a crawl.

    read_archive (crawler.archive) -> frontier: done already? skip
        -> decode + extract in the crawl's process pool -> sink.submit -> sink.flush -> frontier.mark_done

A URL is marked done in the frontier (source, kind "article", status "new") only after a
``flush`` that followed its ``submit`` returned (and did not return False), exactly as the crawl
does; so an import killed at any point and run again skips what landed and re-extracts the rest,
and a later crawl of the same URL sees it as seen. The document id comes from the URL, so even
the window between flush and mark can only cause an overwrite, never a duplicate.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import structlog

from crawler.archive import ArchivedPage, BadRecord, archive_files, read_archive
from crawler.offload import get_executor
from crawler.pipelines import extract_page
from crawler.urls import BadURL, canonicalize

log = structlog.get_logger("crawler.importer")

__all__ = ["ImportReport", "import_archives"]

FLUSH_EVERY = 50  # articles between flushes (each flush is a resume point)


@dataclass
class ImportReport:
    counts: Counter = field(default_factory=Counter)  # new / seen / not_article / skipped / error:<kind>
    files: int = 0
    elapsed_s: float = 0.0

    @property
    def articles(self) -> int:
        return self.counts["new"]

    @property
    def rate(self) -> float:
        return self.articles / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Meter:
    """Progress by bytes of the input read: a rate in articles/s and an ETA."""

    def __init__(self, files: list[Path], emit: Callable[[dict], None], every_s: float) -> None:
        self.total = sum(f.stat().st_size for f in files) or 1
        self.done_bytes = 0
        self.started = time.monotonic()
        self.emit, self.every_s = emit, every_s
        self._last = 0.0

    def tick(self, report: ImportReport, file_bytes_read: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        elapsed = now - self.started
        fraction = min(1.0, (self.done_bytes + file_bytes_read) / self.total)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.emit({"articles": report.articles, "records": sum(report.counts.values()),
                   "rate": round(report.articles / elapsed, 1) if elapsed > 0 else 0.0,
                   "done_pct": round(100 * fraction, 1), "eta_s": round(eta) if eta is not None else None,
                   **{k: v for k, v in report.counts.items() if k != "new"}})


class _Batch:
    """Pages submitted since the last flush, to mark done once it returned."""

    def __init__(self, since: int) -> None:
        self.items: list[tuple[str, str, str, str, datetime | None]] = []
        self.since = since  # the sink's mark before they were submitted


def import_archives(paths: list[str | Path], sink: Any, frontier: Any, *, source: str | None = None,
                    workers: int = 2, pool: str = "process", niceness: int = 0,
                    progress: Callable[[dict], None] | None = None, progress_every_s: float = 2.0) -> ImportReport:
    """Import every page under ``paths``. ``source`` names the articles' source (default: the
    page's host). Stoppable at any point (KeyboardInterrupt): what was submitted is flushed and
    marked before the exception goes on."""
    files = archive_files(paths)
    report = ImportReport()
    meter = _Meter(files, progress or (lambda counts: log.info("import_progress", **counts)), progress_every_s)
    executor = get_executor(pool, workers, niceness)
    window = max(4, workers * 8)  # pages in extraction at once: enough to keep the pool busy
    pending: list[tuple[ArchivedPage, str, str, Future]] = []
    batch = _Batch(sink.mark())
    t0 = time.monotonic()

    def finish_one() -> None:
        page, canon, src, fut = pending.pop(0)
        try:
            outcome, value, _links, _how = fut.result()  # extract_page: the crawl's decoding and extraction
        except Exception as err:  # a crashed worker or a bug in extraction: this page only
            outcome, value = "error:extract", repr(err)[:200]
        if outcome != "article":
            report.counts[outcome] += 1
            if outcome.startswith("error:"):
                log.warning("import_record_failed", url=page.url, where=page.where, status=outcome, reason=value)
            else:
                log.debug("import_not_article", url=page.url, where=page.where, reason=value)
            return
        try:
            sink.submit(value)
        except Exception as err:
            report.counts["error:ingest"] += 1
            log.error("import_ingest_failed", url=page.url, where=page.where, error=repr(err))
            return
        batch.items.append((canon, page.url, src, value.content_hash, page.fetched_at))
        if len(batch.items) >= FLUSH_EVERY:
            commit()

    def commit() -> None:
        if not batch.items:
            return
        since, batch.since = batch.since, sink.mark()
        if not sink.flush(since=since):  # not stored anywhere: leave unmarked, the next import retries them
            report.counts["error:ingest"] += len(batch.items)
            log.error("import_flush_failed", articles=len(batch.items))
        else:
            for canon, url, src, content_hash, fetched_at in batch.items:
                frontier.mark_done(canon, url=url, source=src, kind="article", status="new",
                                   content_hash=content_hash, fetched_at=fetched_at)
            report.counts["new"] += len(batch.items)
        batch.items.clear()

    try:
        for path in files:
            report.files += 1
            with path.open("rb") as sizer:
                size = sizer.seek(0, 2)
            for item in read_archive(path):
                if isinstance(item, BadRecord):
                    report.counts["error:record"] += 1
                    log.warning("import_record_skipped", where=item.where, url=item.url, reason=item.reason)
                    continue
                try:
                    canon = canonicalize(item.url) if item.url.startswith("http") else item.url
                except BadURL as err:
                    report.counts["error:record"] += 1
                    log.warning("import_record_skipped", where=item.where, url=item.url, reason=str(err))
                    continue
                if frontier.is_fresh(canon):
                    report.counts["seen"] += 1
                    continue
                src = source or urlsplit(item.url).hostname or "import"
                fut = executor.submit(extract_page, item.body, item.content_type, item.url, None,
                                      item.fetched_at, src, False)
                pending.append((item, canon, src, fut))
                while len(pending) >= window:
                    finish_one()
                meter.tick(report, _offset(item, size))
            while pending:
                finish_one()
            meter.done_bytes += size
        commit()
    finally:
        # stopped or failed: keep what is already extracted and landed as a resume point
        for _page, _canon, _src, fut in pending:
            fut.cancel()
        pending.clear()
        commit()
        report.elapsed_s = time.monotonic() - t0
        meter.tick(report, 0, force=True)
    return report


def _offset(page: ArchivedPage, size: int) -> int:
    _, _, where = page.where.rpartition("@")
    return int(where) if where.isdigit() else size
