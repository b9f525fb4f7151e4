"""Fault 2: the Elasticsearch node stopped in the middle of a crawl, then started again: the daemon
keeps crawling into its durable spool, drains it when the node is back, and the index holds every
article exactly once; every alert is mailed once.

The node stays stopped until the daemon has spooled articles, probed the node three times and
crawled on (at most OUTAGE_S, plus the time the node needs to start again, unreachable too); the
site answers slowly enough that the crawl goes on through the outage."""

from __future__ import annotations

import collections
import time
import uuid

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.daemon import problems
from tests.harness.faults import TcpProxy
from tests.harness.stores import alerts_pending, es_urls
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(240)

OUTAGE_S = 60
RULE = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"], "mode": "instant"}


def test_es_node_stopped_mid_crawl_spool_drains_exactly_once(project, daemons, fixture_site_factory, smtp_server,
                                                            es_running):
    es = es_running
    site = fixture_site_factory(30)
    site.delay_s = 1.5
    prefix = f"mw-fault-{uuid.uuid4().hex[:8]}"
    project.write(base_config(
        project.root, [site.source("fixture", **once())], rules=[RULE], smtp=smtp_server,
        index={"url": es.url, "prefix": prefix, "request_timeout_s": 5, "refresh": "true",
               # the retry/probe knobs, short (IndexConfig documents them)
               "retry_attempts": 1, "retry_backoff_s": 0.2, "probe_interval_s": 1, "probe_max_s": 3},
        crawl={"concurrent_requests_per_host": 1}))
    expected = {site.url(a.path) for a in site.articles}
    d = daemons(project)
    d.wait_for(lambda ev: d.named("daemon_started"), 60, "daemon_started")

    wait_until(lambda: len(set(site.article_hits())) >= 5 or not d.alive, 60, "five articles fetched")
    assert d.alive, d.tail()
    try:
        es.stop()
        hits_at_stop = len(set(site.article_hits()))
        # the crawl goes on during the outage: articles go to the spool, the node is probed on the
        # configured ladder (1 s, 2 s, then 3 s); the daemon says it is degraded
        d.wait_for(lambda ev: d.named("ingest.spooled") and len(d.named("ingest.backend_down")) >= 3
                   and len(set(site.article_hits())) >= hits_at_stop + 3, OUTAGE_S,
                   "articles crawled and spooled, and the node probed three times, while it is down")
        health = d.health()
        assert health["status"] == "degraded" and health["http"] == 200 and health["spool_depth"] > 0, health
        assert any(r.startswith("index unreachable") for r in health["reasons"]), health
        assert len(set(site.article_hits())) > hits_at_stop, "the crawl stalled on the outage"
        assert d.named("ingest.backend_down")
    finally:
        es.start()
    back_at = time.monotonic()

    d.wait_for(lambda ev: d.summaries("fixture"), 60, "the crawl's summary")
    d.wait_for(lambda ev: d.named("ingest.replayed"), 90, "the spool replayed")
    wait_until(lambda: d.health()["spool_depth"] == 0, 30, "the spool drained", poll_s=0.5)
    drained_after = time.monotonic() - back_at
    smtp_server.wait_for(len(expected), timeout=45)
    # nothing left pending in the ledger: no further mail can go out, the counts below are final
    wait_until(lambda: alerts_pending(project.root / "data" / "alerts.sqlite3") == 0, 30, "no alert left pending")
    assert d.stop() == 0
    assert not problems(d.events), problems(d.events)

    urls = es_urls(es.url, prefix)
    dupes = [u for u, n in collections.Counter(urls).items() if n > 1]
    assert not dupes, f"indexed twice: {dupes}"
    assert set(urls) == expected, f"missing: {sorted(expected - set(urls))}"
    summary = d.summaries("fixture")[0]
    assert summary["articles"] == len(expected), summary
    replayed = sum(e["count"] for e in d.named("ingest.replayed"))
    spooled = sum(e["count"] for e in d.named("ingest.spooled"))
    assert replayed == spooled > 0

    per_article = collections.Counter(u for m in smtp_server.messages for u in expected if u in m.part("plain"))
    assert set(per_article) == expected and set(per_article.values()) == {1}, per_article
    assert len(smtp_server.messages) == len(expected)
    # index.probe_interval_s / probe_max_s (1 s / 3 s here) set how often a down node is probed:
    # the daemon must use them, not the built-in 5 s doubling to 60 s, or a short outage can keep
    # the spool waiting for up to a minute after the node is back
    ladder = [e["next_probe_s"] for e in d.named("ingest.backend_down")]
    assert max(ladder) <= 3 and ladder[0] == 1, (
        f"probe delays {ladder} ignore index.probe_interval_s=1 / probe_max_s=3 "
        f"(spool drained {drained_after:.0f}s after the node was back)")


def test_spool_left_by_a_stopped_daemon_is_replayed_after_restart(project, daemons, fixture_site_factory, es_running):
    """The node becomes unreachable mid-crawl (a switchable TCP proxy in front of it: connection
    refused, like a stopped node, without paying for a second node restart), the daemon is stopped
    cleanly while it is still unreachable (what it held is now in the spool, and the frontier has the
    articles done), the node comes back, the daemon is started again: the spool must be replayed
    although the new crawl finds nothing new to index."""
    site = fixture_site_factory(6)
    site.delay_s = 0.3
    proxy = TcpProxy(es_running.port)
    prefix = f"mw-fault-{uuid.uuid4().hex[:8]}"
    try:
        project.write(base_config(
            project.root, [site.source("fixture", **once())],
            index={"url": proxy.url, "prefix": prefix, "request_timeout_s": 5, "refresh": "true",
                   "retry_attempts": 1, "retry_backoff_s": 0.2, "probe_interval_s": 1, "probe_max_s": 3},
            crawl={"concurrent_requests_per_host": 1}))
        expected = {site.url(a.path) for a in site.articles}
        d = daemons(project)
        d.wait_for(lambda ev: d.named("daemon_started"), 60, "daemon_started")
        wait_until(lambda: len(set(site.article_hits())) >= 3, 60, "three articles fetched")
        proxy.down()
        d.wait_for(lambda ev: d.summaries("fixture"), 60, "the crawl's summary")
        assert d.stop() == 0
        spooled = sum(e["count"] for e in d.named("ingest.spooled"))
        assert spooled > 0, d.tail()

        proxy.up()
        d2 = daemons(project)
        d2.wait_for(lambda ev: d2.summaries("fixture"), 60, "the crawl after the restart")
        # several probe intervals (1 s to 3 s)
        wait_until(lambda: d2.health()["spool_depth"] == 0, 8, poll_s=0.5,
                   what=lambda: f"{d2.health()['spool_depth']} article(s) still spooled 8 s after a restart "
                                f"with the node up")
        depth = d2.health()["spool_depth"]
        urls = es_urls(es_running.url, prefix)
        assert d2.stop() == 0
        assert not problems(d.events + d2.events)
        assert depth == 0 and set(urls) == expected, (
            f"{depth} article(s) still spooled 8 s after a restart with the node up; "
            f"{len(expected - set(urls))} of {len(expected)} articles missing from the index")
        assert len(urls) == len(set(urls))
    finally:
        proxy.close()
