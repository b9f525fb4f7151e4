"""What the parts of one source's crawl share, in a module both the runner and the spider import.

The runner builds a :class:`SourceContext` per source and puts it in that crawler's settings
(``MEDIAWATCH_CONTEXT``); the spider and the item pipelines read it in ``from_crawler``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.frontier import Frontier, RunAccounting
from crawler.outcomes import Outcomes, Sink
from crawler.sources import CrawlSettings, Source

if TYPE_CHECKING:
    from crawler.offload import Offloader

__all__ = ["CONTEXT_SETTING", "Sink", "SourceContext"]

CONTEXT_SETTING = "MEDIAWATCH_CONTEXT"


class SourceContext:
    """The live objects of one source's run: its config, the frontier, the sink, the process
    pool, and the :class:`Outcomes` that records what became of each URL."""

    def __init__(self, source: Source, crawl: CrawlSettings, frontier: Frontier, sink: Sink,
                 accounting: RunAccounting, offloader: Offloader) -> None:
        self.source = source
        self.crawl = crawl
        self.frontier = frontier
        self.sink = sink
        self.accounting = accounting
        self.offloader = offloader
        self.outcomes = Outcomes(source.name, frontier, accounting, sink)

    # Scrapy deep-copies a crawler's settings; a run's frontier, sink and pool are shared, not copied.
    def __copy__(self) -> "SourceContext":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "SourceContext":
        return self

    @classmethod
    def of(cls, crawler: Any) -> "SourceContext":
        context = crawler.settings.get(CONTEXT_SETTING)
        if not isinstance(context, cls):
            raise RuntimeError(f"the crawler's settings hold no {CONTEXT_SETTING}: start it through crawler.runner")
        return context
