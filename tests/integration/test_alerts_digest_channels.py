"""Digest rules with ``notify:``: one message per channel and period to real webhook receivers on 127.0.0.1,
listing the period's stories as the mail digest does (newest first, each story once with its outlets),
exactly once per (rule, period, channel), retried like mail."""

from __future__ import annotations

import collections
import re
import time
from datetime import datetime, timezone

import pytest

from indexer.alerts.engine import AlertEngine
from indexer.alerts.rules import Rule
from indexer.alerts.worker import DeliveryWorker
from indexer.backends import open_backend
from indexer.config import IndexConfig
from indexer.article import Article
from tests.harness.smtp import smtp_server  # noqa: F401  (fixture)
from tests.harness.wait import wait_until
from tests.harness.webhooks import webhook_receivers  # noqa: F401  (fixture)
from tests.integration.alerting import T0, Clock, quick_mail_cfg

pytestmark = pytest.mark.timeout(120)

HOUR = 3600.0


@pytest.fixture
def index(tmp_path):
    backend = open_backend(IndexConfig(sqlite_path=str(tmp_path / "index.sqlite3")))
    backend.init()
    yield backend
    backend.close()


PLACES = ["Minsk", "Brest", "Grodno", "Gomel", "Vitebsk", "Mogilev", "Pinsk", "Orsha"]
DEEDS = ["opened a bridge", "sacked a minister", "visited a farm", "signed a decree", "met a delegation",
         "toured a factory", "praised the harvest", "addressed the army"]


def article(n: int, at: float, source: str = "dw", **kw) -> Article:
    """Story ``n``: its own words (the index would take near-identical texts for copies of one story)."""
    kw.setdefault("title", f"Lukashenko story {n}")
    kw.setdefault("text", f"Alexander Lukashenko {DEEDS[n % 8]} in {PLACES[n % 8]} on day {n}, and the "
                          f"{PLACES[(n + 3) % 8]} governor reported that {DEEDS[(n + 5) % 8]} went to plan.")
    return Article(url=f"https://www.{source}.com/en/story-{n}/a-{1000 + n}", source=source,
                   published_at=datetime.fromtimestamp(at - 600, timezone.utc),
                   indexed_at=datetime.fromtimestamp(at, timezone.utc), **kw)


def indexed(backend, articles):
    """Through the real index, so copies of one story share its id and the digest can name their outlets."""
    assert backend.index(articles).indexed
    return articles


def numbered_titles(message: str) -> list[str]:
    return re.findall(r"^\d+\. (.+)$", message, re.M)


def test_one_digest_message_per_channel_and_period_with_the_mail_digests_stories(tmp_path, smtp_server,
                                                                                  webhook_receivers, index):
    json_hook, form_hook = webhook_receivers(), webhook_receivers()
    rule = Rule(name="hourly-belarus", query="Lukashenko", mode="hourly", recipients=["desk@example.org"],
                notify=[json_hook.url("json"), form_hook.url("form")])
    clock = Clock(T0)  # 12:10 UTC: the period ends at 13:00
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule], backend=index, clock=clock)
    wire_text = "Alexander Lukashenko pardoned two jailed journalists on Friday, the presidential office said."
    batch = indexed(index, [
        article(1, T0 - 300), article(2, T0),
        article(3, T0, text=wire_text, title="Lukashenko pardons journalists"),  # dw
        article(4, T0, text=wire_text, title="Lukashenko pardons journalists", source="bbc"),  # the same story
    ])
    report = engine.on_indexed(batch)
    assert report.enqueued == 3 and report.messages == 0  # stories wait for the period's end
    assert engine.send_due() == 0 and not json_hook.requests

    clock.t = T0 + HOUR
    assert engine.send_due() == 1  # the mail digest
    assert engine.last_report.messages == 2  # and one message per channel
    (mail,) = smtp_server.wait_for(1)
    mail_titles = numbered_titles(mail.part("plain").replace("\r\n", "\n"))
    for hook in (json_hook, form_hook):
        (got,) = hook.requests
        assert got.body["title"] == "hourly-belarus: 3 new articles (hourly digest)"
        message = got.body["message"]
        assert "(hourly digest, until 2024-05-01 13:00 UTC)" in message
        assert numbered_titles(message) == mail_titles and len(mail_titles) == 3  # same stories, same order
        assert message.count("Lukashenko pardons journalists") == 1 and "Outlets: dw, bbc" in message
        assert "https://www.dw.com/en/story-1/a-1001" in message
        assert "*Lukashenko* pardoned two jailed journalists" in message  # the snippet, marked
    assert json_hook.requests[0].delivery and json_hook.requests[0].delivery != form_hook.requests[0].delivery

    # nothing twice: again, and from a new engine on the same ledger
    assert engine.send_due() == 0 and engine.last_report.messages == 0
    engine.close()
    again = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule], backend=index, clock=Clock(T0 + 2 * HOUR))
    assert again.send_due() == 0 and again.last_report.messages == 0
    # the next period is its own digest, its own message
    again.on_indexed(indexed(index, [article(5, T0 + 2 * HOUR)]))
    again.clock = Clock(T0 + 3 * HOUR)
    again.send_due()
    assert [len(h.requests) for h in (json_hook, form_hook)] == [2, 2]
    assert numbered_titles(json_hook.requests[1].body["message"]) == ["Lukashenko story 5"]
    assert again.status()["deliveries_sent"] == 4 and again.status()["deliveries_pending"] == 0
    assert len(smtp_server.messages) == 2
    again.close()


