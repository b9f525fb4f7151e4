"""Alerting end to end against a real SMTP server (aiosmtpd on 127.0.0.1): content, digests, exactly once."""

from __future__ import annotations

import email
import email.policy
import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import SecretStr

from indexer.alerts.engine import AlertEngine
from indexer.alerts.ledger_rows import alert_message_id
from indexer.alerts.mailer import SendError, SmtpSender
from indexer.alerts.rules import Rule
from indexer.article import Article
from indexer.config import MailConfig
from tests.harness.smtp import SmtpServer, smtp_server  # noqa: F401  (fixture)

T0 = datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc).timestamp()
BELARUS = "Lukashenko AND (prison OR jail*) AND NOT sport"


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def mail_cfg(tmp_path: Path, server: SmtpServer | None, **kw) -> MailConfig:
    return MailConfig(
        from_addr="alerts@mediawatch.test", smtp=server.smtp_config() if server else None,
        outbox=str(tmp_path / "outbox"), ledger_path=str(tmp_path / "alerts.sqlite3"),
        retry_initial_s=10, retry_max_s=80, timezone="UTC", **kw,
    )


def rule(name: str = "belarus", query: str = BELARUS, **kw) -> Rule:
    kw.setdefault("recipients", ["desk@example.org", "editor@example.org"])
    return Rule(name=name, query=query, **kw)


def article(n: int, at: float, title: str | None = None, **kw) -> Article:
    # each n its own story: a text of its own, not the same sentence with another number (a near-duplicate)
    own = " ".join(hashlib.sha1(f"{n}-{i}".encode()).hexdigest()[:7] for i in range(12))
    kw.setdefault("text", f"Alexander Lukashenko met jailed rivals in a KGB prison in Minsk (story {n}). "
                          f"The talks lasted four hours, state media said. Case files {own}.")
    kw.setdefault("source", "dw")
    kw.setdefault("published_at", datetime.fromtimestamp(at - 600 + n, timezone.utc))
    return Article(url=f"https://www.dw.com/en/story-{n}/a-{1000 + n}", title=title or f"Lukashenko story {n}",
                   indexed_at=datetime.fromtimestamp(at, timezone.utc), **kw)


def message_ids(server: SmtpServer) -> list[str]:
    return [m.message_id for m in server.messages]


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
    assert msg["Message-ID"] == alert_message_id("belarus", a.id, "mediawatch.test")
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


def test_rule_alerts_only_on_articles_indexed_after_it(tmp_path, smtp_server):
    clock = Clock()
    old = article(1, clock.t - 60)  # indexed before the rule existed (re-index, late batch)
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], clock=clock)
    assert engine.on_indexed([old]).matched == 0
    engine.close()
    clock.t += 100
    back = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], clock=clock, backfill=True)
    assert back.on_indexed([old]).sent == 1
    back.close()
    smtp_server.wait_for(1)


def test_edited_rule_starts_again(tmp_path, smtp_server):
    clock = Clock()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    path = rules_dir / "minsk.yaml"
    path.write_text("query: Minsk\nrecipients: [desk@example.org]\n")
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), rules_dir=str(rules_dir), clock=clock)
    clock.t += 10
    assert engine.on_indexed([article(1, clock.t)]).sent == 1
    between = clock.t + 5
    clock.t += 20
    path.write_text("query: Minsk AND talks\nrecipients: [desk@example.org]\n")  # picked up without restart
    import os
    os.utime(path, (clock.t, clock.t))
    assert engine.on_indexed([article(2, between)]).matched == 0  # indexed before the edit
    clock.t += 1
    assert engine.on_indexed([article(3, clock.t)]).sent == 1
    assert len(smtp_server.wait_for(2)) == 2
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


def test_restart_midway_sends_no_duplicate(tmp_path, smtp_server, monkeypatch):
    clock = Clock()
    cfg = mail_cfg(tmp_path, smtp_server)
    engine = AlertEngine(cfg, [rule()], clock=clock)
    clock.t += 1
    batch = [article(n, clock.t) for n in range(10)]

    class Crash(BaseException):
        pass

    real_send = SmtpSender.send
    calls = {"n": 0}

    def crashing_send(self, msg):
        if calls["n"] == 4:
            raise Crash()  # the process dies before the 5th mail
        calls["n"] += 1
        return real_send(self, msg)

    monkeypatch.setattr(SmtpSender, "send", crashing_send)
    with pytest.raises(Crash):
        engine.on_indexed(batch)
    monkeypatch.setattr(SmtpSender, "send", real_send)
    assert len(smtp_server.wait_for(4)) == 4
    # no close(): the process died. A new engine on the same ledger carries on.
    clock.t += 1
    engine2 = AlertEngine(cfg, [rule()], clock=clock)
    assert engine2.on_indexed(batch).enqueued == 0  # the re-crawl / replay of the batch adds nothing
    assert engine2.send_due() == 6
    assert engine2.send_due() == 0
    clock.t += 3600
    assert engine2.on_indexed([article(n, clock.t - 1800) for n in range(10)]).enqueued == 0  # re-index later
    assert engine2.send_due() == 0
    ids = message_ids(smtp_server)
    assert len(ids) == 10 and len(set(ids)) == 10
    assert set(ids) == {alert_message_id("belarus", a.id, "mediawatch.test") for a in batch}
    engine2.close()


