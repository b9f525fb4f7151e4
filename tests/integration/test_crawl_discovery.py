"""Every discovery mode finds the fixture site's articles: RSS 2.0, Atom, RSS 1.0/RDF, sitemap
index (urlset + gzip + news), news sitemap alone, section pages with depth; tracking-parameter
variants are folded into one fetch; fallback order feeds -> sitemaps -> sections."""

from __future__ import annotations

from collections import Counter

import pytest

from crawler.runner import run_crawl_blocking
from crawler.sources import Source
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site, fixture_site_factory  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def crawl(site, tmp_path, **source):
    sink = CollectingSink()
    summaries = run_crawl_blocking([Source(**site.source(**source))], fast_crawl_settings(tmp_path), sink)
    return sink, summaries[source.get("name", "fixture")]


def all_paths(site):
    return sorted(a.path for a in site.articles)


@pytest.mark.parametrize("feed", ["rss_url", "atom_url", "rdf_url"])
def test_feed_types_find_every_article(fixture_site, tmp_path, feed):
    sink, summary = crawl(fixture_site, tmp_path, feeds=[getattr(fixture_site, feed)])
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert summary.counts == {"listing": 1, "new": len(fixture_site.articles)}
    assert summary.articles == len(fixture_site.articles) and summary.errors == 0 and not summary.failed
    assert all(a.title and a.text and a.source == "fixture" for a in sink.articles)
    # each article page fetched exactly once
    assert Counter(fixture_site.article_hits()) == {p: 1 for p in all_paths(fixture_site)}


def test_sitemap_index_with_gzip_and_news(fixture_site, tmp_path):
    sink, summary = crawl(fixture_site, tmp_path, feeds=[], sitemaps=[fixture_site.sitemap_index_url])
    assert sorted(sink.paths) == all_paths(fixture_site)
    # index + pages.xml + pages-2.xml.gz + news.xml
    assert summary.counts["listing"] == 4
    assert summary.counts["new"] == len(fixture_site.articles)
    assert [h.path for h in fixture_site.hits("/sitemaps/pages-2.xml.gz")] == ["/sitemaps/pages-2.xml.gz"]


def test_news_sitemap_alone_gives_dates(fixture_site, tmp_path):
    sink, summary = crawl(fixture_site, tmp_path, feeds=[], sitemaps=[fixture_site.news_sitemap_url])
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert all(a.published_at is not None for a in sink.articles)


def test_sections_depth_one_and_two(fixture_site, tmp_path):
    arts = fixture_site.newest()
    cut = (2 * len(arts)) // 3
    sink, summary = crawl(fixture_site, tmp_path, name="s1", feeds=[],
                          sections={"urls": [fixture_site.section_url], "max_depth": 1})
    assert sorted(sink.paths) == sorted(a.path for a in arts[:cut])
    # tracking-parameter and #fragment variants folded: one fetch per article
    assert max(Counter(fixture_site.article_hits()).values()) == 1
    assert not fixture_site.hits("/static/"), "non-HTML links are not fetched"
    assert summary.counts.get("skipped:non_html", 0) == 1
    assert summary.counts.get("skipped:offsite", 0) == 1  # twitter.example
    assert summary.counts.get("not_article", 0) >= 1  # /about/ and page/2 at the depth limit

    sink2, summary2 = crawl(fixture_site, tmp_path / "deep", name="s2", feeds=[],
                            sections={"urls": [fixture_site.section_url], "max_depth": 2})
    assert sorted(sink2.paths) == all_paths(fixture_site)


def test_section_allow_deny(fixture_site, tmp_path):
    sink, summary = crawl(fixture_site, tmp_path, feeds=[],
                          sections={"urls": [fixture_site.section_url], "max_depth": 2,
                                    "allow": [r"/news/", r"/section/"], "deny": [r"/news/00[1-3]-"]})
    assert sink.paths and all(not p.startswith(("/news/001-", "/news/002-", "/news/003-")) for p in sink.paths)
    assert not fixture_site.hits("/about/")
    assert summary.counts.get("skipped:denied", 0) >= 1 and summary.counts.get("skipped:not_allowed", 0) >= 1


