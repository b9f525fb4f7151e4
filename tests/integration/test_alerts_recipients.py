"""A mail to several recipients against a real SMTP server that refuses some of them at RCPT: a server's
recipient limit (452 past it, RFC 5321 4.5.3.1.10), a greylisted address (450, then accepted) and an
unknown one (550). Each recipient the server will take gets the message exactly once, under one
Message-ID; the To header names every recipient of the rule on every attempt."""

from __future__ import annotations

import collections
import sqlite3
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.alerts.engine import AlertEngine
from indexer.alerts.mailer import SendError, SmtpSender
from tests.harness.smtp import smtp_server  # noqa: F401  (fixture)
from tests.integration.alerting import Clock, article, mail_cfg, rule

TEAM = [f"analyst{n}@example.org" for n in range(7)]


def _received(server) -> collections.Counter:
    return collections.Counter((m.message_id, to) for m in server.messages for to in m.rcpt_tos)


def test_a_recipient_limit_sends_the_rest_in_further_transactions(tmp_path, smtp_server):
    smtp_server.max_recipients = 3
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(recipients=TEAM)], clock=clock)
    clock.t += 1
    report = engine.on_indexed([article(1, clock.t)])
    assert report.sent == 1 and report.failed == 0
    assert [len(m.rcpt_tos) for m in smtp_server.messages] == [3, 3, 1]
    received = _received(smtp_server)
    assert set(to for _, to in received) == set(TEAM) and set(received.values()) == {1}
    assert len({m.message_id for m in smtp_server.messages}) == 1
    for m in smtp_server.messages:  # the header is the rule's list, whatever the envelope of the transaction
        assert [a.addr_spec for a in m.message["To"].addresses] == TEAM
    engine.close()


def test_a_greylisted_recipient_is_retried_alone_and_an_unknown_one_is_noted(tmp_path, smtp_server):
    smtp_server.max_recipients = 4
    # greylisting: "try later" four times (three transactions of the first attempt, then its retry)
    smtp_server.refuse_rcpt(TEAM[2], 450, times=4)
    smtp_server.refuse_rcpt(TEAM[5], 550)  # no such user, ever
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(recipients=TEAM)], clock=clock)
    clock.t += 1
    story = article(1, clock.t)
    report = engine.on_indexed([story])
    assert report.sent == 0 and report.failed == 1
    row = engine.ledger.get("belarus", story.story)
    assert row.state == "pending" and row.undelivered == [TEAM[2]], row
    assert "450" in row.last_error and TEAM[5] in row.last_error
    first = {to for _, to in _received(smtp_server)}
    assert first == set(TEAM) - {TEAM[2], TEAM[5]}

    clock.t += 10  # the retry goes to the greylisted address only, and is refused once more
    assert engine.send_due() == 0
    assert engine.ledger.get("belarus", story.story).undelivered == [TEAM[2]]
    assert smtp_server.rcpt_attempts[-1] == TEAM[2]
    clock.t += 20
    assert engine.send_due() == 1
    row = engine.ledger.get("belarus", story.story)
    assert row.state == "sent"
    received = _received(smtp_server)
    assert {to for _, to in received} == set(TEAM) - {TEAM[5]} and set(received.values()) == {1}
    assert len({m.message_id for m in smtp_server.messages}) == 1
    assert [a.addr_spec for a in smtp_server.messages[-1].message["To"].addresses] == TEAM
    # a restart does not send it again
    clock.t += 1000
    engine.close()
    again = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(recipients=TEAM)], clock=clock)
    assert again.send_due() == 0 and _received(smtp_server) == received
    again.close()


def test_a_digest_refused_for_some_recipients_is_retried_for_them_only(tmp_path, smtp_server):
    smtp_server.refuse_rcpt(TEAM[0], 451, times=2)  # refused in both transactions of the first attempt
    clock = Clock(datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc).timestamp())
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule("hourly", mode="hourly", recipients=TEAM[:3])],
                         clock=clock)
    clock.t += 60
    engine.on_indexed([article(n, clock.t) for n in (1, 2)])
    clock.t = datetime(2024, 5, 1, 13, 0, 5, tzinfo=timezone.utc).timestamp()
    assert engine.send_due() == 0  # TEAM[1] and TEAM[2] have it; TEAM[0] is owed it
    assert [m.rcpt_tos for m in smtp_server.messages] == [TEAM[1:3]]
    clock.t += 10
    assert engine.send_due() == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [TEAM[1:3], TEAM[:1]]
    assert len({m.message_id for m in smtp_server.messages}) == 1
    clock.t += 1000
    assert engine.send_due() == 0
    engine.close()


