"""Alert mails against a real SMTP server (aiosmtpd on 127.0.0.1): what an instant mail and a digest
hold, hostile titles and addresses made harmless, the outbox's files, test mails, TLS and login."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr

from indexer.alerts.engine import AlertEngine
from indexer.alerts.ledger_rows import alert_message_id
from indexer.alerts.mailer import SendError, SmtpSender
from indexer.alerts.rules import Rule
from tests.harness.smtp import SmtpServer, smtp_server  # noqa: F401  (fixture)
from tests.integration.alerting import Clock, article, mail_cfg, message_ids, rule


def test_instant_mail_content(tmp_path, smtp_server):
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], clock=clock)
    clock.t += 5
    a = article(1, clock.t, title="Lukashenko holds talks with jailed rivals")
    report = engine.on_indexed([a, article(2, clock.t, title="Sport", text="Lukashenko plays sport in prison")])
    assert (report.matched, report.enqueued, report.sent) == (1, 1, 1)
    (got,) = smtp_server.wait_for(1)
    assert sorted(got.rcpt_tos) == ["desk@example.org", "editor@example.org"]
    assert got.mail_from == "alerts@mediawatch.test"
    msg = got.message
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Message-ID"] == alert_message_id("belarus", a.id, "mediawatch.test", engine.ledger.install)
    assert msg["Subject"] == "[mediawatch] belarus: Lukashenko holds talks with jailed rivals"
    assert msg["From"] == "mediawatch <alerts@mediawatch.test>"
    assert msg["X-Mediawatch-Rule"] == "belarus" and msg["Auto-Submitted"] == "auto-generated"
    text, html = got.part("plain"), got.part("html")
    for body in (text, html):
        assert "https://www.dw.com/en/story-1/a-1001" in body
        assert "dw" in body and datetime.fromtimestamp(clock.t - 599, timezone.utc).strftime("%Y-%m-%d %H:%M") in body
    assert "<mark>Lukashenko</mark>" in html and "<mark>jailed</mark>" in html and "<mark>prison</mark>" in html
    assert "*Lukashenko*" in text and "*jailed*" in text
    assert "<mark>sport</mark>" not in html  # negated terms are not highlighted
    assert '<a href="https://www.dw.com/en/story-1/a-1001">' in html
    engine.close()


def test_digest_grouped_by_rule_newest_first(tmp_path, smtp_server):
    clock = Clock(datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc).timestamp())
    rules = [rule("hourly-belarus", mode="hourly"), rule("daily-minsk", "Minsk", mode="daily", daily_at="08:00",
                                                          recipients=["morning@example.org"])]
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), rules, clock=clock)
    clock.t += 60
    batch = [article(n, clock.t) for n in (1, 3, 2)]  # published 12:01:01, :03, :02
    report = engine.on_indexed(batch)
    assert report.enqueued == 6 and report.sent == 0
    assert engine.send_due() == 0  # 12:11: the 13:00 boundary has not come yet
    clock.t = datetime(2024, 5, 1, 13, 0, 5, tzinfo=timezone.utc).timestamp()
    engine.on_indexed([article(4, clock.t)])  # after the boundary: next hour's digest
    assert engine.send_due() == 1
    (digest,) = smtp_server.wait_for(1)
    assert digest.rcpt_tos == ["desk@example.org", "editor@example.org"]
    assert "hourly-belarus: 3 new articles (hourly digest)" in digest.subject
    text, html = digest.part("plain"), digest.part("html")
    assert text.index("story 3") < text.index("story 2") < text.index("story 1") and "story 4" not in text
    assert html.count("<li") == 3 and html.count("<mark>Lukashenko</mark>") >= 3
    assert engine.send_due() == 0
    clock.t = datetime(2024, 5, 2, 8, 0, 1, tzinfo=timezone.utc).timestamp()
    assert engine.send_due() == 2  # the next hourly (story 4) and the daily one at 08:00
    subjects = sorted(m.subject for m in smtp_server.wait_for(3)[1:])
    assert subjects == ["[mediawatch] daily-minsk: 4 new articles (daily digest)",
                        "[mediawatch] hourly-belarus: 1 new article (hourly digest)"]
    assert engine.send_due() == 0
    assert len(set(message_ids(smtp_server))) == 3
    engine.close()


def test_a_digest_lists_the_newest_stories_up_to_the_cap_and_counts_the_rest(tmp_path, smtp_server):
    """A broad rule's day can hold thousands of stories (about 1.7 KB each in a mail): past
    mail.digest_max_stories the digest lists the newest and counts the others, which are sent with it."""
    clock = Clock(datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc).timestamp())
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server, digest_max_stories=2), [rule("hourly-belarus", mode="hourly")],
                         clock=clock)
    clock.t += 60
    engine.on_indexed([article(n, clock.t) for n in (1, 3, 2)])  # published 12:01:01, :03, :02
    clock.t = datetime(2024, 5, 1, 13, 0, 5, tzinfo=timezone.utc).timestamp()
    assert engine.send_due() == 1
    (digest,) = smtp_server.wait_for(1)
    assert "hourly-belarus: 3 new articles (hourly digest)" in digest.subject
    text, html = digest.part("plain"), digest.part("html")
    assert text.index("story 3") < text.index("story 2") and "story 1" not in text and html.count("<li") == 2
    assert "and 1 more, older" in text and 'id="digest-more"' in html
    assert engine.ledger.counts()["pending"] == 0 and engine.send_due() == 0
    engine.close()

def test_a_daily_digest_at_a_time_the_clock_skips_comes_once_and_holds_every_story(tmp_path, smtp_server):
    """Berlin's clock jumps from 02:00 to 03:00 on 2024-03-31: a digest due daily at 02:30 closes that day
    at 03:30 (01:30 UTC), as far after the jump as 02:30 is after 02:00. Before, between 03:00 and 03:30 the
    day's boundary was taken as past while it was still to come: its digest went out early, and the stories
    matched after that were put in a digest already sent, never mailed."""
    def at(h: int, m: int) -> float:
        return datetime(2024, 3, 31, h, m, tzinfo=timezone.utc).timestamp()

    clock = Clock(at(0, 30))
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule("night", mode="daily", daily_at="02:30",
                                                                timezone="Europe/Berlin")], clock=clock)
    clock.t = at(0, 40)  # 01:40 in Berlin, before the jump
    engine.on_indexed([article(1, clock.t)])
    clock.t = at(1, 5)  # 03:05 after the jump
    engine.on_indexed([article(2, clock.t)])
    assert engine.send_due() == 0
    clock.t = at(1, 20)
    engine.on_indexed([article(3, clock.t)])
    assert engine.send_due() == 0
    clock.t = at(1, 31)  # 03:31: the day's digest, with all three
    assert engine.send_due() == 1
    (digest,) = smtp_server.wait_for(1)
    assert "night: 3 new articles (daily digest)" in digest.subject
    assert all(f"story {n}" in digest.part("plain") for n in (1, 2, 3))
    clock.t = at(23, 0)
    engine.on_indexed([article(4, clock.t)])
    clock.t = datetime(2024, 4, 1, 0, 31, tzinfo=timezone.utc).timestamp()  # 02:31 CEST, the next day's
    assert engine.send_due() == 1
    assert "night: 1 new article (daily digest)" in smtp_server.wait_for(2)[1].subject
    assert engine.ledger.counts()["pending"] == 0
    engine.close()

HOSTILE = ("Lukashenko\r\nBcc: everyone@example.org\r\nX-Injected: 1\r\n\r\n<script>alert('pwn')</script>"
           "<img src=x onerror=alert(1)> \"&\"")


def test_hostile_titles_neutralised(tmp_path, smtp_server):
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule(query="Lukashenko")], clock=clock)
    clock.t += 1
    a = article(1, clock.t, title=HOSTILE, text="Lukashenko <b onmouseover=x>bold</b> </textarea><script>1</script>",
                source="dw\r\nX-Evil: 1")
    assert engine.on_indexed([a]).sent == 1
    (got,) = smtp_server.wait_for(1)
    assert sorted(got.rcpt_tos) == ["desk@example.org", "editor@example.org"]  # no Bcc smuggled in
    msg = got.message
    assert msg["Bcc"] is None and msg["X-Injected"] is None and msg["X-Evil"] is None
    head = got.raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "\nBcc:" not in head and "\nX-Injected" not in head
    assert len(msg.get_all("Subject")) == 1
    html = got.part("html")
    for bad in ("<script", "<img", "<b onmouseover", "</textarea>"):
        assert bad not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    engine.close()


def test_a_non_ascii_sender_name_and_an_encoded_word_lookalike_address_arrive_usable(tmp_path, smtp_server):
    clock = Clock()
    lookalike = "a=?utf-8?q?x?=b@example.org"
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server, from_name="Müller"),
                         [rule(query="Lukashenko", recipients=[lookalike, "desk@example.org"])], clock=clock)
    clock.t += 1
    a = article(1, clock.t)
    assert engine.on_indexed([a]).sent == 1
    (got,) = smtp_server.wait_for(1)
    assert (got.mail_from, got.rcpt_tos) == ("alerts@mediawatch.test", [lookalike, "desk@example.org"])
    assert got.raw.isascii()
    msg = got.message
    assert not msg["From"].defects and not msg["To"].defects
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Müller", "alerts@mediawatch.test")
    assert [x.addr_spec for x in msg["To"].addresses] == [lookalike, "desk@example.org"]
    assert msg["Message-ID"] == alert_message_id("belarus", a.id, "mediawatch.test", engine.ledger.install)
    engine.close()


def test_a_non_ascii_address_goes_with_smtputf8_and_is_refused_for_good_without(tmp_path, smtp_server):
    from indexer.alerts.render import Envelope, test_message

    msg = test_message(Envelope("alerts@mediawatch.test"), "r", "q", ["jörg@example.org"], "<u1@mediawatch.test>")
    sender = SmtpSender(smtp_server.smtp_config())
    sender.send(msg)
    sender.close()
    (got,) = smtp_server.wait_for(1)
    assert got.rcpt_tos == ["jörg@example.org"] and "To: jörg@example.org\r\n".encode() in got.raw
    with SmtpServer(smtputf8=False) as plain:
        sender = SmtpSender(plain.smtp_config())
        with pytest.raises(SendError) as info:
            sender.send(msg)
        sender.close()
        assert info.value.temporary is False and "SMTPUTF8" in str(info.value)
        assert plain.messages == []


def test_outbox_mode_writes_parseable_eml(tmp_path):
    clock = Clock()
    cfg = mail_cfg(tmp_path, None)
    engine = AlertEngine(cfg, [rule(), rule("hourly", "Minsk", mode="hourly")], clock=clock)
    clock.t += 1
    batch = [article(n, clock.t, title=HOSTILE if n == 0 else None) for n in range(3)]
    assert engine.on_indexed(batch).sent == 3
    clock.t += 3600
    assert engine.send_due() == 1
    files = sorted(Path(cfg.outbox).glob("*.eml"))
    assert len(files) == 4 and not list(Path(cfg.outbox).glob(".tmp-*"))
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        assert f.name == msg["Message-ID"].strip().strip("<>") + ".eml"
        assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
        assert msg["Bcc"] is None
    engine.close()


def test_send_test_reaches_recipients(tmp_path, smtp_server):
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()])
    where = engine.send_test("belarus")
    (got,) = smtp_server.wait_for(1)
    assert where.startswith(f"smtp 127.0.0.1:{smtp_server.port}") and got.message_id in where
    assert "test mail for rule belarus" in got.subject
    assert sorted(got.rcpt_tos) == ["desk@example.org", "editor@example.org"]
    assert engine.status()["sent"] == 0  # not recorded as an alert
    with pytest.raises(ValueError):
        engine.send_test(Rule(name="nobody", query="x"))
    engine.close()


@pytest.mark.parametrize("tls", ["none", "starttls", "ssl"])
def test_tls_modes_and_login(tmp_path, tls):
    with SmtpServer(tls=tls, credentials={"mw": "s3cret"}) as server:
        cfg = mail_cfg(tmp_path, server)
        engine = AlertEngine(cfg, [rule()])
        engine.send_test("belarus")
        (got,) = server.wait_for(1)
        assert got.auth_user == "mw" and got.tls == (tls != "none")
        engine.close()
        bad = cfg.model_copy(update={"smtp": cfg.smtp.model_copy(update={"password": SecretStr("wrong")})})
        with pytest.raises(SendError):
            AlertEngine(bad, [rule()]).send_test("belarus")
        if tls != "none":  # an unverified certificate is refused unless configured
            unverified = cfg.model_copy(update={"smtp": cfg.smtp.model_copy(update={"ca_file": None})})
            with pytest.raises(SendError):
                AlertEngine(unverified, [rule()]).send_test("belarus")


def test_instant_latency_real_clock(tmp_path, smtp_server):
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()])
    a = article(1, time.time())
    engine.on_indexed([a])
    (got,) = smtp_server.wait_for(1)
    assert got.received_at - a.indexed_at.timestamp() < 5
    engine.close()