def test_fallback_to_sitemaps_when_feed_is_broken(fixture_site, tmp_path):
    sink, summary = crawl(fixture_site, tmp_path, feeds=[fixture_site.url("/hostile/html.xml")],
                          sitemaps=[fixture_site.news_sitemap_url], sections={"urls": [fixture_site.section_url]})
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert summary.counts["error:not_a_feed"] == 1
    assert not fixture_site.hits("/section/"), "sections are not needed when sitemaps found articles"


def test_no_fallback_when_feed_works(fixture_site, tmp_path):
    sink, _ = crawl(fixture_site, tmp_path, sitemaps=[fixture_site.news_sitemap_url])
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert not fixture_site.hits("/sitemaps/")


def test_discovery_all_dedups_across_modes(fixture_site, tmp_path):
    sink, summary = crawl(fixture_site, tmp_path, discovery="all", feeds=[fixture_site.rss_url, fixture_site.atom_url],
                          sitemaps=[fixture_site.sitemap_index_url], sections={"urls": [fixture_site.section_url]})
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert Counter(fixture_site.article_hits()) == {p: 1 for p in all_paths(fixture_site)}
    assert summary.counts["new"] == len(fixture_site.articles)


def test_process_pool_extraction(fixture_site, tmp_path):
    sink = CollectingSink()
    crawl_cfg = fast_crawl_settings(tmp_path, extraction_pool="process", extraction_workers=2)
    summaries = run_crawl_blocking([Source(**fixture_site.source())], crawl_cfg, sink)
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert summaries["fixture"].counts["new"] == len(fixture_site.articles)


def test_robots_sitemap_lines_for_a_source_that_lists_no_sitemaps(fixture_site, tmp_path):
    fixture_site.robots_sitemaps = ["/sitemaps/news.xml", "/sitemaps/news.xml"]  # named twice, read once
    sink, summary = crawl(fixture_site, tmp_path, feeds=[], sections={"urls": [fixture_site.section_url]})
    # The section page alone (depth 1) reaches two thirds of the articles; the sitemap names all.
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert [h.path for h in fixture_site.hits("/sitemaps/")] == ["/sitemaps/news.xml"]
    assert not fixture_site.hits("/section/"), "the sitemap found articles: no fallback to sections"
    assert summary.counts["listing"] == 2  # robots.txt and the sitemap it names

    # The next run revalidates the sitemap (conditional GET) and fetches no article again.
    fixture_site.reset_log()
    again, summary2 = crawl(fixture_site, tmp_path, feeds=[], sections={"urls": [fixture_site.section_url]})
    assert again.paths == [] and fixture_site.article_hits() == [] and not fixture_site.hits("/section/")
    assert summary2.counts.get("not_modified") == 1 and summary2.errors == 0

    off = crawl(fixture_site, tmp_path / "off", name="off", feeds=[], robots_sitemaps=False,
                sections={"urls": [fixture_site.section_url]})[0]
    assert off.paths and len(off.paths) < len(all_paths(fixture_site))
    assert fixture_site.hits("/section/")


def test_robots_without_sitemap_lines_falls_back_to_sections(fixture_site, tmp_path):
    sink, summary = crawl(fixture_site, tmp_path, feeds=[], sections={"urls": [fixture_site.section_url]})
    assert sink.paths and fixture_site.hits("/section/") and not fixture_site.hits("/sitemaps/")
    assert summary.errors == 0 and not summary.failed


def test_robots_sitemaps_are_not_read_when_the_config_lists_sitemaps(fixture_site, tmp_path):
    fixture_site.robots_sitemaps = ["/sitemap_index.xml"]
    sink, _ = crawl(fixture_site, tmp_path, feeds=[], sitemaps=[fixture_site.news_sitemap_url])
    assert sorted(sink.paths) == all_paths(fixture_site)
    assert not fixture_site.hits("/sitemap_index.xml")
