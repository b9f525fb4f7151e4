"""Hostile and broken feeds are logged with URL and reason and skipped while other sources go
on; links to private / loopback / link-local addresses are refused before any connection."""

from __future__ import annotations

import sqlite3

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from crawler.frontier import Frontier
from crawler.runner import run_crawl_blocking
from crawler.sources import Source
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site, fixture_site_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


class Tripwire:
    """Last downloader middleware: anything that got past the SSRF guard to a host other than
    the literal 127.0.0.1 is recorded and stopped here, so a broken guard fails the test
    without ever connecting anywhere."""

    seen: list[str] = []

    def process_request(self, request, spider=None):
        if urlparse_cached(request).hostname != "127.0.0.1":
            Tripwire.seen.append(request.url)
            raise IgnoreRequest("tripwire")


def test_hostile_feeds_are_skipped_and_other_sources_go_on(fixture_site_factory, tmp_path):
    good, bad = fixture_site_factory(6), fixture_site_factory(3, offset=20)
    names = ["bomb", "xxe", "garbage", "html", "huge"]
    hostile = Source(name="hostile", feeds=[bad.url(f"/hostile/{n}.xml") for n in names], discovery="all",
                     allow_private_addresses=True)
    normal = Source(**good.source("normal"))
    sink = CollectingSink()
    summaries = run_crawl_blocking([hostile, normal], fast_crawl_settings(tmp_path), sink)
    assert sorted(sink.paths) == sorted(a.path for a in good.articles)
    assert summaries["normal"].counts == {"listing": 1, "new": len(good.articles)}
    h = summaries["hostile"]
    assert h.counts == {"error:xml_entities": 2, "error:xml_malformed": 1, "error:not_a_feed": 1,
                        "error:too_large": 1}
    assert h.failed and not summaries["normal"].failed
    reasons = {s["url"].rsplit("/", 1)[-1]: s for s in h.error_samples}
    assert "entity" in reasons["bomb.xml"]["reason"] and "entity" in reasons["xxe.xml"]["reason"]
    assert not bad.article_hits()


def test_broken_feed_recovered(fixture_site, tmp_path):
    sink = CollectingSink()
    src = Source(**fixture_site.source(feeds=[fixture_site.url("/hostile/broken.xml")]))
    summaries = run_crawl_blocking([src], fast_crawl_settings(tmp_path), sink)
    assert sink.paths == [fixture_site.newest()[0].path]
    assert summaries["fixture"].counts["listing"] == 1


def test_mislabelled_encoding_feed(fixture_site, tmp_path):
    sink = CollectingSink()
    src = Source(**fixture_site.source(feeds=[fixture_site.url("/hostile/latin1.xml")]))
    run_crawl_blocking([src], fast_crawl_settings(tmp_path), sink)
    assert sink.paths == [fixture_site.newest()[0].path]


def test_hostile_sitemaps(fixture_site, tmp_path):
    sink = CollectingSink()
    src = Source(**fixture_site.source(feeds=[], discovery="all",
                                       sitemaps=[fixture_site.url("/hostile/bomb.xml"),
                                                 fixture_site.url("/hostile/garbage.xml"),
                                                 fixture_site.news_sitemap_url]))
    s = run_crawl_blocking([src], fast_crawl_settings(tmp_path), sink)["fixture"]
    assert s.counts["error:xml_entities"] == 1 and s.counts["error:xml_malformed"] == 1
    assert len(sink.articles) == len(fixture_site.articles)


def test_ssrf_links_refused_before_connecting(fixture_site, tmp_path):
    site = fixture_site
    Tripwire.seen = []
    src = Source(name="ssrf", feeds=[site.url("/hostile/ssrf.xml")], allow_private_addresses=False,
                 allowed_domains=["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost", "::1", "127.0.0.2"])
    sink = CollectingSink()
    summaries = run_crawl_blocking([src], fast_crawl_settings(tmp_path), sink,
                                   extra_settings={"DOWNLOADER_MIDDLEWARES": {Tripwire: 999}})
    s = summaries["ssrf"]
    # [::1] comes out of crawler.urls.canonicalize without its brackets, so it fails the domain
    # check first (skipped:offsite); refused before connecting either way
    assert s.counts["listing"] == 1
    assert s.counts["skipped:private_address"] + s.counts.get("skipped:offsite", 0) == 5, s.counts
    assert s.counts["skipped:private_address"] >= 4
    assert Tripwire.seen == []
    # the configured feed's host is trusted; nothing else reached the fixture (localhost included)
    assert [h.path for h in site.requests] == ["/robots.txt", "/hostile/ssrf.xml"]
    assert sink.articles == []


