"""What became of each URL of one source's run: counted once, kept in the frontier, and the
articles handed to the sink, marked done only once a flush of the sink stored them.

The spider and the item pipelines record through one :class:`Outcomes` (the pipelines get it
from the crawler's settings, see ``crawler.context``), so neither reaches into the other.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, Protocol

import structlog

from crawler.accounting import RunAccounting, is_retryable
from crawler.frontier import Frontier
from crawler.items import PageItem
from crawler.urls import canonicalize
from indexer.article import Article

log = structlog.get_logger("crawler.outcomes")

__all__ = ["Outcomes", "Sink"]


class Sink(Protocol):
    """Where articles go (the Ingestor): ``submit`` buffers, ``flush(since=mark())`` says whether
    everything submitted after the mark was stored."""

    def submit(self, article: Article) -> None: ...

    def mark(self) -> int: ...

    def flush(self, timeout: float | None = None, *, since: int = 0) -> bool: ...


class Outcomes:
    """One source's run: each URL's final status, the frontier's marks, the sink's articles.

    ``expect`` notes a request that went out; ``finish`` records the URL's one status (and,
    unless ``final``, the frontier's verdict on an error); ``abandon`` closes what is still
    out when the crawl ends. Articles are ``submit``-ted to the sink and ``commit`` marks them
    done after a flush answered that everything since the last commit is indexed or spooled.
    Links of non-article pages that are followed wait in ``listed`` for the spider."""

    FLUSH_EVERY = 100  # articles submitted between two flushes of the sink

    def __init__(self, source: str, frontier: Frontier, accounting: RunAccounting, sink: Sink) -> None:
        self.source = source
        self.frontier = frontier
        self.accounting = accounting
        self.sink = sink
        self.outstanding: dict[str, tuple[str, str]] = {}  # canon -> (url, kind) of requests not finished
        self.flush_failed = False
        self._listed: list[tuple[str, int, int]] = []  # (url, stage, depth) found on followed non-articles
        self._pending: list[tuple[PageItem, str]] = []  # submitted, not yet flushed
        self._flush_since = sink.mark()  # the sink's answer covers what was submitted after it
        self._commit_lock = asyncio.Lock()
        self._committer: asyncio.Future | None = None  # the commits running behind the pipelines
        self._log = log.bind(source=source)
        # told when nothing is outstanding any more: the run then looks whether it has more to do or ended
        self.on_settled: Callable[[], None] | None = None
        # told each URL whose status became final: the run hands the crawler its next request
        self.on_finished: Callable[[str], None] | None = None

    # -- statuses ----------------------------------------------------------------------------------
    def expect(self, canon: str, url: str, kind: str) -> None:
        self.outstanding[canon] = (url, kind)

    def status(self, canon: str) -> str | None:
        return self.accounting.statuses.get(canon)

    def finish(self, canon: str, url: str, status: str, reason: str = "", *, kind: str = "article",
               final: bool = False) -> bool:
        """Record the URL's one final status for this run (and the frontier, unless ``final``)."""
        if not self.accounting.record(canon, url, status, reason):
            return False
        self.outstanding.pop(canon, None)
        if self.on_finished is not None:
            self.on_finished(canon)
        if not self.outstanding and self.on_settled is not None:
            self.on_settled()
        if final:
            return True
        if status.startswith("error:"):
            self.frontier.mark_failed(canon, url=url, source=self.source, kind=kind, status=status,
                                      permanent=not is_retryable(status) and kind in ("article", "page"))
        elif status == "not_article":
            self.frontier.mark_done(canon, url=url, source=self.source, kind="page", status=status)
        return True

    def abandon(self, status: str, reason: str) -> None:
        """The crawl ended: what is still out gets ``status`` (time limit, incomplete)."""
        for canon, (url, kind) in list(self.outstanding.items()):
            self.finish(canon, url, status, reason, kind=kind, final=True)

    # -- pages and articles ----------------------------------------------------------------------------
    def not_article(self, item: PageItem, reason: str, links: list[tuple[str, str]] | None = None) -> None:
        """A fetched page that is no article; ``links`` (a followed section page's) wait in ``listed``."""
        followed = links is not None
        self.frontier.mark_done(item.canon, url=item.canon, source=self.source,
                                kind="listing" if followed else "page", status="not_article", lastmod=item.lastmod)
        self.finish(item.canon, item.canon, "not_article", reason, kind=item.kind, final=True)
        stage = item.extra.get("stage", 0)
        self._listed.extend((url, stage, item.depth + 1) for url, _text in links or ())

    def take_listed(self) -> list[tuple[str, int, int]]:
        listed, self._listed = self._listed, []
        return listed

    def unchanged(self, item: PageItem) -> None:
        """Refetched because its feed/sitemap date moved, but the text is the same."""
        article = item.article
        self.frontier.mark_done(item.canon, url=item.canon, source=self.source, kind="article",
                                status="not_modified", lastmod=item.lastmod, content_hash=article.content_hash)
        self.finish(item.canon, item.canon, "not_modified", "content unchanged", kind="article", final=True)

    def submit(self, item: PageItem) -> None:
        """Hand the item's article to the sink; a commit starts in the background once a batch waits."""
        try:
            self.sink.submit(item.article)
        except Exception as err:
            self._log.error("ingest_failed", url=item.canon, error=repr(err))
            self.finish(item.canon, item.canon, "error:ingest", repr(err)[:200], kind="article")
            return
        status = "updated" if item.previous_hash is not None else "new"
        self._pending.append((item, status))
        self.finish(item.canon, item.canon, status, kind="article", final=True)
        if len(self._pending) >= self.FLUSH_EVERY and (self._committer is None or self._committer.done()):
            self._committer = asyncio.ensure_future(self._commit_batches())
            self._committer.add_done_callback(self._committed)

    async def room(self) -> None:
        """Wait while a whole batch already waits behind the flush in progress: the sink sets the pace,
        and the pages held meanwhile are the run's window, not every page fetched since."""
        while len(self._pending) >= self.FLUSH_EVERY and self._committer is not None and not self._committer.done():
            await asyncio.wait([self._committer])

    def stop_commits(self) -> None:
        """The run was cancelled: what is not flushed yet stays unmarked, fetched again next run."""
        if self._committer is not None:
            self._committer.cancel()

    async def _commit_batches(self) -> None:
        while len(self._pending) >= self.FLUSH_EVERY:
            if not await self.commit():
                return

    def _committed(self, task: asyncio.Future) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("commit_failed", error=repr(task.exception())[:300],
                            reason="not marked done: fetched again next run")

    # -- durability: flush the sink, then mark -------------------------------------------------------
    async def commit(self) -> bool:
        """Flush the sink (off the loop thread), then mark the articles submitted before it done."""
        async with self._commit_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return True
            since, self._flush_since = self._flush_since, self.sink.mark()
            try:
                stored = await asyncio.to_thread(functools.partial(self.sink.flush, since=since))
            except Exception as err:
                stored, reason = False, repr(err)
            else:
                reason = "the sink could store them neither in the index nor in its spool"
            if not stored:
                self.flush_failed = True
                self._log.error("sink_flush_failed", error=reason, articles=len(batch),
                                reason="not marked done: they are fetched again next run")
                for item, _status in batch:
                    self.accounting.revise(item.canon, item.canon, "error:ingest", reason)
                return False
            for item, status in batch:
                self._mark_done(item, status)
            return True

    def _mark_done(self, item: PageItem, status: str) -> None:
        article: Any = item.article
        self.frontier.mark_done(item.canon, url=item.canon, source=self.source, kind="article", status=status,
                                lastmod=item.lastmod, content_hash=article.content_hash, fetched_at=item.fetched_at)
        # a redirected article is also done under its final URL
        final = canonicalize(item.final_url)
        if final != item.canon:
            self.frontier.mark_done(final, url=item.final_url, source=self.source, kind="article",
                                    status=status, lastmod=item.lastmod, content_hash=article.content_hash)
