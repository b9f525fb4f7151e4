"""The alert ledger on a real PostgreSQL: the SQLite ledger's behaviour, plus what several daemons
need: "first" decided by the engine, due rows claimed by one daemon, the watermark never going back."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from indexer.alerts.ledger_rows import NewAlert, alert_message_id
from indexer.alerts.ledger_pg import PgLedger
from indexer.article import Article
from indexer.pgconn import EngineUnavailable
from tests.unit.alerts.ledger_checks import check_inspection_reads, check_texts_forgotten
from tests.harness.wait import wait_until


def art(n: int, **kw) -> Article:
    kw.setdefault("indexed_at", datetime(2024, 5, 1, 12, n % 60, tzinfo=timezone.utc))
    return Article(url=f"https://news.example/{n}", title=f"Title {n}", text=f"body {n}", source="ex", **kw)


def item(rule: str, a: Article, channels: list[str] | None = None) -> NewAlert:
    return NewAlert(rule=rule, article=a, mode="instant", schedule="instant", query="body",
                    recipients=["x@example.org"], channels=channels or [])


def test_enqueue_is_create_only_and_rows_read_back(pg_dsn):
    led = PgLedger(pg_dsn)
    a, b = art(1, story_id="s1"), art(2, story_id="s1")
    assert led.enqueue([item("r", a, ["hook"]), item("r", b, ["hook"])], now=100.0) == [("r", "s1")]
    assert led.enqueue([item("r", art(3, story_id="s1"))], now=101.0) == []
    row = led.get("r", "s1")
    assert row.article_id == a.id and row.state == "pending" and row.matched_at == 100.0
    assert row.message_id == alert_message_id("r", "s1", led.domain, led.install)
    assert led.deliveries() == [("r", "s1", "hook", "pending", 0)]
    led.mark_sent([("r", "s1", None)], now=102.5)
    assert led.get("r", "s1").sent_at == 102.5  # 8-byte floats: a unix time survives
    assert led.counts()["sent"] == 1 and led.counts()["deliveries_pending"] == 1
    (message,) = led.recent_messages()  # the web app's Alerts page reads them so
    assert (message.rule, message.article.id, message.channel, message.state) == ("r", a.id, "hook", "pending")
    led.close()


def test_two_daemons_racing_on_one_story_one_wins(pg_dsn):
    """Many rounds of two connections inserting the same (rule, story) at the same instant."""
    leds = [PgLedger(pg_dsn), PgLedger(pg_dsn)]
    wins: list[list[tuple[str, str]]] = [[], []]
    for n in range(40):
        gate = threading.Barrier(2)

        def go(i: int) -> None:
            gate.wait()
            wins[i] += leds[i].enqueue([item("r", art(100 + i, story_id=f"s{n}"), ["hook"])], now=float(n))

        threads = [threading.Thread(target=go, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    keys = wins[0] + wins[1]
    assert sorted(keys) == sorted(("r", f"s{n}") for n in range(40)), "each story won exactly once"
    assert len(leds[0].deliveries()) == 40
    for led in leds:
        led.close()


def test_a_due_row_is_claimed_by_one_daemon(pg_dsn):
    first, second = PgLedger(pg_dsn, claim_s=30), PgLedger(pg_dsn, claim_s=30)
    first.enqueue([item("r", art(n, story_id=f"s{n}"), ["hook"]) for n in range(6)], now=10.0)
    got = first.due_instant(now=11.0, limit=4)
    rest = second.due_instant(now=11.0)
    assert len(got) == 4 and len(rest) == 2 and not {r.story_id for r in got} & {r.story_id for r in rest}
    assert second.due_instant(now=12.0) == []
    # a claim that lapsed (its daemon died before mark_sent) is due again
    assert len(second.due_instant(now=11.0 + 31)) == 6
    hooks = first.due_deliveries(now=11.0, channel="hook")
    assert len(hooks) == 6 and second.due_deliveries(now=11.0) == []
    for led in (first, second):
        led.close()


def test_the_watermark_only_moves_forward_and_is_each_daemons_own(pg_dsn):
    led, other = PgLedger(pg_dsn, node="d1"), PgLedger(pg_dsn, node="d2")
    led.advance_watermark(50.0)
    led.advance_watermark(20.0)
    assert led.watermark() == 50.0 and other.watermark() is None
    led.advance_watermark(70.25)
    other.advance_watermark(10.0)
    assert led.watermark() == 70.25 and other.watermark_of("matched_until:d1") == 70.25
    other.forget_watermark("matched_until:d1")
    assert led.watermark() is None and other.watermark() == 10.0
    for x in (led, other):
        x.close()


def test_writes_wait_for_a_restarted_engine_reads_say_it_is_down(pg, pg_dsn):
    led = PgLedger(pg_dsn)
    led.enqueue([item("r", art(1, story_id="s1"))], now=1.0)
    pg.stop()
    with pytest.raises(EngineUnavailable):
        led.counts()
    restarted = threading.Thread(target=pg.start)
    restarted.start()
    # the write blocks until the server is back, then lands once
    assert led.enqueue([item("r", art(2, story_id="s2")), item("r", art(3, story_id="s1"))], now=2.0) == [("r", "s2")]
    restarted.join(60)
    assert led.counts()["pending"] == 2
    led.close()


def test_a_write_waiting_for_the_engine_gives_up_at_once_when_the_ledger_closes(pg, pg_dsn):
    led = PgLedger(pg_dsn)
    pg.stop()
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(led.enqueue([item("r", art(1, story_id="s1"))], now=1.0))
        except BaseException as err:  # noqa: BLE001 (what the waiting write ended with is the subject)
            outcome.append(err)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        # down for 3.5 s: the write is inside its 3.2 s wait (0.2 + 0.4 + 0.8 + 1.6 s of backoff before it)
        wait_until(lambda: led.engine.down_since is not None and time.monotonic() - led.engine.down_since > 3.5, 30,
                   "the write retrying for a while", poll_s=0.1)
        closed_at = time.monotonic()
        led.close()
        writer.join(10)
        ended_in = time.monotonic() - closed_at
    finally:
        pg.start()
    assert not writer.is_alive() and isinstance(outcome[0], EngineUnavailable), outcome
    assert ended_in < 1.0, f"the write went on waiting {ended_in:.1f}s after the close"


def test_a_digest_and_its_channel_messages_are_claimed_by_one_daemon(pg_dsn):
    first, second = PgLedger(pg_dsn, claim_s=30), PgLedger(pg_dsn, claim_s=30)
    items = [NewAlert(rule="d", article=art(n, story_id=f"s{n}"), mode="hourly", schedule="hourly UTC", query="body",
                      recipients=["x@example.org"]) for n in range(3)]
    assert len(first.enqueue(items, now=10.0)) == 3
    digest = first.open_digest("d", "2024-05-01T13", 20.0, ["x@example.org"], now=21.0, channels=["hook", "chat"])
    assert second.open_digest("d", "2024-05-01T13", 20.0, ["x@example.org"], now=21.0, channels=["hook"]) is None
    assert [d.digest_id for d in first.due_digests(now=22.0)] == [digest] and second.due_digests(now=22.0) == []
    assert first.pending_channels() == {"hook": 21.0, "chat": 21.0}
    got = first.due_digest_deliveries(now=22.0, channel="hook")
    assert [(m.digest_id, m.rule, m.channel) for m in got] == [(digest, "d", "hook")]
    assert second.due_digest_deliveries(now=22.0, channel="hook") == []
    first.mark_digest_delivered(got[0], now=23.0)
    counts = second.counts()
    assert counts["deliveries_sent"] == 1 and counts["deliveries_pending"] == 1
    # newest first (sent at 23.0, then due at 21.0); a digest's messages have no article
    assert [(m.channel, m.state, m.article) for m in second.recent_messages()] == [
        ("hook", "sent", None), ("chat", "pending", None)]
    for led in (first, second):
        led.close()


def test_a_partial_delivery_narrows_the_next_attempt_and_an_older_schema_is_upgraded(pg_dsn):
    led = PgLedger(pg_dsn)
    with led.engine.tx() as db:  # the tables as a release before partial deliveries wrote them
        for table in ("alerts", "digests"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN undelivered")
    led.close()
    led = PgLedger(pg_dsn)
    led.enqueue([item("r", art(1, story_id="s1"))], now=1.0)
    led.mark_failed("r", "s1", "452 too many recipients", 2.0, 10, 80, ["b@example.org"])
    led.mark_failed("r", "s1", "connection refused", 12.0, 10, 80)  # reached nobody: still owed to the same
    (row,) = led.due_instant(now=100.0)
    assert row.undelivered == ["b@example.org"] and row.attempts == 2 and row.recipients == ["x@example.org"]
    led.enqueue([NewAlert(rule="d", article=art(2, story_id="s2"), mode="hourly", schedule="hourly UTC",
                          query="body", recipients=["x@example.org", "y@example.org"])], now=10.0)
    digest = led.open_digest("d", "2024-05-01T13", 20.0, ["x@example.org", "y@example.org"], now=21.0)
    led.mark_digest_failed(digest, "451 later", 22.0, 10, 80, ["y@example.org"])
    (due,) = led.due_digests(now=100.0)
    assert due.undelivered == ["y@example.org"]
    led.close()


def test_inspection_reads_agree_with_every_row(pg_dsn):
    led = PgLedger(pg_dsn)
    check_inspection_reads(led)
    led.close()


def test_the_texts_of_alerts_past_retention_are_forgotten(pg_dsn):
    led = PgLedger(pg_dsn)
    check_texts_forgotten(led)
    led.close()
