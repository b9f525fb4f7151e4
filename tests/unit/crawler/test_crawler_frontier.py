"""crawler.frontier: the seen-URL store, document validators, run ledger, exact accounting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crawler.accounting import RunAccounting, RunSummary, is_retryable
from crawler.frontier import Frontier
from tests.unit.crawler.frontier_checks import check_runs_forgotten

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_seen_store(tmp_path):
    fr = Frontier(tmp_path / "f.sqlite3")
    url = "https://x.example/a"
    assert not fr.is_fresh(url)
    fr.discovered(url, url, source="s", kind="article")
    assert not fr.is_fresh(url), "discovered is not done"
    first = fr.get(url).first_seen
    fr.mark_done(url, url=url, source="s", kind="article", status="new", lastmod=T0, content_hash="h")
    assert fr.is_fresh(url) and fr.is_fresh(url, T0) and fr.is_fresh(url, T0 - timedelta(days=1))
    assert not fr.is_fresh(url, T0 + timedelta(seconds=1)), "a newer feed date means changed"
    st = fr.get(url)
    assert st.first_seen == first and st.content_hash == "h" and st.status == "new"
    fr.close()
    with Frontier(tmp_path / "f.sqlite3") as again:  # persistent
        assert again.is_fresh(url)


def test_failures(tmp_path):
    fr = Frontier(tmp_path / "f.sqlite3")
    fr.mark_failed("u1", url="u1", source="s", kind="article", status="error:timeout")
    fr.mark_failed("u2", url="u2", source="s", kind="article", status="error:http_404", permanent=True)
    assert not fr.is_fresh("u1") and fr.is_fresh("u2")
    assert fr.get("u1").fails == 1


def test_document_validators(tmp_path):
    fr = Frontier(tmp_path / "f.sqlite3")
    fr.save_document("f", url="f", source="s", kind="feed", status="listing", etag='"1"', last_modified="x",
                     body_hash="b1", full_fetch=True)
    st = fr.get("f")
    assert (st.etag, st.body_hash, st.etag_unreliable) == ('"1"', "b1", False) and st.last_full_fetch
    fr.flag_unreliable_etag("f")
    fr.save_document("f", url="f", source="s", kind="feed", status="listing", etag='"1"', last_modified=None,
                     body_hash="b2")
    st2 = fr.get("f")
    assert st2.etag_unreliable and st2.body_hash == "b2" and st2.last_full_fetch == st.last_full_fetch


def test_runs(tmp_path):
    fr = Frontier(tmp_path / "f.sqlite3")
    for source, n in (("a", 1), ("a", 2), ("b", 5)):
        acc = RunAccounting(source)
        for i in range(n):
            acc.record(f"u{i}", f"u{i}", "new")
        acc.record("bad", "bad", "error:timeout", "slow")
        summary = acc.summary()
        summary.run_id = fr.begin_run(source, summary.started_at)
        fr.finish_run(summary)
    fr.begin_run("c", T0)  # crashed run: never finished, not shown
    last = fr.last_runs()
    assert set(last) == {"a", "b"}
    assert last["a"].articles == 2 and last["a"].errors == 1 and last["a"].counts == {"new": 2, "error:timeout": 1}
    assert last["a"].error_samples == [{"url": "bad", "status": "error:timeout", "reason": "slow"}]
    assert len(fr.runs("a")) == 2


def test_accounting_counts_once():
    seen = []
    acc = RunAccounting("s", progress=seen.append)
    assert acc.record("u", "u", "new")
    assert not acc.record("u", "u", "error:ingest")
    assert acc.counts == {"new": 1} and acc.articles == 1
    assert seen[-1] == {"source": "s", "articles": 1, "new": 1}


def test_retryable():
    assert not is_retryable("new") and not is_retryable("seen") and not is_retryable("error:http_404")
    assert not is_retryable("skipped:robots")
    assert is_retryable("skipped:cap") and is_retryable("error:timeout") and is_retryable("error:ingest")


def test_a_frontier_of_an_older_url_form_is_rekeyed(tmp_path):
    """Keys written by the hand-made canonicalisation (query spaces as %20, "//" folded) are
    found under today's form after an upgrade: finished work stays finished."""
    import sqlite3

    from crawler.urls import canonicalize

    path = tmp_path / "frontier.sqlite3"
    old_article, old_feed = "https://ex.com/search?q=a%20b", "https://ex.com/feeds/rss?cat=a%20b"
    with Frontier(path) as fr:
        fr.mark_done(old_article, url=old_article, source="s", kind="article", status="new")
        fr.save_document(old_feed, url="https://ex.com/feeds/rss?cat=a b", source="s", kind="feed", status="listing",
                         etag='"v1"', last_modified=None, body_hash="h")
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")  # as an older version left it
    db.commit()
    db.close()
    with Frontier(path) as fr:
        article = fr.get(canonicalize(old_article))
        feed = fr.get(canonicalize("https://ex.com/feeds/rss?cat=a b"))
        assert canonicalize(old_article) != old_article
        assert article is not None and article.done and article.status == "new"
        assert feed is not None and feed.etag == '"v1"' and feed.body_hash == "h"
        assert fr.get(old_article) is None
    with Frontier(path) as fr:  # a second open has nothing left to do
        assert fr.count() == 2


def test_old_runs_are_forgotten_but_each_sources_last(tmp_path):
    with Frontier(tmp_path / "f.sqlite3") as fr:
        check_runs_forgotten(fr)
