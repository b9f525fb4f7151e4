"""The entry point the CLI and the daemon call to crawl sources.

    summaries = await crawl_sources(sources, crawl, sink, progress=print)   # in the reactor's loop
    summaries = run_crawl_blocking(sources, crawl, sink, progress=print)    # from plain sync code

Scrapy runs on Twisted's ``AsyncioSelectorReactor``, so the crawl is an ordinary asyncio
coroutine on the same loop as APScheduler's ``AsyncIOScheduler`` (the daemon). Each source's run
(``crawler.spiders.source.SourceRun``) goes through a long-lived Scrapy crawler that many runs share
(``crawler.shared``: the daemon's ``CrawlerHub`` for its whole life, else one made for the call);
the sources of one call crawl concurrently (at most ``crawl.max_concurrent_crawls`` at once), and
one source failing never stops the others.

``sink`` is the Ingestor: ``submit(article)`` is called on the loop thread for every article
found (it should only buffer); ``flush()`` is called from a worker thread (``asyncio.to_thread``)
every 100 articles and at the end of each source's run, and a URL is marked done in the
frontier only after a ``flush`` that followed its ``submit`` returned (indexed or spooled).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

import structlog

from crawler.accounting import RunAccounting, RunSummary
from crawler.context import Sink, SourceContext
from crawler.dns import PinnedResolver
from crawler.frontier import Frontier
from crawler.offload import Offloader
from crawler.settings import REACTOR, shared_settings
from crawler.sources import CrawlSettings, Source

log = structlog.get_logger("crawler.runner")
T = TypeVar("T")

__all__ = ["CrawlRun", "RunSummary", "crawl_sources", "ensure_reactor", "install_asyncio_reactor",
           "run_blocking", "run_crawl_blocking"]


class CrawlRun:
    """One crawl of some sources.

    ``extra_settings`` is merged over the Scrapy settings of the shared crawler (tests, tuning);
    ``frontier`` lets a caller share an open Frontier (otherwise ``crawl.state_path`` is
    opened and closed by the run); ``hub`` the caller's long-lived crawlers (otherwise the run makes
    its own and stops them at its end); ``before_record`` is awaited with each ended run's summary
    just before the frontier records it (a cluster gives the source's lease back there, so a run
    recorded as ended always had its lease given back, whenever the process is killed after).
    """

    def __init__(
        self,
        sources: list[Source],
        crawl: CrawlSettings,
        sink: Sink,
        *,
        progress: Callable[[dict], None] | None = None,
        frontier: Frontier | None = None,
        extra_settings: dict[str, Any] | None = None,
        hub: Any = None,
        before_record: Callable[[RunSummary], Awaitable[None]] | None = None,
    ) -> None:
        self.sources = list(sources)
        self.crawl = crawl
        self.sink = sink
        self.progress = progress
        self._frontier = frontier
        self._hub = hub
        self.before_record = before_record
        self.extra_settings = dict(extra_settings or {})
        self.summaries: dict[str, RunSummary] = {}
        self.offloader = Offloader(crawl.extraction_pool, crawl.extraction_workers, crawl.extraction_timeout,
                                   crawl.extraction_niceness)

    def settings(self) -> dict[str, Any]:
        settings = shared_settings(self.crawl)
        for key, value in self.extra_settings.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        return settings

    async def run(self) -> dict[str, RunSummary]:
        from crawler.shared import CrawlerHub

        _check_reactor()
        frontier = self._frontier or Frontier(self.crawl.state_path)
        hub = self._hub or CrawlerHub()
        try:
            names = [s.name for s in self.sources]
            if len(set(names)) != len(names):
                raise ValueError(f"duplicate source names in one crawl: {names}")
            shared = hub.get(self.settings())
            cap = asyncio.Semaphore(self.crawl.max_concurrent_crawls)

            async def one(src: Source) -> RunSummary:
                async with cap:
                    return await self._crawl_one(src, frontier, shared)

            results = await asyncio.gather(*(one(src) for src in self.sources), return_exceptions=True)
            for src, result in zip(self.sources, results):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                if isinstance(result, BaseException):  # _crawl_one records its own failures
                    log.error("crawl_crashed", source=src.name, error=repr(result))
            try:
                await asyncio.to_thread(self.sink.flush)
            except Exception as err:
                log.error("sink_flush_failed", error=repr(err))
            return dict(self.summaries)
        finally:
            if self._hub is None:
                await hub.close()
            if self._frontier is None:
                frontier.close()

    async def _crawl_one(self, source: Source, frontier: Frontier, shared: Any) -> RunSummary:
        from crawler.spiders.source import SourceRun

        accounting = RunAccounting(source.name, progress=self.progress)
        bound = log.bind(source=source.name)
        try:
            run_id = frontier.begin_run(source.name, accounting.started_at)
        except Exception as err:  # the crawl state cannot be written (a full disk): a failed run, said so
            where = getattr(frontier, "path", None)
            why = f"cannot start the run in the crawl state{f' at {where}' if where else ''}: {err!r}"
            bound.error("crawl_failed", error=why[:500])
            return await self._record(self._summarize(accounting, 0, reason=why[:300], failed=True), None, bound)
        context = SourceContext(source, self.crawl, frontier, self.sink, accounting, self.offloader)
        bound.info("crawl_started", feeds=len(source.feeds), sitemaps=len(source.sitemaps),
                   sections=len(source.sections.urls))
        run = None
        try:
            run = SourceRun(context)
            reason = await shared.run(run)
        except asyncio.CancelledError:
            bound.warning("crawl_cancelled")
            summary = self._summarize(accounting, run_id, reason="cancelled", failed=True)
            frontier.finish_run(summary)
            raise
        except Exception as err:
            bound.error("crawl_failed", error=repr(err), exc_info=True)
            summary = self._summarize(accounting, run_id, reason=f"crashed: {err!r}"[:300], failed=True)
        else:
            try:
                await run.finalize()
            except Exception as err:  # the frontier is left as is: the next run redoes the rest
                bound.error("crawl_finalize_failed", error=repr(err), exc_info=True)
            summary = self._summarize(accounting, run_id, reason=reason or "finished", failed=run.run_failed)
        return await self._record(summary, frontier, bound)

    async def _record(self, summary: RunSummary, frontier: Frontier | None, bound: Any) -> RunSummary:
        """The run's end: the caller's hook, the frontier's record of it (none for a run the frontier never
        began), and its summary in the log."""
        if self.before_record is not None:
            try:
                await self.before_record(summary)
            except Exception as err:  # the run happened: it is recorded whatever the caller's hook did
                bound.warning("before_record_failed", error=repr(err)[:300])
        if frontier is not None:
            try:
                frontier.finish_run(summary)
            except Exception as err:  # a shared frontier's engine gone for a moment: the run happened all the same
                bound.warning("run_not_recorded", error=repr(err)[:300])
        bound.info("crawl_summary", **{k: v for k, v in summary.to_dict().items() if k != "source"})
        return summary

    def _summarize(self, accounting: RunAccounting, run_id: int, *, reason: str, failed: bool) -> RunSummary:
        summary = accounting.summary(reason=reason, failed=failed)
        summary.run_id = run_id
        self.summaries[accounting.source] = summary
        return summary


async def crawl_sources(
    sources: list[Source],
    crawl: CrawlSettings,
    sink: Sink,
    *,
    progress: Callable[[dict], None] | None = None,
    frontier: Frontier | None = None,
    hub: Any = None,
    before_record: Callable[[RunSummary], Awaitable[None]] | None = None,
) -> dict[str, RunSummary]:
    """Crawl ``sources`` now; a RunSummary per source name (also kept in the frontier DB: ``frontier``
    when given, a cluster's shared one, otherwise the file at ``crawl.state_path``).

    Must run on the asyncio loop of Twisted's AsyncioSelectorReactor (installed before). ``frontier``:
    an open one to share (the daemon's), else ``crawl.state_path`` is opened for this call; ``hub``: a
    ``crawler.shared.CrawlerHub`` whose crawlers outlive the call (the daemon's), else one for the call;
    ``before_record``: see ``CrawlRun``.
    """
    return await CrawlRun(sources, crawl, sink, progress=progress, frontier=frontier, hub=hub,
                          before_record=before_record).run()


# -- the reactor ------------------------------------------------------------------------------------
def _check_reactor() -> None:
    from scrapy.utils.reactor import is_asyncio_reactor_installed, is_reactor_installed

    if not is_reactor_installed():
        raise RuntimeError("crawl_sources needs Twisted's asyncio reactor: call "
                           f"scrapy.utils.reactor.install_reactor({REACTOR!r}) first, or use run_crawl_blocking")
    if not is_asyncio_reactor_installed():
        raise RuntimeError(f"the installed Twisted reactor is not {REACTOR}")


_REACTOR_LOCK = threading.Lock()
_LOOP: asyncio.AbstractEventLoop | None = None  # the loop the reactor runs on (one per process)
_STARTED = False  # whether ensure_reactor started the reactor (startRunning may be called once)


def install_asyncio_reactor() -> tuple[Any, asyncio.AbstractEventLoop]:
    """Twisted's asyncio reactor on an event loop of ours (installed once per process), and that
    loop: the daemon, the CLI and Scrapy all run on it. Refuses another reactor."""
    global _LOOP
    from scrapy.utils.reactor import is_asyncio_reactor_installed, is_reactor_installed

    with _REACTOR_LOCK:
        if not is_reactor_installed():
            from twisted.internet import asyncioreactor

            _LOOP = asyncio.new_event_loop()
            asyncio.set_event_loop(_LOOP)
            asyncioreactor.install(eventloop=_LOOP)
            from twisted.internet import reactor

            # Scrapy's crawler runners leave the resolver to whoever owns the reactor: ours answers
            # a host the SSRF guard checked with the address it approved (crawler.dns).
            reactor.installResolver(PinnedResolver(reactor, cache_size=10_000, timeout=20.0))
        elif not is_asyncio_reactor_installed():
            raise RuntimeError(f"another Twisted reactor is installed; mediawatch needs {REACTOR}")
        elif _LOOP is None:  # installed by the embedding program: its loop is the current one
            _LOOP = asyncio.get_event_loop()
        from twisted.internet import reactor

        return reactor, _LOOP


def ensure_reactor() -> tuple[Any, asyncio.AbstractEventLoop]:
    """The asyncio reactor, started but not spinning: its loop runs while a blocking call runs it,
    and can be run again for the next call."""
    global _STARTED
    reactor, loop = install_asyncio_reactor()
    with _REACTOR_LOCK:
        if not _STARTED and not reactor.running:
            # Twisted's thread pool (name resolution) must not keep the interpreter alive at exit.
            pool = reactor.getThreadPool()
            pool.threadFactory = functools.partial(threading.Thread, daemon=True)
            reactor.startRunning(installSignalHandlers=False)
            _STARTED = True
        return reactor, loop


def run_crawl_blocking(
    sources: list[Source],
    crawl: CrawlSettings,
    sink: Sink,
    progress: Callable[[dict], None] | None = None,
    **kwargs: Any,
) -> dict[str, RunSummary]:
    """``crawl_sources`` for synchronous callers (the CLI, tests): may be called repeatedly in one
    process. Ctrl-C stops the crawl cleanly (what finished is kept) and re-raises."""
    return run_blocking(CrawlRun(sources, crawl, sink, progress=progress, **kwargs).run())


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that needs Scrapy (a crawl, a probe) on the reactor's loop, from sync code."""
    _reactor, loop = ensure_reactor()
    if loop.is_running():
        coro.close()
        raise RuntimeError("called from inside the running loop: await the coroutine instead")
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        task.cancel()
        try:
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        finally:
            pass
        raise