def test_a_channel_only_digest_sends_no_mail_and_retries_like_mail(tmp_path, webhook_receivers, index):
    hook = webhook_receivers()
    hook.fail_next(2)  # the service answers 503 twice
    rule = Rule(name="daily-minsk", query="Lukashenko", mode="daily", daily_at="13:00", timezone="UTC",
                notify=[hook.url("json")])
    clock = Clock(T0)
    engine = AlertEngine(quick_mail_cfg(tmp_path, None), [rule], backend=index, clock=clock)
    engine.on_indexed(indexed(index, [article(n, T0) for n in range(3)]))
    clock.t = T0 + HOUR
    assert engine.send_due() == 0 and engine.last_report.failed == 1
    assert engine.status()["deliveries_failing"] == 1
    assert engine.send_due() == 0 and engine.last_report.failed == 0  # backing off: not due yet
    for _ in range(2):
        clock.t += 2  # past the backoff (0.5 s, then 1 s)
        engine.send_due()
    assert len(hook.requests) == 1 and hook.attempts == 3
    assert len(numbered_titles(hook.requests[0].body["message"])) == 3
    assert engine.status()["deliveries_sent"] == 1 and engine.status()["deliveries_failing"] == 0
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").iterdir())  # no recipients, no mail
    assert [state for _d, _c, state, _n in engine.ledger.digest_deliveries("daily-minsk")] == ["sent"]
    engine.close()


def test_digest_messages_go_out_on_the_workers_lanes_once_through_a_receiver_restart(tmp_path, smtp_server,
                                                                                     webhook_receivers, index):
    hook = webhook_receivers()
    hook.drop_next(1)  # read in full, then the receiver dies without answering
    rule = Rule(name="hourly-belarus", query="Lukashenko", mode="hourly", recipients=["desk@example.org"],
                notify=[hook.url("json")])
    # the period that holds the matches ended a moment ago: the mail lane opens the digest at its first pass
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule], backend=index)
    now = time.time()
    engine.clock = lambda: now - HOUR  # matched an hour ago
    engine.on_indexed(indexed(index, [article(n, now) for n in range(2)]))
    engine.clock = time.time
    worker = DeliveryWorker(engine)
    worker.start()
    smtp_server.wait_for(1)
    hook.wait_for(1, timeout=30)
    wait_until(lambda: engine.status()["deliveries_sent"] == 1, 30, "the digest message marked sent")
    assert worker.close()
    (lost,) = hook.dropped
    assert [r.delivery for r in hook.requests] == [lost.delivery]  # sent again, with the same key
    assert collections.Counter(r.path for r in hook.requests) == {"/hook": 1}
    engine.close()