def test_every_recipient_refused_for_good_is_an_error_not_a_delivery(tmp_path, smtp_server):
    for to in TEAM[:2]:
        smtp_server.refuse_rcpt(to, 550)
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(recipients=TEAM[:2])], clock=clock)
    clock.t += 1
    story = article(1, clock.t)
    assert engine.on_indexed([story]).failed == 1
    row = engine.ledger.get("belarus", story.story)
    assert row.state == "pending" and row.undelivered is None and "all recipients refused" in row.last_error
    assert smtp_server.data_attempts == 0
    engine.close()


def test_a_ledger_from_before_partial_deliveries_is_upgraded_in_place(tmp_path, smtp_server):
    clock = Clock()
    smtp_server.down()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(recipients=TEAM[:2])], clock=clock)
    clock.t += 1
    story = article(1, clock.t)
    assert engine.on_indexed([story]).failed == 1
    engine.close()
    with sqlite3.connect(tmp_path / "alerts.sqlite3") as db:  # the tables as an earlier release wrote them
        for table in ("alerts", "digests"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN undelivered")
    smtp_server.up()
    smtp_server.refuse_rcpt(TEAM[1], 450, times=2)
    clock.t += 10
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(recipients=TEAM[:2])], clock=clock)
    assert engine.send_due() == 0
    assert engine.ledger.get("belarus", story.story).undelivered == [TEAM[1]]
    clock.t += 20
    assert engine.send_due() == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [TEAM[:1], TEAM[1:2]]
    engine.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 7), limit=st.one_of(st.none(), st.integers(1, 4)), stories=st.integers(1, 3),
       refusals=st.dictionaries(st.integers(0, 6), st.tuples(st.sampled_from([450, 451, 452, 550, 553]),
                                                            st.integers(1, 6)), max_size=4),
       mode=st.sampled_from(["instant", "hourly"]))
def test_generated_refusals_every_recipient_once_or_never(tmp_path_factory, smtp_server, n, limit, stories,
                                                          refusals, mode):
    """Any team, recipient limit and refusals (4xx for a while, 5xx for good): each recipient the server
    ever takes gets each mail once; one refused for good never does, unless every one was."""
    team = [f"p{i}@example.org" for i in range(n)]
    smtp_server.clear()
    smtp_server.accept_every_rcpt()
    smtp_server.max_recipients = limit
    for_good = {team[i] for i, (code, _) in refusals.items() if i < n and code >= 500}
    for i, (code, times) in refusals.items():
        if i < n:
            smtp_server.refuse_rcpt(team[i], code, None if code >= 500 else times)
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path_factory.mktemp("ledger"), smtp_server),
                         [rule(recipients=team, mode=mode)], clock=clock)
    clock.t += 1
    engine.on_indexed([article(k, clock.t) for k in range(stories)])
    for _ in range(30):  # past the digest's hour and every backoff (10 s doubling to 80 s)
        clock.t += 3700
        engine.send_due()
    status = engine.status()
    engine.close()
    received = _received(smtp_server)
    if for_good == set(team):  # nobody to send to: the mail waits, as for a server refusing everyone
        assert not received and status["pending"] + status["digests_pending"] >= 1
        return
    ids = {m.message_id for m in smtp_server.messages}
    assert len(ids) == (stories if mode == "instant" else 1)
    assert received == collections.Counter({(m, p): 1 for m in ids for p in team if p not in for_good})
    assert status["pending"] == status["digests_pending"] == 0
    assert all(len(m.rcpt_tos) <= (limit or n) for m in smtp_server.messages)


def test_an_address_twice_in_to_refused_for_now_ends_the_attempt(smtp_server):
    """A message written elsewhere (a test mail, an older ledger's row) may name one address twice: all
    refused for now is a failed attempt, never another transaction for the same addresses."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = ("mw@example.org", "a@example.org, a@example.org",
                                                                  "twice", "<twice@example.org>")
    msg.set_content("body")
    smtp_server.refuse_rcpt("a@example.org", 450)
    sender = SmtpSender(smtp_server.smtp_config())
    with pytest.raises(SendError, match="refused for now") as err:
        sender.send(msg)
    assert err.value.remaining is None and smtp_server.data_attempts == 0
    smtp_server.refuse_rcpt("a@example.org", 550)
    with pytest.raises(SendError, match="all recipients refused"):
        sender.send(msg)
    sender.close()
