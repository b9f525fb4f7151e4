"""Incremental crawling: a second run with nothing new fetches zero article pages; one added
article is fetched exactly once; conditional GET (304) and the body hash when the ETag lies;
the frontier marks a URL done only after the sink accepted it; run summaries are kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crawler.frontier import Frontier
from crawler.runner import run_crawl_blocking
from crawler.sources import Source
from crawler.urls import canonicalize
from tests.harness.crawling import CollectingSink, fast_crawl_settings
from tests.harness.sites import fixture_site  # noqa: F401
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(120)


def run(site, cfg, sink=None, **source):
    sink = sink if sink is not None else CollectingSink()
    summaries = run_crawl_blocking([Source(**site.source(**source))], cfg, sink)
    return sink, summaries["fixture"]


@pytest.mark.parametrize("mode", ["rss", "atom", "rdf", "sitemaps", "sections"])
def test_second_run_fetches_nothing_then_exactly_the_new_article(fixture_site, tmp_path, mode):
    site = fixture_site
    src = {
        "rss": {"feeds": [site.rss_url]},
        "atom": {"feeds": [site.atom_url]},
        "rdf": {"feeds": [site.rdf_url]},
        "sitemaps": {"feeds": [], "sitemaps": [site.sitemap_index_url]},
        "sections": {"feeds": [], "sections": {"urls": [site.section_url], "max_depth": 1}},
    }[mode]
    cfg = fast_crawl_settings(tmp_path)
    first, s1 = run(site, cfg, **src)
    assert s1.articles == len(first.articles) > 0

    site.reset_log()
    second, s2 = run(site, cfg, **src)
    assert site.article_hits() == [], "nothing new: zero article pages fetched"
    assert second.articles == [] and s2.articles == 0
    assert s2.errors == 0

    added = site.add_article()
    site.reset_log()
    third, s3 = run(site, cfg, **src)
    assert site.article_hits() == [added.path]
    assert third.paths == [added.path]
    assert s3.counts["new"] == 1
    if mode != "sections":
        assert s3.counts.get("seen", 0) >= 1


def test_conditional_get_sends_validators_and_gets_304(fixture_site, tmp_path):
    cfg = fast_crawl_settings(tmp_path)
    run(fixture_site, cfg)
    fixture_site.reset_log()
    _, s2 = run(fixture_site, cfg)
    feed_hits = fixture_site.hits("/feeds/rss.xml")
    assert len(feed_hits) == 1 and feed_hits[0].status == 304
    assert "if-none-match" in feed_hits[0].headers and "if-modified-since" in feed_hits[0].headers
    assert s2.counts == {"not_modified": 1}


def test_same_etag_changed_feed_always_200_caught_by_body_hash(fixture_site, tmp_path):
    site = fixture_site
    site.etag_mode = "constant_200"
    cfg = fast_crawl_settings(tmp_path)
    run(site, cfg)
    site.reset_log()
    _, s2 = run(site, cfg)
    assert site.article_hits() == [] and s2.counts == {"not_modified": 1}  # same body hash
    added = site.add_article()
    site.reset_log()
    sink, s3 = run(site, cfg)
    assert site.article_hits() == [added.path] and sink.paths == [added.path]


def test_same_etag_answered_304_caught_by_revalidation(fixture_site, tmp_path):
    """A server that 304s a changed feed because its ETag never changes: the periodic
    unconditional GET finds the change and the ETag is not trusted for that feed again."""
    site = fixture_site
    site.etag_mode = "constant_304"
    cfg = fast_crawl_settings(tmp_path, revalidate_after="2s")
    run(site, cfg)
    added = site.add_article()
    site.reset_log()
    _, s2 = run(site, cfg)  # within the window: conditional, the server lies with a 304
    assert s2.counts == {"not_modified": 1} and site.article_hits() == []
    with Frontier(cfg.state_path) as fr:
        full = fr.get(canonicalize(site.rss_url)).last_full_fetch
    wait_until(lambda: datetime.now(timezone.utc) - full >= timedelta(seconds=2), 10, "revalidate_after past")
    site.reset_log()
    sink, s3 = run(site, cfg)  # revalidation due: unconditional GET, same ETag, new body
    assert "if-none-match" not in site.hits("/feeds/rss.xml")[0].headers
    assert sink.paths == [added.path]
    with Frontier(cfg.state_path) as fr:
        assert fr.get(canonicalize(site.rss_url)).etag_unreliable
    added2 = site.add_article()
    site.reset_log()
    sink, _ = run(site, cfg)  # the ETag is no longer trusted: found at once
    assert sink.paths == [added2.path]


def test_done_only_after_sink_accepted(fixture_site, tmp_path):
    site = fixture_site
    cfg = fast_crawl_settings(tmp_path)
    victim = site.newest()[0].path
    sink = CollectingSink()
    sink.fail_paths.add(victim)
    _, s1 = run(site, cfg, sink=sink)
    assert s1.counts["error:ingest"] == 1 and victim not in sink.paths
    site.reset_log()
    sink2, s2 = run(site, cfg)  # the feed is re-read (not all its URLs finished) and the one retried
    assert site.article_hits() == [victim]
    assert sink2.paths == [victim]
    assert s2.counts["new"] == 1


def test_nothing_marked_done_when_the_flush_fails(fixture_site, tmp_path):
    class FailingFlush(CollectingSink):
        def flush(self, timeout=None, *, since=0):
            raise RuntimeError("index down and spool full")

    class UnstoredFlush(CollectingSink):
        def flush(self, timeout=None, *, since=0):
            return False  # the Ingestor's answer when neither the index nor the spool took a batch

    site = fixture_site
    for failing in (FailingFlush(), UnstoredFlush()):
        cfg = fast_crawl_settings(tmp_path / type(failing).__name__)
        site.reset_log()
        run(site, cfg, sink=failing)
        assert failing.articles  # the crawl did submit them
        site.reset_log()
        sink, s2 = run(site, cfg)  # everything again: nothing was durably indexed
        assert sorted(site.article_hits()) == sorted(a.path for a in site.articles)
        assert s2.counts["new"] == len(site.articles)


def test_feed_date_change_refetches(fixture_site, tmp_path):
    from datetime import timedelta

    site = fixture_site
    cfg = fast_crawl_settings(tmp_path)
    run(site, cfg, feeds=[site.atom_url])
    art = site.newest()[-1]
    art.published = art.published + timedelta(days=2)  # the feed now says it was updated
    art.html = art.html.replace("</body>", "<p>Update: a correction was appended.</p></body>")
    site.reset_log()
    sink, s2 = run(site, cfg, feeds=[site.atom_url])
    assert site.article_hits() == [art.path]
    assert s2.counts.get("updated", 0) + s2.counts.get("not_modified", 0) >= 1


def test_run_summaries_are_kept(fixture_site, tmp_path):
    cfg = fast_crawl_settings(tmp_path)
    _, s1 = run(fixture_site, cfg)
    with Frontier(cfg.state_path) as fr:
        last = fr.last_runs()
    assert set(last) == {"fixture"}
    assert last["fixture"].articles == s1.articles and last["fixture"].counts == s1.counts
    assert last["fixture"].finished_at is not None and not last["fixture"].failed
