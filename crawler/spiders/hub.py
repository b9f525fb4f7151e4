"""The one Scrapy spider of a shared crawler: kept open, it carries many sources' runs.

It has no start requests of its own: a run (``crawler.spiders.source.SourceRun``) hands its requests
to the engine's public ``crawl``, each with the run in ``meta["mw_run"]`` and the run's callbacks. The
spider only stays open (``spider_idle`` raises ``DontCloseSpider``) and passes Scrapy's per-crawler
signals on to the run a request belongs to.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import scrapy
import structlog
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response

log = structlog.get_logger("crawler.spider")

__all__ = ["HubSpider"]


class HubSpider(scrapy.Spider):
    name = "mediawatch"

    def __init__(self, runs: set[Any], opened: asyncio.Future, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs = runs  # the runs in flight (crawler.shared keeps the set)
        self.opened = opened

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "HubSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_headers, signal=signals.headers_received)
        crawler.signals.connect(spider._on_response, signal=signals.response_received)
        crawler.signals.connect(spider._on_spider_error, signal=signals.spider_error)
        crawler.signals.connect(spider._on_item_error, signal=signals.item_error)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        return
        yield  # an async generator without requests: the runs bring theirs

    def _on_opened(self, spider=None) -> None:
        if not self.opened.done():
            self.opened.set_result(None)

    def _on_idle(self, spider=None) -> None:
        """Nothing is scheduled, downloading or being processed: a run still waiting for something
        will never get it (a request dropped on the way, a callback that failed before its answer
        was counted): it ends, what it waited for counted as incomplete, as a crawl of its own would."""
        for run in [r for r in self.runs if not r.closed and r.outcomes.outstanding]:
            log.warning("run_stalled", source=run.source.name, outstanding=len(run.outcomes.outstanding))
            run.close("finished")
        raise DontCloseSpider

    def _on_headers(self, headers, body_length, request: Request, spider=None, **_: Any) -> None:
        run = request.meta.get("mw_run")
        if run is not None:
            run.on_headers(headers, request)

    def _on_response(self, response: Response, request: Request, spider=None, **_: Any) -> None:
        run = request.meta.get("mw_run")
        if run is not None:
            run.on_response(response)

    def _on_spider_error(self, failure, response: Response, spider=None, **_: Any) -> None:
        request = getattr(response, "request", None)
        run = request.meta.get("mw_run") if request is not None else None
        if run is not None:
            run.failed_callback(request.meta, failure.value)

    def _on_item_error(self, item: Any, response: Response, spider=None, failure=None, **_: Any) -> None:
        run = getattr(item, "run", None)
        if run is not None:
            run.failed_callback({"mw_canon": item.canon, "mw_url": item.canon, "mw_kind": item.kind},
                                failure.value if failure is not None else RuntimeError("item error"))
