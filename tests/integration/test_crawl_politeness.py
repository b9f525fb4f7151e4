"""Politeness: robots.txt disallow and Crawl-delay obeyed (5xx robots = disallow all), 429 and
503 with Retry-After waited out, an identifying User-Agent, and the per-host rate measured
with the default politeness settings."""

from __future__ import annotations

import pytest

from crawler.runner import run_crawl_blocking
from crawler.sources import CrawlSettings, Source
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def run(site, cfg, **source):
    sink = CollectingSink()
    summaries = run_crawl_blocking([Source(**site.source(**source))], cfg, sink)
    return sink, summaries["fixture"]


def test_robots_disallow_honoured(fixture_site, tmp_path):
    site = fixture_site
    secret = site.newest()[1]
    site.disallow(secret.path, "/section/news/page/")
    sink, summary = run(site, fast_crawl_settings(tmp_path), discovery="all",
                        sections={"urls": [site.section_url], "max_depth": 2})
    assert secret.path not in site.article_hits()
    assert not site.hits("/section/news/page/")
    assert secret.path not in sink.paths
    assert summary.counts["skipped:robots"] == 2
    assert len(sink.paths) == len(site.articles) - 1


def test_robots_5xx_means_disallow_all(fixture_site, tmp_path):
    fixture_site.robots_status = 503
    sink, summary = run(fixture_site, fast_crawl_settings(tmp_path))
    assert [h.path for h in fixture_site.requests] == ["/robots.txt"]
    assert sink.articles == [] and summary.counts == {"skipped:robots": 1}
    assert summary.failed  # no entry point could be read


def test_robots_404_means_allow_all(fixture_site, tmp_path):
    fixture_site.robots_status = 404
    sink, _ = run(fixture_site, fast_crawl_settings(tmp_path))
    assert len(sink.articles) == len(fixture_site.articles)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_waited_out(fixture_site, tmp_path, status):
    site = fixture_site
    target = site.newest()[0].path
    site.throttle(target, status=status, retry_after=1, times=1)
    sink, summary = run(site, fast_crawl_settings(tmp_path))
    hits = site.hits(target)
    assert [h.status for h in hits] == [status, 200]
    assert hits[1].time - hits[0].time >= 0.95, "Retry-After: 1 was waited out"
    assert target in sink.paths and summary.errors == 0


def test_retry_after_too_long_gives_up_for_this_run(fixture_site, tmp_path):
    site = fixture_site
    target = site.newest()[0].path
    site.throttle(target, status=429, retry_after=3600, times=1)
    sink, summary = run(site, fast_crawl_settings(tmp_path, max_retry_after=5))
    assert summary.counts["error:http_429"] == 1 and target not in sink.paths
    site.reset_log()
    sink2, _ = run(site, fast_crawl_settings(tmp_path, max_retry_after=5))
    assert sink2.paths == [target], "retried on the next run"


def test_crawl_delay_spaces_requests(fixture_site, tmp_path):
    site = fixture_site
    site.crawl_delay = 0.25
    run(site, fast_crawl_settings(tmp_path, concurrent_requests_per_host=4))
    times = sorted(h.time for h in site.requests if h.path != "/robots.txt")
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.2, gaps


@pytest.mark.parametrize("cap", [1, 2])
def test_per_host_concurrency_cap(fixture_site, tmp_path, cap):
    fixture_site.delay_s = 0.1
    run(fixture_site, fast_crawl_settings(tmp_path, concurrent_requests_per_host=cap))
    assert fixture_site.max_in_flight == cap


def test_identifying_user_agent(fixture_site, tmp_path):
    run(fixture_site, fast_crawl_settings(tmp_path, user_agent_contact="https://example.org/bot"))
    uas = {h.headers.get("user-agent") for h in fixture_site.requests}
    assert len(uas) == 1
    ua = uas.pop()
    assert ua.startswith("mediawatch/") and "(+https://example.org/bot)" in ua


def test_default_politeness_rate_per_host(fixture_site, tmp_path):
    """With the shipped defaults (0.5 s delay ±50 %, AutoThrottle, 2 per host) one host sees
    at most ~2 requests a second."""
    site = fixture_site
    cfg = CrawlSettings(state_path=str(tmp_path / "crawl.sqlite3"), extraction_pool="thread")
    run(site, cfg)
    times = sorted(h.time for h in site.requests)
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    print(f"default politeness: {len(times)} requests in {span:.2f}s = {rate:.2f} req/s per host")
    assert rate <= 2.5
