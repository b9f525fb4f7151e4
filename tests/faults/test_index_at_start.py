"""The daemon starts without its index: with Elasticsearch refused or hung it starts, crawls into the
spool, says ``degraded`` (index unreachable), and drains into a correctly set-up index once the node
answers; nothing is lost and nothing is indexed twice."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.faults import TcpProxy
from tests.harness.stores import es_json, es_urls

pytestmark = pytest.mark.timeout(240)

FAST_INDEX = {"request_timeout_s": 2, "retry_attempts": 0, "retry_backoff_s": 0.1,
              "probe_interval_s": 1, "probe_max_s": 2, "refresh": "true"}


def test_starts_with_es_refused_then_drains_when_it_answers(project, daemons, fixture_site_factory, es_running):
    site = fixture_site_factory(6)
    proxy = TcpProxy(es_running.port)
    proxy.down()  # connection refused, like a node that is not up yet
    prefix = f"mw-start-{uuid.uuid4().hex[:8]}"
    project.write(base_config(project.root, [site.source("fixture", **once())],
                              index={"url": proxy.url, "prefix": prefix, **FAST_INDEX}))
    d = daemons(project)
    try:
        d.wait_for(lambda ev: d.summaries("fixture"), 90, "the crawl's summary")
        assert d.alive
        assert d.summaries("fixture")[0]["articles"] == len(site.articles)
        health = d.health()
        assert health["http"] == 200 and health["status"] == "degraded", health
        assert any(r.startswith("index unreachable") for r in health["reasons"]), health
        assert health["spool_depth"] == len(site.articles)

        proxy.up()
        d.wait_for(lambda ev: d.named("ingest.replayed"), 60, "the spool replayed")
        assert sorted(es_urls(es_running.url, prefix)) == sorted(site.url(a.path) for a in site.articles)
        # Set up by us before the first document, not by a document creating an index of its own.
        template = es_json(es_running.url, f"/_index_template/{prefix}-articles")
        assert template["index_templates"], template
        aliases = es_json(es_running.url, f"/_alias/{prefix}-articles")
        assert all(name.startswith(f"{prefix}-articles-0") for name in aliases), aliases
        d.wait_for(lambda ev: d.health()["status"] == "ok", 30, "health back to ok")
        assert d.stop() == 0
    finally:
        proxy.close()


def test_starts_with_es_hung(project, daemons, fixture_site_factory):
    # A listener that never accepts: the TCP handshake completes (the kernel's backlog), then nothing.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    site = fixture_site_factory(3)
    project.write(base_config(project.root, [site.source("fixture", **once())],
                              index={"url": f"http://127.0.0.1:{hung.getsockname()[1]}",
                                     "prefix": f"mw-hung-{uuid.uuid4().hex[:8]}", **FAST_INDEX}))
    d = daemons(project)
    try:
        d.wait_for(lambda ev: d.named("daemon_started"), 30, "daemon_started")
        d.wait_for(lambda ev: d.summaries("fixture"), 90, "the crawl's summary")
        d.wait_for(lambda ev: d.named("ingest.spooled"), 30, "articles spooled")
        assert d.alive
        health = d.health()
        assert health["status"] == "degraded" and health["http"] == 200, health
        assert d.stop() == 0
    finally:
        hung.close()
