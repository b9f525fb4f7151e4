"""Runs that share one long-lived crawler (``crawler.shared.CrawlerHub``, as the daemon holds it):
robots.txt is read once per host and again once its time to live passed; one run cancelled while
another is under way ends alone, and the other's accounting is whole; an overlong URL is counted
(Scrapy's own filter would drop it unseen and leave the run waiting)."""

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
from tests.harness.sites import fixture_site, fixture_site_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def test_robots_kept_across_runs_until_its_ttl(fixture_site_factory, tmp_path):
    site = fixture_site_factory(1, seed=False)  # a short first run: the second begins well within the TTL
    cfg = fast_crawl_settings(tmp_path, robots_ttl="10s")
    source = Source(**site.source())

    async def crawls() -> int:
        hub, frontier, sink = CrawlerHub(), Frontier(cfg.state_path), CollectingSink()
        try:
            await crawl_sources([source], cfg, sink, frontier=frontier, hub=hub)
            await crawl_sources([source], cfg, sink, frontier=frontier, hub=hub)
            assert len(site.hits("/robots.txt")) == 1, "the second run used the kept robots.txt"
            # past its time to live, a run reads it again
            deadline, runs = time.monotonic() + 40, 2
            while len(site.hits("/robots.txt")) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                await crawl_sources([source], cfg, sink, frontier=frontier, hub=hub)
                runs += 1
            return runs
        finally:
            await hub.close()
            frontier.close()

    runs = run_blocking(crawls())
    assert len(site.hits("/robots.txt")) == 2
    assert len(site.hits("/feeds/rss.xml")) == runs  # every run fetched its feed


def test_a_cancelled_run_ends_alone(fixture_site_factory, tmp_path):
    slow, fast = fixture_site_factory(2, seed=False), fixture_site_factory(3, offset=10, seed=False)
    released = threading.Event()
    slow.hold(slow.newest()[0].path, until=released.is_set, timeout=60)
    cfg = fast_crawl_settings(tmp_path)

    async def crawls():
        hub, frontier, sink = CrawlerHub(), Frontier(cfg.state_path), CollectingSink()
        try:
            held = asyncio.ensure_future(crawl_sources([Source(**slow.source("slow"))], cfg, sink, frontier=frontier,
                                                       hub=hub))
            deadline = time.monotonic() + 20
            while not slow.hits(slow.newest()[0].path) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            other = await crawl_sources([Source(**fast.source("fast"))], cfg, sink, frontier=frontier, hub=hub)
            held.cancel()
            with pytest.raises(asyncio.CancelledError):
                await held
            released.set()
            last = {s.source: s for s in [frontier.runs("slow", 1)[0], frontier.runs("fast", 1)[0]]}
            return other["fast"], last, sink
        finally:
            released.set()
            await hub.close()
            frontier.close()

    fast_summary, last, sink = run_blocking(crawls())
    assert fast_summary.counts == {"listing": 1, "new": 3} and not fast_summary.failed
    assert len([a for a in sink.articles if a.url.startswith(fast.base)]) == 3
    assert last["slow"].reason == "cancelled" and last["slow"].failed
    assert last["fast"].reason == "finished"


def test_an_overlong_url_is_counted_and_the_run_ends(fixture_site, tmp_path):
    site = fixture_site
    long_url = site.url("/news/" + "x" * 2100 + ".html")
    feed = site.rss().replace("</channel>", f"<item><title>long</title><link>{long_url}</link></item></channel>")
    site.route("/feeds/long.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, feed.encode()))
    cfg = fast_crawl_settings(tmp_path)
    source = Source(**site.source(feeds=[site.url("/feeds/long.xml")]))

    async def crawl():
        hub, frontier, sink = CrawlerHub(), Frontier(cfg.state_path), CollectingSink()
        try:
            # dropped unseen, the run would wait for the engine to idle, which a busy shared crawler may never do
            return await asyncio.wait_for(crawl_sources([source], cfg, sink, frontier=frontier, hub=hub), 60)
        finally:
            await hub.close()
            frontier.close()

    summary = run_blocking(crawl())["fixture"]
    assert summary.counts.get("skipped:bad_url") == 1 and summary.reason == "finished"
    assert summary.counts.get("new") == len(site.articles)
    assert not [h for h in site.requests if len(h.path) > 2000]


class _HeldSink(CollectingSink):
    """A sink whose first flush waits until ``release()`` is true (or ``timeout`` passed): a slow index."""

    def __init__(self, release, timeout: float) -> None:
        super().__init__()
        self.release, self.timeout = release, timeout
        self.submitted_at: list[float] = []

    def submit(self, article) -> None:
        super().submit(article)
        self.submitted_at.append(time.monotonic())

    def flush(self, timeout: float | None = None, *, since: int = 0) -> bool:
        deadline = time.monotonic() + self.timeout
        while not self.flushes and not self.release() and time.monotonic() < deadline:
            time.sleep(0.02)
        return super().flush(timeout, since=since)


def test_a_run_fetches_no_faster_than_it_finishes_pages(fixture_site_factory, tmp_path, monkeypatch):
    """With the sink's flush held, at most the run's window of article pages is fetched beyond those handed
    to the sink: the crawler carries many runs and admits thousands of requests to its downloader, and every
    page they brought would be held in memory until the sink caught up."""
    from crawler.outcomes import Outcomes

    site = fixture_site_factory(40, seed=False)
    window = 3
    monkeypatch.setattr(Outcomes, "FLUSH_EVERY", 4)
    # held until the crawl ran ahead (the old behaviour) or, at the latest, for 5 s
    sink = _HeldSink(release=lambda: len(site.article_hits()) >= 30, timeout=5)
    cfg = fast_crawl_settings(tmp_path, concurrent_requests=window)
    summary = run_blocking(crawl_sources([Source(**site.source())], cfg, sink))["fixture"]
    assert summary.counts.get("new") == 40 and not summary.failed
    fetched = sorted(h.time for h in site.hits("/news/"))
    ahead = max(sum(1 for t in fetched if t <= at) - sum(1 for s in sink.submitted_at if s < at) for at in fetched)
    assert ahead <= window
