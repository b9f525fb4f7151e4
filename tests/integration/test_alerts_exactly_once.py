"""Alerting against a real SMTP server (aiosmtpd on 127.0.0.1), exactly once: each alert is mailed once
through crashes, restarts, outages, refusals, cut connections and rule edits; articles indexed before a
rule are mailed only on a backfill."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from indexer.alerts.engine import AlertEngine
from indexer.alerts.ledger_rows import alert_message_id
from indexer.alerts.mailer import SmtpSender
from tests.harness.smtp import smtp_server  # noqa: F401  (fixture)
from tests.integration.alerting import Clock, article, mail_cfg, message_ids, rule


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
    os.utime(path, (clock.t, clock.t))
    assert engine.on_indexed([article(2, between)]).matched == 0  # indexed before the edit
    clock.t += 1
    assert engine.on_indexed([article(3, clock.t)]).sent == 1
    assert len(smtp_server.wait_for(2)) == 2
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

    def crashing_send(self, msg, to=None):
        if calls["n"] == 4:
            raise Crash()  # the process dies before the 5th mail
        calls["n"] += 1
        return real_send(self, msg, to)

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
    assert set(ids) == {alert_message_id("belarus", a.id, "mediawatch.test", engine2.ledger.install) for a in batch}
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


def test_outbox_commit_failure_leaves_the_group_pending_then_each_mail_once(tmp_path):
    """Outbox mails of one delivery are committed together; if that fails, none is marked sent, and the
    retry rewrites the same files (one per Message-ID), so nothing is lost or doubled."""
    clock = Clock()
    cfg = mail_cfg(tmp_path, None)
    engine = AlertEngine(cfg, [rule()], clock=clock)
    clock.t += 1
    batch = [article(n, clock.t) for n in range(3)]
    outbox = Path(cfg.outbox)
    blocker = outbox / (alert_message_id("belarus", batch[1].id, "mediawatch.test", engine.ledger.install).strip("<>") + ".eml")
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
