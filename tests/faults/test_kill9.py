"""Fault 1: ``kill -9`` the daemon in the middle of a crawl, restart it: every article of the site
is indexed exactly once, and every alert is mailed once and posted once to the rule's webhook
channel: none lost, none sent twice."""

from __future__ import annotations

import collections
import sqlite3

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.daemon import problems
from tests.harness.stores import alerts_pending, frontier_done, index_urls
from tests.harness.wait import wait_until
from tests.harness.webhooks import WebhookReceiver

pytestmark = pytest.mark.timeout(180)

RULE = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"], "mode": "instant"}


def test_kill9_mid_crawl_then_restart_loses_and_repeats_nothing(project, daemons, fixture_site_factory, smtp_server):
    site = fixture_site_factory(10)
    site.delay_s = 0.4  # a crawl in flight for several seconds
    data = project.root / "data"
    hook = WebhookReceiver()
    hook.up()
    rule = {**RULE, "notify": [hook.url("json")]}
    # bulk_interval_s at its default (2.0): articles wait in the ingest buffer as they would in production
    project.write(base_config(project.root, [site.source("fixture", **once())], rules=[rule], smtp=smtp_server,
                              index={"bulk_interval_s": 2.0}, crawl={"concurrent_requests_per_host": 1}))
    expected = {site.url(a.path) for a in site.articles}

    def state() -> dict:
        return {"fetched": len(set(site.article_hits())), "done": len(frontier_done(data / "crawl.sqlite3")),
                "indexed": indexed(), "mailed": len(smtp_server.messages)}

    def indexed() -> int:
        try:
            return len(index_urls(data / "index.sqlite3"))
        except sqlite3.Error:  # not created yet
            return 0

    kills = []
    # Crash 1: just after a batch landed in the index (its alerts are being matched and sent).
    d = daemons(project)
    wait_until(lambda: indexed() >= 3 or not d.alive, 90, "a first batch indexed", poll_s=0.02)
    assert d.alive, d.tail()
    d.kill9()
    # its extraction pool (forkserver and workers) follows it, rather than waiting forever on a queue
    assert not d.orphans, d.orphans
    kills.append(state())
    # Crash 2: in the middle of the next run, while fetched articles are in extraction or waiting in
    # the ingest buffer (less than bulk_interval_s after they were fetched).
    d = daemons(project)
    before = len(site.article_hits())
    # (on a loaded machine the first run may have fetched everything before crash 1: then this run
    # ends soon, and the kill finds it finished)
    wait_until(lambda: (len(site.article_hits()) >= before + 4 and len(set(site.article_hits())) > indexed())
               or d.summaries("fixture") or not d.alive, 90, poll_s=0.02,
               what=lambda: f"four articles fetched in this run, some not yet indexed: {state()}, {d.tail()}")
    assert d.alive, d.tail()
    d.kill9()
    assert not d.orphans, d.orphans
    kills.append(state())

    # The third start runs to the end of its crawl, then stops cleanly.
    d = daemons(project)
    d.wait_for(lambda ev: d.summaries("fixture"), 90, "the crawl after the restarts")
    # the ingest buffer's last batch indexed, and its instant mails sent
    wait_until(lambda: set(index_urls(data / "index.sqlite3")) >= expected
               and len(smtp_server.messages) >= len(expected) and alerts_pending(data / "alerts.sqlite3") == 0,
               30, what=lambda: (f"every article indexed and mailed (state at each kill: {kills}; now: {state()}, "
                                 f"pending alerts: {alerts_pending(data / 'alerts.sqlite3')}, "
                                 f"not indexed: {sorted(expected - set(index_urls(data / 'index.sqlite3')))}; "
                                 f"last events: {d.tail(25)})"))
    assert d.stop() == 0
    assert not problems(d.events), problems(d.events)

    urls = index_urls(data / "index.sqlite3")
    dupes = [u for u, n in collections.Counter(urls).items() if n > 1]
    missing = expected - set(urls)
    assert not dupes, f"indexed twice: {dupes}"
    assert not missing, f"lost after kill -9: {sorted(missing)} (state at each kill: {kills})"
    assert set(urls) == expected

    # Alerts: one mail per article; a repeat is tolerated only with the same Message-ID (the one
    # crash window between the server's 250 and the ledger's 'sent'), and at most one per kill.
    by_article = collections.defaultdict(list)
    for m in smtp_server.messages:
        hits = [u for u in expected if u in m.part("plain")]
        assert len(hits) == 1, m.subject
        by_article[hits[0]].append(m.message_id)
    assert set(by_article) == expected, (f"no alert for {sorted(expected - set(by_article))} "
                                         f"(state at each kill: {kills})")
    for url, ids in by_article.items():
        assert len(set(ids)) == 1, f"{url} mailed with different Message-IDs {ids}"
    repeats = sum(len(ids) - 1 for ids in by_article.values())
    assert repeats <= len(kills), f"{repeats} repeated mails for {len(kills)} crashes"

    # The webhook channel: the same, a repeat only with the same idempotency key
    posted = collections.defaultdict(list)
    for r in hook.requests:
        (url,) = [u for u in expected if u in r.text]
        posted[url].append(r.delivery)
    hook.close()
    assert set(posted) == expected, f"never posted: {sorted(expected - set(posted))} (state at each kill: {kills})"
    assert all(len(set(keys)) == 1 for keys in posted.values()), posted
    assert sum(len(keys) - 1 for keys in posted.values()) <= len(kills)
