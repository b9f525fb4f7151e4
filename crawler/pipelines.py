"""Item pipelines: extraction off the reactor thread, then the sink, then the frontier.

    PageItem --ExtractPipeline--> (article | not an article: recorded, a section page's links listed)
             --IngestPipeline --> sink.submit(article) -> counted new/updated -> frontier.mark_done after a flush

Both talk only to the run's ``Outcomes`` (and the pool), which ``from_crawler`` takes from
the crawler's settings (``crawler.context``); never to the spider or the engine.

* Extraction (``crawler.extraction.extract``, CPU-bound lxml work) runs in a process pool
  (``crawl.extraction_pool = "process"``, the default, ``extraction_workers`` processes) or
  in one extra thread (``"thread"``: a single thread, because trafilatura's module-level lxml
  parser is not thread-safe), never on the reactor thread.
* The sink (the Ingestor) is called on the reactor/loop thread, the thread that runs
  ``crawl_sources``: ``submit`` should buffer or spool and return quickly.
* The frontier marks a URL done only after a flush that followed its ``submit`` returned; an
  exception from ``submit`` counts the URL as ``error:ingest`` and leaves it to the next run.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import multiprocessing
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import structlog

from crawler.context import SourceContext
from crawler.items import PageItem

if TYPE_CHECKING:
    from crawler.outcomes import Outcomes

log = structlog.get_logger("crawler.pipelines")

__all__ = ["ExtractPipeline", "IngestPipeline", "Offloader", "extract_page", "get_executor", "page_links",
           "shutdown_executors"]


# -- the work done in the pool ------------------------------------------------------------------
def extract_page(
    html: str,
    url: str,
    feed_date: datetime | None,
    fetched_at: datetime | None,
    source: str,
    want_links: bool,
) -> tuple[str, Any, list[tuple[str, str]]]:
    """("article", Article, []) or ("not_article", reason, links-if-wanted). Runs in a worker."""
    from crawler.extraction import NotArticle, extract

    try:
        article = extract(html, url, feed_date=feed_date, fetched_at=fetched_at, source=source)
    except NotArticle as err:
        links: list[tuple[str, str]] = []
        if want_links:
            from crawler.discovery.links import extract_links

            links = extract_links(html, url)
        return "not_article", getattr(err, "reason", "") or str(err), links
    return "article", article, []


def page_links(html: str, url: str) -> list[tuple[str, str]]:
    from crawler.discovery.links import extract_links

    return extract_links(html, url)


# -- executors, shared across runs of one process -------------------------------------------------
_EXECUTORS: dict[tuple[str, int], Executor] = {}
_EXEC_LOCK = threading.Lock()


def get_executor(kind: str, workers: int) -> Executor:
    key = (kind, workers)
    with _EXEC_LOCK:
        ex = _EXECUTORS.get(key)
        if ex is None:
            if kind == "process":
                # forkserver: never fork a process that has reactor, loop and pool threads running
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["crawler.extraction", "crawler.discovery.links", "crawler.discovery.feeds"])
                ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
            else:
                # One thread only: trafilatura parses with a module-level lxml parser, and an lxml
                # parser used from two threads at once corrupts memory (seen: "double free").
                ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mw-extract")
            _EXECUTORS[key] = ex
        return ex


def _discard_executor(kind: str, workers: int, ex: Executor) -> None:
    with _EXEC_LOCK:
        if _EXECUTORS.get((kind, workers)) is ex:
            del _EXECUTORS[(kind, workers)]
    ex.shutdown(wait=False, cancel_futures=True)


def shutdown_executors() -> None:
    with _EXEC_LOCK:
        items = list(_EXECUTORS.values())
        _EXECUTORS.clear()
    for ex in items:
        ex.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_executors)


def _call_each(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """In a worker: each call's (True, result), or (False, exception), so one bad page fails alone."""
    out: list[tuple[bool, Any]] = []
    for fn, args in calls:
        try:
            out.append((True, fn(*args)))
        except Exception as err:
            out.append((False, err))
    return out


