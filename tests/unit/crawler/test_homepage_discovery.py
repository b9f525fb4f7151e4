"""The pure parts of `sources add` and of the robots.txt sitemap stage: feed links of a homepage,
Sitemap: lines, the per-day estimate, the suggested name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crawler.discovery.homepage import feed_links, feed_paths, per_day, sitemap_paths, suggest_name
from crawler.discovery.robots import robots_url, robots_urls, sitemaps_in_robots

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def test_feed_links_are_the_alternate_feed_links_resolved_against_base():
    html = """<html><head><base href="/en/">
      <link rel="alternate" type="application/rss+xml" href="rss.xml">
      <link rel="alternate" hreflang="de" href="/de/">
      <link rel="stylesheet" type="text/css" href="a.css">
      <link rel="Alternate Feed" type="application/atom+xml; charset=utf-8" href="https://feeds.example.net/a">
      <link rel="alternate" type="application/feed+json" href="/feed.json">
      <link rel="alternate" type="application/rss+xml" href="rss.xml#dup">
      <link rel="alternate" type="application/rss+xml" title="Example &raquo; Comments Feed" href="/comments/feed/">
      <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
    </head><body><a rel="alternate" type="application/rss+xml" href="/not-a-link-element.xml">x</a></body></html>"""
    assert feed_links(html, "https://www.example.com/") == [
        "https://www.example.com/en/rss.xml", "https://feeds.example.net/a"]


def test_feed_links_of_nothing():
    assert feed_links("", "https://x/") == [] and feed_links("<p>no head</p>", "https://x/") == []


def test_usual_paths_are_on_the_homepage_host():
    assert feed_paths("https://www.example.com/en/start")[0] == "https://www.example.com/feed"
    assert sitemap_paths("http://127.0.0.1:8080/x")[0] == "http://127.0.0.1:8080/sitemap.xml"


def test_per_day_from_dates():
    hourly = [NOW - timedelta(hours=h) for h in range(12)]
    assert per_day(hourly, NOW) == 12  # less than a day of entries: counted over one day
    daily = [NOW - timedelta(days=d, hours=1) for d in range(30)]
    # only the last week counts: 7 entries over the 6 days 1 hour since the oldest of them
    assert per_day(daily, NOW) == pytest.approx(7 / (145 / 24))
    assert per_day([None, NOW - timedelta(days=400)], NOW) is None
    assert per_day([NOW + timedelta(days=3)], NOW) is None  # a date in the future is not news


def test_suggest_name():
    assert suggest_name("https://www.dw.com/en/") == "dw.com"
    assert suggest_name("http://127.0.0.1:8080/") == "127.0.0.1-8080"
    assert suggest_name("https://xn--bcher-kva.example/") == "xn--bcher-kva.example"


def test_robots_sitemaps():
    body = (b"# comment\nUser-agent: *\nDisallow: /private\nSitemap: /sitemap_index.xml\n"
            b"sitemap: https://cdn.example.org/news.xml  # the news one\nSitemap: ftp://x/y.xml\n"
            b"Sitemap: /sitemap_index.xml\n")
    assert sitemaps_in_robots(body, "https://example.org/robots.txt") == [
        "https://example.org/sitemap_index.xml", "https://cdn.example.org/news.xml"]
    assert sitemaps_in_robots(b"\xff\xfe garbage \x00", "https://example.org/robots.txt") == []
    assert robots_url("https://example.org:8443/a/b?c") == "https://example.org:8443/robots.txt"
    assert robots_urls(["https://a/x", "https://a/y", "http://b/z"]) == ["https://a/robots.txt", "http://b/robots.txt"]


def test_the_proposed_source():
    from crawler.probe import Found, Probe, ProbeError, propose

    home = "https://www.example.com/"
    own = Probe(homepage=home, final_url=home, feeds=[Found("https://www.example.com/rss", "rss2", "x")],
                sitemaps=[Found("https://example.com/news.xml", "urlset", "robots.txt")])
    assert propose(own, "ex") == {"name": "ex", "feeds": ["https://www.example.com/rss"],
                                  "sitemaps": ["https://example.com/news.xml"]}
    # a feed service's feed: the site's own articles must stay on-site
    hosted = Probe(homepage=home, final_url=home, feeds=[Found("https://feeds.feedservice.net/ex", "rss2", "x")])
    assert propose(hosted, "ex")["allowed_domains"] == ["example.com"]
    bare = Probe(homepage=home, final_url="https://www.example.com/en/")
    assert propose(bare, "ex") == {"name": "ex", "sections": {"urls": ["https://www.example.com/en/"]}}
    with pytest.raises(ProbeError, match="HTTP 500"):
        propose(Probe(homepage=home, error="the homepage answered HTTP 500"), "ex")
