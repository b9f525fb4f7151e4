"""Mails already recorded go out while the index is down: a daemon that starts with Elasticsearch refused
and mail retries due sends them (its mail lane needs the ledger and the mail server, not the index), and
a lane whose passes fail waits between them instead of looping on a due retry."""

from __future__ import annotations

import socket
import uuid

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.faults import TcpProxy
from tests.harness.stores import alerts_pending
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(240)

RULE = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"], "mode": "instant"}
FAST_INDEX = {"request_timeout_s": 2, "retry_attempts": 0, "retry_backoff_s": 0.1,
              "probe_interval_s": 1, "probe_max_s": 2, "refresh": "true"}


def test_recorded_mails_go_out_while_the_index_is_down_at_start(project, daemons, fixture_site_factory,
                                                                smtp_server, es_running):
    site = fixture_site_factory(4)
    proxy = TcpProxy(es_running.port)
    closed = socket.socket()  # no mail server yet: the alerts wait in the ledger for a retry
    closed.bind(("127.0.0.1", 0))
    config = base_config(project.root, [site.source("fixture", **once())], rules=[RULE], smtp=smtp_server,
                         index={"url": proxy.url, "prefix": f"mw-nomatch-{uuid.uuid4().hex[:8]}", **FAST_INDEX})
    config["mail"]["smtp"]["port"] = closed.getsockname()[1]
    project.write(config)
    try:
        d = daemons(project)
        d.wait_for(lambda ev: len(d.named("alerts.send_failed")) >= 1 and d.summaries("fixture"), 90,
                   "the crawl, and its alerts failing")
        wait_until(lambda: alerts_pending(project.root / "data" / "alerts.sqlite3") == len(site.articles), 30,
                   "every alert pending")
        assert d.stop() == 0

        proxy.down()  # the index refuses connections from now on; the mail server is back
        config["mail"]["smtp"]["port"] = smtp_server.port
        project.write(config)
        d = daemons(project)
        got = smtp_server.wait_for(len(site.articles), timeout=60)
        assert sorted(m.message["X-Mediawatch-Article"] for m in got) == sorted(
            set(m.message["X-Mediawatch-Article"] for m in got))  # each once
        wait_until(lambda: alerts_pending(project.root / "data" / "alerts.sqlite3") == 0, 30, "nothing pending")
        assert len(d.named("alerts.lane_error")) <= 2, d.tail()
        assert sum(e["mails"] for e in d.named("alerts.mails_sent")) == len(site.articles)  # said in the log
        assert d.stop() == 0
        assert len(smtp_server.messages) == len(site.articles)
    finally:
        closed.close()
        proxy.close()