class Offloader:
    """Runs functions in the configured pool from the loop thread, with a timeout.

    Calls are batched while the pool is busy: at most ``workers + 1`` pool calls are in flight,
    and the calls that arrive meanwhile go out together as the next one (up to ``MAX_BATCH``).
    A busy crawl so pays one pickling round trip and one wake-up per batch instead of per page
    (most of the main process's share of a page's trip through the pool), and an idle one
    waits for nothing. A broken process pool (a worker killed by a pathological page) is
    replaced, not fatal; as before batching, the calls it held fail with ``BrokenProcessPool``."""

    MAX_BATCH = 8

    def __init__(self, kind: str, workers: int, timeout: float) -> None:
        self.kind, self.workers, self.timeout = kind, workers, timeout
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future]] = []
        self._in_flight = 0
        self.pool_calls = 0  # batches sent so far

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((fn, args, fut))
        self._pump(loop)
        return await asyncio.wait_for(fut, timeout=self.timeout)

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._pending and self._in_flight < self.workers + 1:
            batch = [c for c in self._pending[:self.MAX_BATCH] if not c[2].done()]  # not timed out meanwhile
            del self._pending[:self.MAX_BATCH]
            if not batch:
                continue
            ex = get_executor(self.kind, self.workers)
            self._in_flight += 1
            self.pool_calls += 1
            try:
                done = loop.run_in_executor(ex, _call_each, [(fn, args) for fn, args, _ in batch])
            except Exception as err:  # a pool already broken or shut down
                self._in_flight -= 1
                self._fail(batch, err, ex)
                continue
            done.add_done_callback(functools.partial(self._done, loop, ex, batch))

    def _done(self, loop: asyncio.AbstractEventLoop, ex: Executor, batch: list, done: asyncio.Future) -> None:
        self._in_flight -= 1
        if done.cancelled():  # the loop is shutting down
            for _fn, _args, fut in batch:
                fut.cancel()
        elif done.exception() is not None:
            self._fail(batch, done.exception(), ex)
        else:
            for (_fn, _args, fut), (ok, value) in zip(batch, done.result()):
                if fut.done():
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)
        self._pump(loop)

    def _fail(self, batch: list, err: BaseException, ex: Executor) -> None:
        if isinstance(err, BrokenProcessPool):
            _discard_executor(self.kind, self.workers, ex)
        for _fn, _args, fut in batch:
            if not fut.done():
                fut.set_exception(err)


# -- pipelines -----------------------------------------------------------------------------------
class ExtractPipeline:
    """PageItem -> Article in the pool; a non-article (its links too, for a section page above
    max depth) and a failed extraction are recorded in the run's Outcomes."""

    def __init__(self, context: SourceContext) -> None:
        self.source = context.source.name
        self.max_depth = context.source.sections.max_depth
        self.offloader = context.offloader
        self.outcomes = context.outcomes

    @classmethod
    def from_crawler(cls, crawler) -> "ExtractPipeline":
        return cls(SourceContext.of(crawler))

    async def process_item(self, item: PageItem, spider: Any = None) -> PageItem:
        if not isinstance(item, PageItem):
            return item
        want_links = item.kind == "page" and item.depth < self.max_depth
        try:
            outcome, value, links = await self.offloader.run(
                extract_page, item.html, item.final_url, item.feed_date, item.fetched_at, self.source, want_links,
            )
        except asyncio.TimeoutError:
            self.outcomes.finish(item.canon, item.canon, "error:extract_timeout", "extraction took too long",
                                 kind=item.kind)
            return item
        except BrokenProcessPool as err:
            self.outcomes.finish(item.canon, item.canon, "error:extract_crash", str(err), kind=item.kind)
            return item
        except Exception as err:  # a bug in extraction: count it, keep crawling
            log.warning("extract_failed", source=self.source, url=item.canon, error=repr(err))
            self.outcomes.finish(item.canon, item.canon, "error:extract", repr(err)[:200], kind=item.kind)
            return item
        item.html = ""  # the text is in the article now; free the page early
        if outcome == "article":
            if not value.title and item.title_hint:
                value.title = item.title_hint
            item.article = value
            return item
        self.outcomes.not_article(item, value, links if want_links else None)
        return item


class IngestPipeline:
    """Article -> sink.submit -> counted (new / updated / not_modified); the frontier marks it
    done once the sink's ``flush`` returned after it (every ``Outcomes.FLUSH_EVERY`` articles
    and at the end of the run): the Ingestor's ``submit`` only buffers, ``flush`` is what makes
    it indexed or spooled. A crash before that refetches the article next run; the index keeps
    one document per canonical URL, so that is a re-index, never a duplicate."""

    def __init__(self, outcomes: Outcomes) -> None:
        self.outcomes = outcomes

    @classmethod
    def from_crawler(cls, crawler) -> "IngestPipeline":
        return cls(SourceContext.of(crawler).outcomes)

    async def process_item(self, item: PageItem, spider: Any = None) -> PageItem:
        if not isinstance(item, PageItem) or item.article is None:
            return item
        if item.previous_hash is not None and item.article.content_hash == item.previous_hash:
            self.outcomes.unchanged(item)
        elif self.outcomes.submit(item):
            await self.outcomes.commit()
        return item
