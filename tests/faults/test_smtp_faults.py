"""Fault 3: the SMTP connection cut in the middle of DATA (half the body sent, by a proxy in front of
the server), the server cutting it after DATA (the whole body sent, no reply), then the server down
for a while: every alert is delivered exactly once when it is back, by the daemon's own retries
(mail.retry_initial_s / retry_max_s / sweep_interval_s shortened to 1 s / 2 s / 1 s by the fault
suite's config)."""

from __future__ import annotations

import collections

import pytest

from tests.faults.conftest import base_config
from tests.harness.daemon import problems
from tests.harness.faults import TcpProxy
from tests.harness.stores import alerts_pending
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(150)

RULE = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"], "mode": "instant"}


@pytest.fixture
def smtp_proxy(smtp_server):
    proxy = TcpProxy(smtp_server.port)
    yield proxy
    proxy.close()


def test_smtp_cut_mid_data_and_outage_every_alert_once(project, daemons, fixture_site_factory, smtp_server,
                                                       smtp_proxy):
    site = fixture_site_factory(4)
    config = base_config(project.root, [site.source("fixture", schedule={"every": "3s", "jitter": "0s"})],
                         rules=[RULE], smtp=smtp_server)
    config["mail"]["smtp"]["port"] = smtp_proxy.port
    project.write(config)
    smtp_proxy.cut_next_smtp_data(1)  # mail 1: the connection dies half-way through the body
    smtp_server.drop_next_data(1)  # mail 2: the body arrives, the server hangs up instead of answering
    d = daemons(project)
    d.wait_for(lambda ev: d.summaries("fixture"), 60, "the first crawl")
    first = {site.url(a.path) for a in site.articles}
    d.wait_for(lambda ev: len(d.named("alerts.send_failed")) >= 2, 20, "the two cut sends")
    assert smtp_proxy.cut == 1 and smtp_server.data_attempts >= 1
    assert not smtp_server.messages or len(smtp_server.messages) < len(first)

    # The server goes away (connection refused); two articles are published and crawled meanwhile.
    smtp_proxy.down()
    smtp_server.down()
    added = [site.add_article(), site.add_article()]
    d.wait_for(lambda ev: sum(e["articles"] for e in d.summaries("fixture")[1:]) >= 2, 30, "the new articles crawled")
    d.wait_for(lambda ev: any("refused" in e.get("error", "").lower() for e in d.named("alerts.send_failed")), 20,
               "a send refused while the server is down")
    accepted_while_down = len(smtp_server.messages)
    health = d.health()  # the index is fine; the deliveries waiting for a retry are the reason
    assert d.alive and health["status"] == "degraded" and health["http"] == 200, health
    assert [r for r in health["reasons"] if r.startswith("deliveries failing")], health
    smtp_server.up()
    smtp_proxy.up()

    expected = first | {site.url(a.path) for a in added}
    # the retry sweep sends everything left pending; once the ledger holds nothing pending, no
    # further mail can go out, so the counts below are final
    smtp_server.wait_for(len(expected), timeout=30)
    wait_until(lambda: alerts_pending(project.root / "data" / "alerts.sqlite3") == 0, 30, "no alert left pending")
    assert d.stop() == 0
    assert not problems(d.events), problems(d.events)

    per_article = collections.Counter(u for m in smtp_server.messages for u in expected if u in m.part("plain"))
    assert set(per_article) == expected, f"never delivered: {sorted(expected - set(per_article))}"
    assert set(per_article.values()) == {1}, f"delivered twice: {per_article}"
    assert len({m.message_id for m in smtp_server.messages}) == len(smtp_server.messages) == len(expected)
    assert smtp_server.data_attempts > len(expected) and accepted_while_down < len(expected)
    errors = [e["error"] for e in d.named("alerts.send_failed")]
    assert errors and all(e for e in errors)
    print("SMTP errors:", sorted(set(errors)))
