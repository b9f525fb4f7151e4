"""What the parts of one source's run share, in a module both the runner and the spider import.

The runner builds a :class:`SourceContext` per source's run and hands it to that run
(``crawler.spiders.source.SourceRun``); the item pipelines reach it through the item's run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.accounting import RunAccounting
from crawler.frontier import Frontier
from crawler.outcomes import Outcomes, Sink
from crawler.sources import CrawlSettings, Source

if TYPE_CHECKING:
    from crawler.offload import Offloader

__all__ = ["Sink", "SourceContext"]


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