def test_redirect_to_private_address_refused(fixture_site, tmp_path):
    site = fixture_site
    Tripwire.seen = []
    site.route("/news/moved.html", lambda: (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""))
    site.route("/feeds/moved.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, (
        f"<rss version='2.0'><channel><title>m</title><item><link>{site.url('/news/moved.html')}</link></item>"
        "</channel></rss>").encode()))
    src = Source(name="redir", feeds=[site.url("/feeds/moved.xml")], allowed_domains=["127.0.0.1", "169.254.169.254"])
    s = run_crawl_blocking([src], fast_crawl_settings(tmp_path), CollectingSink(),
                           extra_settings={"DOWNLOADER_MIDDLEWARES": {Tripwire: 999}})["redir"]
    assert s.counts == {"listing": 1, "skipped:private_address": 1}
    assert Tripwire.seen == []


class FullFrontier(Frontier):
    """The crawl state refusing new URLs, as on a full disk: which write a filled disk fails first depends
    on SQLite's free pages (tests/faults/test_disk_full.py fills a real one); this fails the same one always."""

    def discovered(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")


def test_a_callback_that_raises_after_its_feed_was_counted_is_an_error_of_the_run(fixture_site, tmp_path):
    frontier = FullFrontier(str(tmp_path / "crawl.sqlite3"))
    try:
        summaries = run_crawl_blocking([Source(**fixture_site.source())], fast_crawl_settings(tmp_path),
                                       CollectingSink(), frontier=frontier)
    finally:
        frontier.close()
    summary = summaries["fixture"]
    # the feed is not "listed" (a quiet success with nothing fetched): incomplete, tried again next run,
    # and the run, whose one entry point could not be read, failed
    assert summary.counts == {"skipped:incomplete": 1} and summary.failed, summary.to_dict()
    assert summary.errors == 1, summary.to_dict()
    (sample,) = summary.error_samples
    assert sample["url"] == fixture_site.rss_url and sample["status"] == "error:callback"
    assert "database or disk is full" in sample["reason"]


def test_a_broken_emoji_in_json_ld_costs_nothing_but_itself(fixture_site_factory, tmp_path):
    """JSON-LD strings cut to a length in UTF-16 units end mid-emoji ("\\ud83d" without its pair): json reads
    a lone surrogate, which UTF-8 refuses, and the article was lost as error:extract. It is indexed, the
    half emoji read as U+FFFD (as lxml reads "&#xd83d;"), and its title, author and description are kept."""
    site = fixture_site_factory(1)
    story = "Lukashenko met jailed rivals in a KGB prison in Minsk, state media said. " * 10
    ld = ('{"@type": "NewsArticle", "headline": "Talks in the KGB prison \\ud83d", '
          '"author": {"@type": "Person", "name": "Jana Kiel \\udc00"}, "description": "Four hours \\ud83d\\ude00 \\ud83d",'
          ' "datePublished": "2024-03-01T10:00:00Z"}')
    page = site.add_article(title="Talks", html=f'<html><head><script type="application/ld+json">{ld}</script></head>'
                                                f'<body><article><p>{story}</p></article></body></html>')
    sink = CollectingSink()
    summary = run_crawl_blocking([Source(**site.source())], fast_crawl_settings(tmp_path), sink)["fixture"]
    assert page.path in sink.paths and not summary.errors, summary.counts
    article = next(a for a in sink.articles if a.url.endswith(page.path))
    assert article.title == "Talks in the KGB prison \ufffd"
    assert article.authors == ["Jana Kiel"] and article.description == "Four hours \U0001F600 \ufffd"
    assert article.published_at.isoformat() == "2024-03-01T10:00:00+00:00"
