"""Elasticsearch refusing writes for a while (the read-only block it sets at its flood-stage disk
watermark): the refused articles wait in the spool, the daemon says it is degraded, and they are indexed
on the probe timer once the block is lifted, with no new article needed to push them, and alerted once."""

from __future__ import annotations

import uuid

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.stores import alerts_pending, es_json, es_urls
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(240)

RULE = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"], "mode": "instant"}
BLOCK = "index.blocks.read_only_allow_delete"


def test_refused_writes_wait_in_the_spool_and_go_in_when_the_block_is_lifted(project, daemons, fixture_site_factory,
                                                                            smtp_server, es_running):
    site = fixture_site_factory(4)
    prefix = f"mw-block-{uuid.uuid4().hex[:8]}"
    project.write(base_config(project.root, [site.source("fixture", **once())], rules=[RULE], smtp=smtp_server,
                              index={"url": es_running.url, "prefix": prefix, "request_timeout_s": 5,
                                     "retry_attempts": 0, "probe_interval_s": 1, "probe_max_s": 2,
                                     "refresh": "true"}))
    assert project.run("index", "init").returncode == 0
    (write_index,) = es_json(es_running.url, f"/_alias/{prefix}-articles")
    es_json(es_running.url, f"/{write_index}/_settings", {BLOCK: True}, method="PUT")
    d = daemons(project)
    try:
        d.wait_for(lambda ev: d.summaries("fixture") and d.named("ingest.backend_down"), 90,
                   "the crawl, and its articles refused")
        health = d.health()
        assert health["status"] == "degraded" and health["spool_depth"] == len(site.articles), health
        assert es_urls(es_running.url, prefix) == [] and not smtp_server.messages
    finally:
        es_json(es_running.url, f"/{write_index}/_settings", {BLOCK: None}, method="PUT")
    d.wait_for(lambda ev: d.named("ingest.replayed"), 30, "the spool replayed with no new article")
    assert sorted(es_urls(es_running.url, prefix)) == sorted(site.url(a.path) for a in site.articles)
    smtp_server.wait_for(len(site.articles), timeout=30)
    wait_until(lambda: alerts_pending(project.root / "data" / "alerts.sqlite3") == 0, 30, "every alert sent")
    d.wait_for(lambda ev: d.health()["status"] == "ok", 30, "health back to ok")
    assert d.stop() == 0
    assert len(smtp_server.messages) == len(site.articles)
