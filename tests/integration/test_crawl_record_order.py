"""``crawl_sources``' ``before_record`` hook: awaited with each ended run's summary before the frontier
records the run as ended (a cluster gives the source's lease back there), and a hook that fails does not
keep the run from being recorded."""

from __future__ import annotations

import pytest

from crawler.frontier import Frontier
from crawler.runner import crawl_sources, run_blocking
from crawler.sources import Source
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def test_the_hook_sees_the_ended_run_before_the_frontier_records_it(fixture_site_factory, tmp_path):
    site = fixture_site_factory(3)
    cfg = fast_crawl_settings(tmp_path)
    source = Source(**site.source("hooked"))
    seen: list[tuple[str, int, bool]] = []

    async def crawl():
        frontier, sink = Frontier(cfg.state_path), CollectingSink()

        async def hook(summary) -> None:
            seen.append((summary.reason, summary.articles, "hooked" in frontier.last_runs()))

        try:
            return await crawl_sources([source], cfg, sink, frontier=frontier, before_record=hook)
        finally:
            frontier.close()

    articles = run_blocking(crawl())["hooked"].articles
    assert articles >= 3
    assert seen == [("finished", articles, False)], "once, with the ended run, before it was recorded"
    with Frontier(cfg.state_path) as frontier:
        recorded = frontier.last_runs()["hooked"]
    assert (recorded.reason, recorded.articles) == ("finished", articles)


def test_a_failing_hook_leaves_the_run_recorded(fixture_site_factory, tmp_path):
    site = fixture_site_factory(2)
    cfg = fast_crawl_settings(tmp_path)
    source = Source(**site.source("hooked"))

    async def hook(summary) -> None:
        raise RuntimeError("the lease engine went away")

    async def crawl():
        frontier, sink = Frontier(cfg.state_path), CollectingSink()
        try:
            return await crawl_sources([source], cfg, sink, frontier=frontier, before_record=hook)
        finally:
            frontier.close()

    assert run_blocking(crawl())["hooked"].articles >= 2
    with Frontier(cfg.state_path) as frontier:
        assert frontier.last_runs()["hooked"].reason == "finished"
