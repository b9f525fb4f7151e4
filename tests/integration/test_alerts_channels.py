"""Alert channels against real receivers: Apprise posting to webhook servers on 127.0.0.1 (a Mattermost
incoming webhook, whose payload is Slack's; a JSON and a form webhook) beside a real SMTP server."""

from __future__ import annotations

import collections
import re
import time
from datetime import datetime, timezone

import pytest
import structlog

from indexer.alerts.engine import AlertEngine
from indexer.alerts.rules import Rule
from indexer.alerts.worker import DeliveryWorker
from indexer.article import Article
from tests.harness.smtp import smtp_server  # noqa: F401  (fixture)
from tests.harness.wait import wait_until
from tests.harness.webhooks import webhook_receivers  # noqa: F401  (fixture)
from tests.integration.alerting import T0, quick_mail_cfg

pytestmark = pytest.mark.timeout(120)


def article(n: int, at: float, **kw) -> Article:
    kw.setdefault("source", "dw")
    return Article(url=f"https://www.dw.com/en/story-{n}/a-{1000 + n}", title=f"Lukashenko story {n}",
                   text=f"Alexander Lukashenko met jailed rivals in a KGB prison in Minsk (story {n}). "
                        "The talks lasted four hours, state media said.",
                   published_at=datetime.fromtimestamp(at - 600, timezone.utc),
                   indexed_at=datetime.fromtimestamp(at, timezone.utc), **kw)


def story_of(text: str) -> str:
    (url,) = [w for w in text.split() if w.startswith("https://www.dw.com/")]
    return url


def test_every_channel_gets_one_message_per_story_with_its_content(tmp_path, smtp_server, webhook_receivers):
    hooks = webhook_receivers()
    urls = [hooks.url("mmost", "mattermost-token"), hooks.url("json", "/json"), hooks.url("form", "/form")]
    rule = Rule(name="belarus", query="Lukashenko AND prison", recipients=["desk@example.org"], notify=urls)
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule], clock=lambda: T0)
    batch = [article(n, T0) for n in range(3)]

    report = engine.on_indexed(batch)

    assert (report.enqueued, report.mails, report.messages) == (3, 3, 9)
    expected = {a.url for a in batch}
    for path in ("/hooks/mattermost-token", "/json", "/form"):
        got = hooks.on(path)
        assert sorted(story_of(r.text) for r in got) == sorted(expected), path
    first = next(r for r in hooks.on("/json") if story_of(r.text) == batch[0].url)
    assert first.body["title"] == "belarus: Lukashenko story 0"
    assert "dw · 2024-05-01 12:00 UTC" in first.body["message"]  # outlet and date
    assert "*Lukashenko* met jailed rivals in a KGB *prison*" in first.body["message"]  # the snippet, marked
    mattermost = hooks.on("/hooks/mattermost-token")[0]
    assert set(mattermost.body) >= {"text"} and "Lukashenko story" in mattermost.body["text"]  # Slack's shape
    # json and form carry an idempotency key per (rule, story, channel); Mattermost takes no headers
    keys = [r.delivery for r in hooks.requests if r.path in ("/json", "/form")]
    assert all(keys) and len(set(keys)) == 6
    assert smtp_server.wait_for(3)

    # the same batch again, then a new engine on the same ledger: nothing more goes out
    assert engine.on_indexed(batch).enqueued == 0
    engine.close()
    again = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule], clock=lambda: T0 + 3600)
    assert again.send_due() == 0 and again.last_report.messages == 0
    assert len(hooks.requests) == 9 and len(smtp_server.messages) == 3
    assert again.status()["deliveries_sent"] == 9
    again.close()


def test_receivers_restarting_mid_delivery_get_each_story_once(tmp_path, smtp_server, webhook_receivers):
    json_hook, form_hook, chat = webhook_receivers(), webhook_receivers(), webhook_receivers()
    json_hook.delay_s = form_hook.delay_s = 0.2  # deliveries in flight when the receivers go away
    chat.fail_next(2)  # the chat service answers 503 twice
    json_hook.drop_next(1)  # the first JSON request is read, then the receiver dies without answering
    rule = Rule(name="belarus", query="Lukashenko", recipients=["desk@example.org"],
                notify=[json_hook.url("json"), form_hook.url("form"), chat.url("mmost", "tok")])
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule])
    worker = DeliveryWorker(engine)
    worker.start()
    batch = [article(n, time.time()) for n in range(6)]
    engine.on_indexed(batch)

    form_hook.wait_for(1)
    json_hook.wait_for(1)
    with structlog.testing.capture_logs() as events:
        json_hook.down()
        form_hook.down()  # both restart while their deliveries are under way
        # they stay down until the worker has met the outage: a delivery to one of them failed
        wait_until(lambda: any(e["event"] == "alerts.channel_failed" and e.get("channel", "").startswith(("json:", "form:"))
                               for e in list(events)), 30, "a delivery failing while the receivers are down")
    json_hook.up()
    form_hook.up()

    expected = {a.url for a in batch}
    for hook, path in ((json_hook, "/hook"), (form_hook, "/hook"), (chat, "/hooks/tok")):
        hook.wait_for(len(expected), path, timeout=30)
    smtp_server.wait_for(len(expected))
    assert worker.close()
    for hook in (json_hook, form_hook, chat):
        per_story = collections.Counter(story_of(r.text) for r in hook.requests)
        assert set(per_story) == expected and set(per_story.values()) == {1}, per_story
    # the request that died unanswered was sent again, with the same idempotency key
    (lost,) = json_hook.dropped
    assert [r.delivery for r in json_hook.requests if story_of(r.text) == story_of(lost.text)] == [lost.delivery]
    assert json_hook.attempts > len(expected) and chat.attempts == len(expected) + 2
    assert engine.status()["deliveries_sent"] == 18 and engine.status()["deliveries_pending"] == 0
    engine.close()


