"""Long-lived Scrapy crawlers that many sources' runs share.

Making a Scrapy crawler (its settings copied deeply, its engine, every middleware and extension
built, their signatures checked) cost more CPU than a whole run of an unchanged feed, and each new
crawler fetched robots.txt again. A :class:`SharedCrawler` is one crawler kept running (its spider,
``crawler.spiders.hub.HubSpider``, stays open on ``spider_idle``); a run hands its requests to the
engine's ``crawl`` and waits for its own end. What Scrapy has per crawler is what every source of
one ``crawl:`` block shares; what differs per source travels on each request (``crawler.settings``:
``source_meta``, the user agent header). :class:`CrawlerHub` keeps one shared crawler per distinct
settings (the daemon holds one for its life, a one-off crawl makes its own and closes it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from crawler.spiders.hub import HubSpider
from crawler.spiders.source import SourceRun

log = structlog.get_logger("crawler.shared")

__all__ = ["CrawlerHub", "SharedCrawler"]


class SharedCrawler:
    """One Scrapy crawler, started on first use, carrying the runs handed to :meth:`run`."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.runs: set[SourceRun] = set()
        self._crawler: Any = None
        self._task: asyncio.Future | None = None
        self._starting: asyncio.Future | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _ensure_started(self) -> Any:
        if self._starting is None or (self._starting.done() and not self.alive):
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)
        return self._crawler

    async def _start(self) -> None:
        from scrapy.crawler import Crawler

        # A bare crawler: a crawler runner would build a spider loader (a deep copy of every setting)
        # that nothing of ours uses.
        crawler = Crawler(HubSpider, self.settings)
        opened: asyncio.Future = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(crawler.crawl_async(runs=self.runs, opened=opened))
        task.add_done_callback(self._ended)
        await asyncio.wait([opened, task], return_when=asyncio.FIRST_COMPLETED)
        if not opened.done():
            task.result()  # the crawl failed to start: its error
            raise RuntimeError("the shared crawler stopped before it opened")
        self._crawler, self._task = crawler, task
        log.info("shared_crawler_started", concurrent_requests=self.settings.get("CONCURRENT_REQUESTS"))

    def _ended(self, task: asyncio.Future) -> None:
        """The crawler stopped (closed, or crashed): the runs it carried end with it."""
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("shared_crawler_crashed", error=repr(error)[:300], runs=len(self.runs))
        for run in list(self.runs):
            run.close("shutdown")

    async def run(self, run: SourceRun) -> str:
        """Carry ``run`` to its end; its close reason. Cancelled, the run ends as ``cancelled``."""
        crawler = await self._ensure_started()
        self.runs.add(run)
        try:
            run.begin(crawler.engine.crawl)
            return await asyncio.shield(run.done)
        except asyncio.CancelledError:
            run.close("cancelled")
            raise
        finally:
            self.runs.discard(run)

    async def stop(self) -> None:
        if self._crawler is not None and self.alive:
            try:
                await asyncio.wait_for(self._crawler.stop_async(), timeout=30)
            except (Exception, asyncio.TimeoutError) as err:  # stopping is best effort
                log.warning("shared_crawler_stop_failed", error=repr(err)[:300])
        self._crawler = None


class CrawlerHub:
    """The shared crawlers by their settings: the daemon's crawls of one ``crawl:`` block all go
    through one crawler; a reload that changes the block starts another, and the old one is stopped
    once no run uses it."""

    def __init__(self) -> None:
        self._crawlers: dict[str, SharedCrawler] = {}

    def get(self, settings: dict[str, Any]) -> SharedCrawler:
        key = repr(sorted(settings.items()))
        shared = self._crawlers.get(key)
        if shared is None:
            for old_key, old in list(self._crawlers.items()):
                if not old.runs:
                    del self._crawlers[old_key]
                    asyncio.ensure_future(old.stop())
            shared = self._crawlers[key] = SharedCrawler(settings)
        return shared

    async def close(self) -> None:
        crawlers, self._crawlers = list(self._crawlers.values()), {}
        for shared in crawlers:
            await shared.stop()
