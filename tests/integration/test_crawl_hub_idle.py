"""The shared crawler's idle handling (``crawler.spiders.hub.HubSpider``) ends only runs that wait for
nothing Scrapy still carries: a run whose robots.txt is slow to answer is not ended as "finished" when
another run's end leaves the engine with nothing else to do (suspected, and ruled out, for a source
crawled again early in test_cluster_daemons: Scrapy counts a request waiting in the downloader
middlewares for its host's robots.txt, and the robots.txt download itself, as downloads in progress)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from crawler.frontier import Frontier
from crawler.runner import crawl_sources, run_blocking
from crawler.shared import CrawlerHub
from crawler.sources import Source
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def test_a_run_waiting_for_robots_txt_outlives_another_runs_end(fixture_site_factory, tmp_path):
    waiting, other = fixture_site_factory(3, seed=False), fixture_site_factory(3, offset=10, seed=False)
    released = threading.Event()
    waiting.hold("/robots.txt", until=released.is_set, timeout=60)
    cfg = fast_crawl_settings(tmp_path)

    async def crawls():
        hub, frontier, sink = CrawlerHub(), Frontier(cfg.state_path), CollectingSink()
        try:
            held = asyncio.ensure_future(crawl_sources([Source(**waiting.source("waiting"))], cfg, sink,
                                                       frontier=frontier, hub=hub))
            deadline = time.monotonic() + 20
            while not waiting.hits("/robots.txt") and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert waiting.hits("/robots.txt"), "the first run asked for its robots.txt"
            # the other run's last answer leaves the engine nothing to do but the held robots.txt
            done = await crawl_sources([Source(**other.source("other"))], cfg, sink, frontier=frontier, hub=hub)
            assert not held.done(), "the waiting run was ended while its robots.txt was still on its way"
            released.set()
            return done["other"], (await asyncio.wait_for(held, 30))["waiting"]
        finally:
            released.set()
            await hub.close()
            frontier.close()

    other_summary, waiting_summary = run_blocking(crawls())
    assert other_summary.counts == {"listing": 1, "new": len(other.articles)}
    assert waiting_summary.reason == "finished"
    assert waiting_summary.counts == {"listing": 1, "new": len(waiting.articles)}, "nothing counted incomplete"