def test_a_channel_that_is_down_or_hangs_delays_neither_the_mail_nor_the_others(tmp_path, smtp_server,
                                                                                 webhook_receivers):
    down, hanging, healthy = webhook_receivers(), webhook_receivers(), webhook_receivers()
    down.down()
    hanging.delay_s = 6  # longer than Apprise's read timeout: every attempt times out
    rule = Rule(name="belarus", query="Lukashenko", recipients=["desk@example.org"],
                notify=[down.url("json"), hanging.url("form"), healthy.url("json")])
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule])
    worker = DeliveryWorker(engine)
    worker.start()
    batch = [article(n, time.time()) for n in range(3)]

    started = time.monotonic()
    engine.on_indexed(batch)
    recorded = time.monotonic() - started
    smtp_server.wait_for(3, timeout=10)
    mailed = time.monotonic() - started
    healthy.wait_for(3, timeout=10)
    posted = time.monotonic() - started

    assert recorded < 1.0 and mailed < 2.0 and posted < 2.0, (recorded, mailed, posted)
    assert not down.requests
    # both come back: what was held up goes out, one accepted message per story each
    hanging.delay_s = 0
    down.up()
    expected = {a.url for a in batch}
    wait_until(lambda: {story_of(r.text) for r in down.requests} == expected, 30, "the down channel")
    wait_until(lambda: {story_of(r.text) for r in hanging.requests} == expected, 40, "the hanging channel")
    assert worker.close(timeout=10)
    assert collections.Counter(story_of(r.text) for r in down.requests) == {u: 1 for u in expected}
    # a hanging service may have taken a request it never answered: a repeat carries the same key
    keys = collections.defaultdict(set)
    for r in hanging.requests:
        keys[story_of(r.text)].add(r.delivery)
    assert all(len(k) == 1 for k in keys.values()), keys
    assert len(smtp_server.messages) == 3
    engine.close()


def test_indexing_never_waits_for_a_slow_mail_server(tmp_path, smtp_server):
    smtp_server.delay_s = 3  # every mail takes 3 s to be accepted
    rule = Rule(name="belarus", query="Lukashenko", recipients=["desk@example.org"])
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server, retry_initial_s=30), [rule])
    worker = DeliveryWorker(engine)
    worker.start()
    started = time.monotonic()
    for n in range(4):
        engine.on_indexed([article(n, time.time())])
    assert time.monotonic() - started < 1.0  # four batches recorded while the first mail is on the wire
    smtp_server.wait_for(4, timeout=30)
    assert worker.close()
    assert engine.status()["sent"] == 4
    engine.close()


def test_send_tests_tries_every_route_and_reports_each(tmp_path, smtp_server, webhook_receivers):
    up, gone = webhook_receivers(), webhook_receivers()
    gone.down()
    rule = Rule(name="belarus", query="Lukashenko", recipients=["desk@example.org"],
                notify=[up.url("json"), gone.url("form")])
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), [rule])
    mail, ok, failed = engine.send_tests("belarus")
    assert mail.channel == "mail" and mail.ok and smtp_server.wait_for(1)
    assert ok.ok and ok.channel == f"json://127.0.0.1:{up.port}/…"  # its path masked: it may be its token
    assert not failed.ok and "Connection error" in failed.detail
    (got,) = up.requests
    assert got.body["title"] == "belarus: Test alert for rule belarus"
    assert engine.status()["sent"] == 0 and engine.status()["deliveries_sent"] == 0  # nothing recorded
    engine.close()


