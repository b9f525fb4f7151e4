"""Deliveries through the real daemon: a rule's notify channels (Apprise to webhook receivers on
127.0.0.1) beside its mail, a receiver restarting mid-delivery, ``alerts send-test`` on every route;
and a mail server that takes 10 s to answer, which must not slow the crawl."""

from __future__ import annotations

import collections
import time

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.daemon import problems
from tests.harness.stores import index_urls, sqlite_rows
from tests.harness.webhooks import WebhookReceiver

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def hooks():
    receiver = WebhookReceiver()
    receiver.up()
    yield receiver
    receiver.close()


def story_of(text: str, expected: set[str]) -> str:
    (url,) = [u for u in expected if u in text]
    return url


def test_daemon_notifies_every_channel_once_per_story_through_a_receiver_restart(
        project, daemons, fixture_site_factory, smtp_server, hooks):
    site = fixture_site_factory(6)
    rule = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"],
            "notify": [hooks.url("mmost", "chat-token"), hooks.url("json", "/json"), hooks.url("form", "/form")]}
    data = project.root / "data"
    project.write(base_config(project.root, [site.source("fixture", **once())], rules=[rule], smtp=smtp_server))
    hooks.delay_s = 0.3  # each post takes a while: the restart lands in the middle of them
    d = daemons(project)
    hooks.wait_for(2, timeout=90)
    hooks.down()  # the receiver restarts: connections refused meanwhile
    d.wait_for(lambda ev: d.named("alerts.channel_failed"), 30, "a post refused while the receiver is down")
    health = d.health()
    assert health["status"] == "degraded" and any(r.startswith("deliveries failing") for r in health["reasons"])
    hooks.up()
    hooks.delay_s = 0
    expected = {site.url(a.path) for a in site.articles}
    for path in ("/hooks/chat-token", "/json", "/form"):
        hooks.wait_for(len(expected), path, timeout=60)
    smtp_server.wait_for(len(expected), timeout=30)
    assert d.stop() == 0
    assert not problems(d.events), problems(d.events)

    for path in ("/hooks/chat-token", "/json", "/form"):
        per_story = collections.Counter(story_of(r.text, expected) for r in hooks.on(path))
        assert per_story == {u: 1 for u in expected}, (path, per_story)
    states = collections.Counter(r[0] for r in sqlite_rows(data / "alerts.sqlite3", "SELECT state FROM deliveries"))
    assert states == {"sent": 3 * len(expected)}
    assert len({m.message_id for m in smtp_server.messages}) == len(smtp_server.messages) == len(expected)

    # send-test: every route tried and reported, exit 1 when one of them fails
    result = project.run("alerts", "send-test", "everything")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("ok    ") == 4 and "4 of 4 route(s)" in result.stdout
    assert f"json://127.0.0.1:{hooks.port}/…" in result.stdout  # the path masked: it may be the token
    hooks.down()
    result = project.run("alerts", "send-test", "everything")
    assert result.returncode == 1
    assert result.stdout.count("FAILED") == 3 and "1 of 4 route(s)" in result.stdout
    assert "Connection error" in result.stdout


def crawl_seconds(project, daemons, site, smtp) -> tuple[float, object]:
    rule = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"]}
    config = base_config(project.root, [site.source("fixture", **once())], rules=[rule], smtp=smtp,
                         mail={"retry_initial_s": 60, "retry_max_s": 60}, crawl={"concurrent_requests_per_host": 2})
    config["mail"]["smtp"]["timeout_s"] = 30  # slow, not dead: each mail is accepted after 10 s
    project.write(config)
    d = daemons(project)
    (summary,) = d.wait_for(lambda ev: d.summaries("fixture"), 120, "the crawl")
    assert summary["articles"] == len(site.articles)
    return summary["duration_s"], d


def test_a_mail_server_answering_after_10s_does_not_slow_the_crawl(tmp_path, daemons, fixture_site_factory,
                                                                    smtp_server):
    from tests.harness.project import Project

    fast_project, slow_project = Project(tmp_path / "fast"), Project(tmp_path / "slow")
    fast_project.root.mkdir()
    slow_project.root.mkdir()
    baseline, d = crawl_seconds(fast_project, daemons, fixture_site_factory(8), smtp_server)
    smtp_server.wait_for(8, timeout=30)
    assert d.stop() == 0

    smtp_server.clear()
    smtp_server.delay_s = 10  # every mail: the body arrives, the 250 comes 10 s later
    site = fixture_site_factory(8, offset=20)
    slow, d = crawl_seconds(slow_project, daemons, site, smtp_server)
    print(f"crawl of 8 articles: {baseline:.2f} s with a prompt mail server, {slow:.2f} s with one that "
          "answers after 10 s")
    assert slow < baseline * 1.5 + 2.0, (baseline, slow)
    assert not smtp_server.messages  # the first mail is still waiting for its answer: the crawl did not
    smtp_server.wait_for(1, timeout=30)
    stopped = time.monotonic()
    assert d.stop() == 0 and time.monotonic() - stopped < 15  # the lane is left, its rows stay pending
    assert not problems(d.events), problems(d.events)
    ledger = slow_project.root / "data" / "alerts.sqlite3"
    states = collections.Counter(r[0] for r in sqlite_rows(ledger, "SELECT state FROM alerts"))
    indexed = len(index_urls(slow_project.root / "data" / "index.sqlite3"))
    assert sum(states.values()) == indexed and states["pending"] >= 1, states  # not lost: sent at the next start
