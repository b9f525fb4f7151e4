"""The sent ledger: pending before send, at most once per (rule, story), backoff, digests, durability."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from indexer.alerts.ledger import Ledger
from indexer.alerts.ledger_rows import NewAlert, alert_message_id, backoff, digest_message_id
from indexer.article import Article
from tests.unit.alerts.ledger_checks import art, check_inspection_reads, check_texts_forgotten, item


def test_enqueue_is_idempotent_per_rule_and_article(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    a, b = art(1), art(2)
    assert led.enqueue([item("r1", a), item("r1", b), item("r2", a)], now=100.0) == [
        ("r1", a.id), ("r1", b.id), ("r2", a.id)
    ]
    # re-crawl / re-index of the same URL: same id, nothing new
    assert led.enqueue([item("r1", art(1)), item("r2", art(1))], now=200.0) == []
    led.mark_sent([("r1", a.id, None)], now=101.0)
    assert led.enqueue([item("r1", a)], now=300.0) == []
    row = led.get("r1", a.id)
    assert row.state == "sent" and row.message_id == alert_message_id("r1", a.id, led.domain, led.install)
    assert row.article.title == "Title 1"
    led.close()


def test_two_installs_never_share_a_message_id_and_a_restart_keeps_its_own(tmp_path):
    """The same rule name, story and sender domain in two installs (two teams, one mailing list): RFC 5322
    wants distinct Message-IDs, or a mailbox fed by both keeps one mail of the two."""
    ours, theirs = Ledger(tmp_path / "ours.sqlite3"), Ledger(tmp_path / "theirs.sqlite3")
    for led in (ours, theirs):
        led.enqueue([item("belarus", art(1, story_id="s-wire"))], now=1.0)
    assert ours.get("belarus", "s-wire").message_id != theirs.get("belarus", "s-wire").message_id
    before = ours.install
    ours.close()
    again = Ledger(tmp_path / "ours.sqlite3")
    assert again.install == before
    again.enqueue([item("belarus", art(2, story_id="s-other"))], now=2.0)
    assert again.get("belarus", "s-other").message_id == alert_message_id("belarus", "s-other", again.domain, before)
    again.close()
    theirs.close()


def test_one_alert_per_rule_and_story_whichever_copy_comes(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    first, copy = art(1, story_id="s-wire"), art(2, story_id="s-wire")
    assert led.enqueue([item("r", first), item("r", copy)], now=1.0) == [("r", "s-wire")]
    assert led.enqueue([item("r", art(3, story_id="s-wire"))], now=2.0) == []  # a later copy
    row = led.get("r", "s-wire")
    assert row.article_id == first.id and row.message_id == alert_message_id("r", "s-wire", led.domain, led.install)
    led.mark_sent([("r", "s-wire", None)], now=3.0)
    assert led.get("r", "s-wire").state == "sent"
    led.close()


def test_a_ledger_keyed_by_article_is_rekeyed_by_story_keeping_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    led = Ledger(path)
    a = art(1)
    led.enqueue([item("r", a)], now=1.0)
    led.mark_sent([("r", a.id, None)], now=2.0)
    led.close()
    with sqlite3.connect(path) as db:  # as an older version wrote it: no story_id, keyed by article
        db.execute("CREATE TABLE old AS SELECT * FROM alerts")
        db.execute("DROP TABLE alerts")
        db.execute("ALTER TABLE old DROP COLUMN story_id")
        db.execute("ALTER TABLE old RENAME TO alerts")
    led = Ledger(path)
    row = led.get("r", a.id)
    assert row is not None and row.state == "sent" and row.article_id == a.id
    assert led.enqueue([item("r", art(1))], now=3.0) == []  # still never twice
    with sqlite3.connect(path) as db:
        pk = [r[1] for r in db.execute("PRAGMA table_info(alerts)") if r[5]]
    assert pk == ["rule", "story_id"]
    led.close()


def test_state_survives_reopen_and_wal(tmp_path):
    path = tmp_path / "l.sqlite3"
    led = Ledger(path)
    a = art(1)
    led.enqueue([item("r", a)], now=1.0)
    led.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    led2 = Ledger(path)
    assert [r.article_id for r in led2.due_instant(now=2.0)] == [a.id]
    assert led2.enqueue([item("r", a)], now=3.0) == []
    led2.close()


def test_failures_back_off_exponentially_and_are_kept(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    a = art(1)
    led.enqueue([item("r", a)], now=0.0)
    t = 0.0
    for attempt in range(1, 8):
        next_at = led.mark_failed("r", a.id, f"boom {attempt}", now=t, initial=10, maximum=300)
        assert next_at - t == min(300, 10 * 2 ** (attempt - 1))
        assert led.due_instant(now=next_at - 0.001) == []
        due = led.due_instant(now=next_at)
        assert [r.attempts for r in due] == [attempt] and due[0].last_error == f"boom {attempt}"
        t = next_at
    led.mark_sent([("r", a.id, None)], now=t)
    assert led.due_instant(now=1e12) == []
    assert led.counts()["sent"] == 1 and led.counts()["pending"] == 0
    led.close()


def test_backoff_caps():
    assert [backoff(n, 30, 3600) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_rule_versions_record_first_seen(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    assert led.rule_since_many([("r", "fp1", False)], now=100.0) == {("r", "fp1"): 100.0}
    # same version: unchanged across restarts; an edited rule starts anew; a backfilled one from the start
    assert led.rule_since_many([("r", "fp1", False), ("r", "fp2", False), ("r", "fp3", True)], now=600.0) == {
        ("r", "fp1"): 100.0, ("r", "fp2"): 600.0, ("r", "fp3"): 0.0}
    led.close()


def test_digest_assignment_and_order(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    old = art(1, published_at=datetime(2024, 5, 1, 8, tzinfo=timezone.utc))
    new = art(2, published_at=datetime(2024, 5, 1, 11, tzinfo=timezone.utc))
    undated = art(3)
    led.enqueue([item("d", old, "hourly"), item("d", new, "hourly")], now=1000.0)
    led.enqueue([item("d", undated, "hourly")], now=5000.0)  # after the boundary below
    assert led.due_instant(now=1e9) == []  # digest items are never sent one by one
    digest_id = led.open_digest("d", "k1", period_end=2000.0, recipients=["y@example.org"], now=2001.0)
    assert digest_id == "d@k1"
    assert led.open_digest("d", "k1", period_end=2000.0, recipients=[], now=2002.0) is None
    items = led.digest_items(digest_id)
    assert [i.article_id for i in items] == [new.id, old.id]  # newest first
    (digest,) = led.due_digests(now=2001.0)
    assert digest.message_id == digest_message_id("d", "k1", led.domain, led.install) and digest.recipients == ["y@example.org"]
    led.mark_digest_failed(digest_id, "down", now=2001.0, initial=10, maximum=100)
    assert led.due_digests(now=2005.0) == []
    led.mark_digest_sent(digest_id, now=2020.0)
    assert {r.state for r in led.rows(rule="d") if r.digest_id == digest_id} == {"sent"}
    assert [(r, s) for r, s, _ in led.unassigned_digest_rules()] == [("d", "hourly UTC")]
    led.close()


def test_inspection_reads_agree_with_every_row(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    check_inspection_reads(led)
    led.close()


def test_an_alert_keeps_the_article_without_its_story_signature(tmp_path):
    """The snapshot is what the mails and pages read; a story's band keys and signature (1.6 KB of a
    4 KB news story) are the index's, never read from the ledger."""
    a = art(1, story_id="s1", story_keys=[f"k{i}" for i in range(42)], story_sig="c2lnbmF0dXJl" * 40)
    led = Ledger(tmp_path / "l.sqlite3")
    led.enqueue([item("r", a)], now=1.0)
    stored = sqlite3.connect(tmp_path / "l.sqlite3").execute("SELECT article FROM alerts").fetchone()[0]
    assert "story_keys" not in stored and "story_sig" not in stored and '"story_id": "s1"' in stored
    row = led.get("r", "s1")
    assert (row.article.title, row.article.text, row.article.url) == (a.title, a.text, a.url)
    led.close()


def test_the_texts_of_alerts_past_retention_are_forgotten(tmp_path):
    led = Ledger(tmp_path / "l.sqlite3")
    check_texts_forgotten(led)
    led.close()