def test_smtp_down_then_up_delivers_each_pending_once(tmp_path, smtp_server):
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], clock=clock)
    smtp_server.down()
    clock.t += 1
    batch = [article(n, clock.t) for n in range(5)]
    report = engine.on_indexed(batch)
    assert report.sent == 0 and report.failed == 5
    assert engine.status()["pending"] == 5 and engine.status()["failing"] == 5
    clock.t += 5
    assert engine.send_due() == 0  # backoff (10 s) not over: nothing attempted
    clock.t += 10
    assert engine.send_due() == 0  # still down: attempt 2, next in 20 s
    row = engine.ledger.get("belarus", batch[0].id)
    assert row.attempts == 2 and "refused" in row.last_error.lower()
    smtp_server.up()
    clock.t += 19
    assert engine.send_due() == 0
    clock.t += 1
    assert engine.send_due() == 5
    clock.t += 1000
    assert engine.send_due() == 0
    ids = message_ids(smtp_server)
    assert len(ids) == 5 and len(set(ids)) == 5
    assert engine.status()["pending"] == 0 and engine.status()["sent"] == 5
    engine.close()


def test_drop_mid_data_then_retry_exactly_once(tmp_path, smtp_server):
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], clock=clock)
    smtp_server.drop_next_data(1)
    clock.t += 1
    batch = [article(n, clock.t) for n in range(3)]
    report = engine.on_indexed(batch)
    assert report.sent == 2 and report.failed == 1
    assert len(smtp_server.messages) == 2 and smtp_server.data_attempts == 3
    failed = [r for r in engine.ledger.rows(state="pending")]
    assert len(failed) == 1 and "Disconnected" in failed[0].last_error
    clock.t += 10
    assert engine.send_due() == 1
    assert engine.send_due() == 0
    ids = message_ids(smtp_server)
    assert len(ids) == 3 and len(set(ids)) == 3
    engine.close()


def test_temporary_and_permanent_refusals_are_retried(tmp_path, smtp_server):
    clock = Clock()
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], clock=clock)
    smtp_server.fail_next(2, code=550)
    clock.t += 1
    assert engine.on_indexed([article(1, clock.t)]).failed == 1
    clock.t += 10
    assert engine.send_due() == 0  # refused again: kept, never dropped
    clock.t += 20
    assert engine.send_due() == 1
    assert len(smtp_server.messages) == 1
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
    assert msg["Message-ID"] == alert_message_id("belarus", a.id, "mediawatch.test")
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


def test_outbox_commit_failure_leaves_the_group_pending_then_each_mail_once(tmp_path):
    """Outbox mails of one delivery are committed together; if that fails, none is marked sent, and the
    retry rewrites the same files (one per Message-ID), so nothing is lost or doubled."""
    clock = Clock()
    cfg = mail_cfg(tmp_path, None)
    engine = AlertEngine(cfg, [rule()], clock=clock)
    clock.t += 1
    batch = [article(n, clock.t) for n in range(3)]
    outbox = Path(cfg.outbox)
    blocker = outbox / (alert_message_id("belarus", batch[1].id, "mediawatch.test").strip("<>") + ".eml")
    blocker.mkdir(parents=True)  # the rename of the 2nd mail fails: a directory holds its name
    report = engine.on_indexed(batch)
    assert (report.sent, report.failed) == (0, 3)
    assert engine.status()["pending"] == 3 and not list(outbox.glob(".tmp-*"))
    blocker.rmdir()
    clock.t += 11  # past retry_initial_s
    assert engine.send_due() == 3
    files = sorted(f.name for f in outbox.iterdir())
    assert len(files) == 3 and all(f.endswith(".eml") and not f.startswith(".") for f in files)
    assert engine.status()["pending"] == 0
    clock.t += 1000
    assert engine.send_due() == 0
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


def test_catch_up_after_crash_between_index_and_match(tmp_path, smtp_server):
    from indexer.backends.sqlite import SqliteBackend

    backend = SqliteBackend(tmp_path / "index.sqlite3")
    backend.init()
    cfg = mail_cfg(tmp_path, smtp_server)
    engine = AlertEngine(cfg, [rule()], backend=backend)
    first = [article(n, time.time()) for n in range(3)]
    backend.index(first)
    assert engine.on_indexed(first).sent == 3
    lost = [article(n, time.time()) for n in range(3, 6)]
    backend.index(lost)  # indexed, then the process died before on_indexed
    engine2 = AlertEngine(cfg, [rule()], backend=backend)
    report = engine2.catch_up()
    assert report.sent == 3 and report.enqueued == 3
    assert engine2.catch_up().enqueued == 0
    ids = message_ids(smtp_server)
    assert len(ids) == 6 and len(set(ids)) == 6
    engine2.close()
    backend.close()


def test_backfill_sends_existing_matches_once(tmp_path, smtp_server):
    from indexer.backends.sqlite import SqliteBackend

    backend = SqliteBackend(tmp_path / "index.sqlite3")
    backend.init()
    old = [article(n, time.time()) for n in range(4)] + [article(9, time.time(), title="Sport", text="sport")]
    backend.index(old)  # in the index before the rule exists
    engine = AlertEngine(mail_cfg(tmp_path, smtp_server), [rule()], backend=backend)
    assert engine.on_indexed(old).enqueued == 0  # not new for the rule
    report = engine.backfill()
    assert report.enqueued == 4 and report.sent == 4
    assert engine.backfill(["belarus"]).enqueued == 0
    assert len(set(message_ids(smtp_server))) == len(smtp_server.messages) == 4
    engine.close()
    backend.close()