def test_a_channel_removed_from_its_rule_drops_what_it_still_owed(tmp_path, webhook_receivers):
    gone, kept = webhook_receivers(), webhook_receivers()
    gone.down()
    old = Rule(name="belarus", query="Lukashenko", notify=[gone.url("json"), kept.url("json")])
    clock = lambda: T0  # noqa: E731
    engine = AlertEngine(quick_mail_cfg(tmp_path, None), [old], clock=clock)
    report = engine.on_indexed([article(1, T0)])
    assert (report.messages, report.failed) == (1, 1) and len(kept.requests) == 1
    engine.update_rules([old.model_copy(update={"notify": [kept.url("json")]})])
    gone.up()
    engine.clock = lambda: T0 + 3600  # the retry is due
    assert engine.send_due() == 0 and engine.last_report.messages == 0
    assert not gone.requests and len(kept.requests) == 1
    states = {channel: state for _r, _a, channel, state, _n in engine.ledger.deliveries()}
    assert sorted(states.values()) == ["dropped", "sent"]
    assert engine.status()["sent"] == 1  # a rule without recipients: its match needs no mail
    engine.close()


def test_one_message_per_story_naming_its_outlets(tmp_path, webhook_receivers):
    hook = webhook_receivers()
    rule = Rule(name="belarus", query="Lukashenko", notify=[hook.url("json")])
    engine = AlertEngine(quick_mail_cfg(tmp_path, None), [rule], clock=lambda: T0)
    wire = [article(1, T0, source="dw", story_id="wire-1"), article(2, T0, source="bbc", story_id="wire-1")]
    report = engine.on_indexed(wire)
    assert (report.enqueued, report.messages) == (1, 1)
    (got,) = hook.requests
    assert "Outlets: dw, bbc" in got.body["message"] and "dw · " in got.body["message"]
    assert engine.on_indexed([article(3, T0, source="rferl", story_id="wire-1")]).enqueued == 0  # a later copy
    assert len(hook.requests) == 1
    engine.close()


def test_each_rule_names_the_outlets_other_than_the_copy_it_matched(tmp_path, smtp_server, webhook_receivers):
    """Two rules on one story, each recorded with a different copy (one rule reads only the BBC): each
    mail and each message on their shared channel names the other outlet, never its own copy's."""
    hook = webhook_receivers()
    rules = [Rule(name="all", query="Lukashenko", recipients=["desk@example.org"], notify=[hook.url("json")]),
             Rule(name="bbc", query="Lukashenko", recipients=["desk@example.org"], notify=[hook.url("json")],
                  sources=["bbc"])]
    engine = AlertEngine(quick_mail_cfg(tmp_path, smtp_server), rules, clock=lambda: T0)
    dw, bbc = article(1, T0, source="dw", story_id="wire-1"), article(2, T0, source="bbc", story_id="wire-1")

    report = engine.on_indexed([dw, bbc])

    assert (report.enqueued, report.mails, report.messages) == (2, 2, 2)
    to_all, to_bbc = (next(r for r in hook.requests if r.body["title"].startswith(f"{name}: ")) for name in ("all", "bbc"))
    assert "Outlets: dw, bbc" in to_all.body["message"] and "Outlets: bbc, dw" in to_bbc.body["message"]
    mails = {m.message["X-Mediawatch-Rule"]: m.part("plain").replace("\r\n", "\n") for m in smtp_server.wait_for(2)}
    assert f"Also reported by:\n   - bbc: {bbc.url}" in mails["all"] and dw.url not in mails["all"].split("Also")[1]
    assert f"Also reported by:\n   - dw: {dw.url}" in mails["bbc"] and bbc.url not in mails["bbc"].split("Also")[1]
    engine.close()


def test_a_room_mention_or_a_markdown_link_pings_nobody_and_links_nowhere(tmp_path, webhook_receivers):
    """A Mattermost incoming webhook notifies the whole channel for "@channel", "@all" or "@here" in its
    text, and renders Markdown: a headline or snippet holding them reaches the room as it reads, without
    the ping, the hidden link or the image."""
    hooks = webhook_receivers()
    rule = Rule(name="belarus", query="Lukashenko", notify=[hooks.url("mmost", "mattermost-token")])
    engine = AlertEngine(quick_mail_cfg(tmp_path, None), [rule], clock=lambda: T0)
    loud = Article(url="https://www.dw.com/en/story-1/a-1001", title="Lukashenko to @channel: @all out [live](https://phish.example)",
                   text="Lukashenko told @here reporters.", source="dw", indexed_at=datetime.fromtimestamp(T0, timezone.utc))
    assert engine.on_indexed([loud]).messages == 1
    (got,) = hooks.on("/hooks/mattermost-token")
    text = got.body["text"]
    assert "@\u2060channel: @\u2060all out" in text and "@\u2060here reporters" in text
    assert not re.search(r"@(channel|all|here)\b|\]\(", text), text
    assert "[live]\u2060(https://phish.example)" in text
    engine.close()
