"""Bounds and traps: an infinite calendar stays within depth and page caps, per-run article
caps (the rest next run), redirect loops, oversized pages, non-HTML content, time limit."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from crawler.runner import run_crawl_blocking
from crawler.sources import Source
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site, fixture_site_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def run(site, cfg, **source):
    sink = CollectingSink()
    summaries = run_crawl_blocking([Source(**site.source(**source))], cfg, sink)
    return sink, summaries["fixture"]


def test_calendar_trap_stays_within_page_cap(fixture_site, tmp_path):
    site = fixture_site
    site.trap = True
    sink, summary = run(site, fast_crawl_settings(tmp_path), feeds=[], max_pages_per_run=40,
                        sections={"urls": [site.section_url], "max_depth": 5})
    requested = [h for h in site.requests if h.path != "/robots.txt"]
    assert len(requested) <= 40
    assert summary.counts.get("skipped:cap", 0) > 0
    assert summary.reason == "finished" and sink.articles  # it ended, and found articles


def test_calendar_trap_stays_within_depth(fixture_site, tmp_path):
    site = fixture_site
    site.trap = True
    sink, summary = run(site, fast_crawl_settings(tmp_path), feeds=[],
                        sections={"urls": [site.section_url], "max_depth": 2})
    calendars = {h.path for h in site.hits("/calendar/")}
    # depth 1: /calendar/2020/01/ ; depth 2: its 3 month links and 5 day links; never depth 3
    assert "/calendar/2020/01/" in calendars and len(calendars) <= 9
    assert "/calendar/2019/11/" not in calendars and "/calendar/2022/01/" not in calendars
    assert summary.reason == "finished"


def test_article_cap_and_the_rest_next_run(fixture_site, tmp_path):
    site = fixture_site
    cfg = fast_crawl_settings(tmp_path)
    sink, s1 = run(site, cfg, max_articles_per_run=3)
    assert len(sink.articles) == 3 and len(site.article_hits()) == 3
    assert s1.counts["skipped:cap"] == len(site.articles) - 3
    newest3 = {a.path for a in site.newest()[:3]}
    assert set(sink.paths) == newest3, "newest first under a cap"
    site.reset_log()
    sink2, s2 = run(site, cfg, max_articles_per_run=100)
    assert len(sink2.articles) == len(site.articles) - 3
    assert not set(sink2.paths) & newest3


def test_redirect_loop(fixture_site, tmp_path):
    site = fixture_site
    site.route("/feeds/loop.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, (
        f"<rss version='2.0'><channel><title>l</title><item><link>{site.url('/redirect/loop')}</link></item>"
        "</channel></rss>").encode()))
    _, summary = run(site, fast_crawl_settings(tmp_path, max_redirects=3), feeds=[site.url("/feeds/loop.xml")])
    assert summary.counts["error:redirect_loop"] == 1
    assert len(site.hits("/redirect/")) <= 4


def test_oversized_page_refused(fixture_site, tmp_path):
    _, summary = run(fixture_site, fast_crawl_settings(tmp_path), max_page_bytes=10_000)
    # every aeb page is larger than 10 kB
    assert summary.counts.get("error:too_large", 0) == len(fixture_site.articles)


def test_non_html_content_skipped(fixture_site, tmp_path):
    site = fixture_site
    site.route("/news/binary.html", lambda: (200, {"Content-Type": "application/octet-stream"}, b"\0" * 50_000))
    site.route("/feeds/bin.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, (
        f"<rss version='2.0'><channel><title>b</title><item><link>{site.url('/news/binary.html')}</link></item>"
        "</channel></rss>").encode()))
    sink, summary = run(site, fast_crawl_settings(tmp_path), feeds=[site.url("/feeds/bin.xml")])
    assert summary.counts == {"listing": 1, "not_article": 1}
    assert sink.articles == []


def test_slow_server_times_out(fixture_site, tmp_path):
    site = fixture_site
    site.delay_s = 2.0
    _, summary = run(site, fast_crawl_settings(tmp_path, download_timeout=0.5, obey_robots=False))
    assert summary.counts.get("error:timeout", 0) == 1 and summary.failed


def test_run_time_limit(fixture_site, tmp_path):
    site = fixture_site
    site.delay_s = 0.3
    sink, summary = run(site, fast_crawl_settings(tmp_path, max_run_seconds=1, concurrent_requests=1,
                                                  obey_robots=False))
    assert summary.reason == "closespider_timeout"
    assert summary.counts.get("skipped:time_limit", 0) >= 1
    assert sum(summary.counts.values()) == len(site.articles) + 1  # every URL counted once


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_meta_refresh_is_followed(fixture_site_factory, tmp_path, encoding):
    """A page that is only a meta refresh (the word in capitals, in a UTF-8 and a UTF-16 page) leads to the
    article it names, which is fetched and indexed under its own address."""
    site = fixture_site_factory(1, seed=False)
    story = site.articles[0].html
    site.route("/moved/story", lambda: (200, {"Content-Type": "text/html; charset=utf-8"}, story.encode("utf-8")))
    mover = ('<html><head><title>Moved</title><META HTTP-EQUIV="REFRESH" CONTENT="0; URL=/moved/story">'
             '</head><body>Moved.</body></html>')
    site.add_article(title="Moved", html=mover)
    site.route("/moved/start", lambda: (200, {"Content-Type": f"text/html; charset={encoding}"},
                                         mover.encode(encoding)))
    feed = (f"<rss version='2.0'><channel><title>r</title><item><link>{site.url('/moved/start')}</link></item>"
            "</channel></rss>")
    site.route("/feeds/moved.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, feed.encode()))
    sink, summary = run(site, fast_crawl_settings(tmp_path), feeds=[site.url("/feeds/moved.xml")])
    assert len(site.hits("/moved/story")) == 1
    assert summary.counts.get("new") == 1
    assert urlsplit(sink.articles[0].url).path == "/moved/story"
    assert len(sink.articles[0].text) > 500  # the article, not the page that moved
