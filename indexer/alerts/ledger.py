"""The sent ledger: durable alert state, so every (rule, story) is mailed at most once and never lost.

One SQLite file (WAL, ``synchronous=FULL``), four tables:

``alerts``          one row per (rule, story_id), the primary key: the copies of one story (the same wire
                    story on several sites, see indexer.stories) are one alert, recorded with the first
                    copy that matched (``article_id``, ``article``). A conditional insert on that key is
                    what makes a re-crawl, a re-index, a later copy or a restart unable to alert twice. States:
                    ``pending`` (written *before* any send) → ``sent`` (written once the SMTP server
                    answered 250, or the .eml landed in the outbox). A failed send stays ``pending`` with
                    ``attempts``, ``last_error`` and ``next_attempt_at`` (exponential backoff); nothing is
                    ever dropped. Digest items carry the ``digest_id`` they were assigned to.
``digests``         one row per (rule, period boundary); same pending → sent life cycle, and marking it
                    sent marks all its items sent in the same transaction.
``meta``            the matching watermark: the newest ``indexed_at`` handed to the engine, from which
                    ``AlertEngine.catch_up`` re-matches after a crash between indexing and matching.
``deliveries``      one row per (rule, story_id, channel) for an instant rule's ``notify`` channels, same life
                    cycle (see ``ledger_channels``); ``digest_deliveries`` one per (digest, channel) for a
                    digest rule's.
``rule_versions``   (rule, fingerprint) → ``since``: when this version of the rule was first seen. The
                    matcher only alerts on articles indexed at or after ``since`` (unless backfill), so a new
                    or edited rule does not flood its recipients with the back catalogue.

The rows as Python values and the Message-IDs derived from their keys are ``ledger_rows``'; the
digests' life cycle is ``ledger_digests``' (mixed in, as the channels' ``ledger_channels``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Iterator, Sequence

from indexer.alerts.ledger_channels import CHANNEL_SCHEMA, ChannelLedger, insert_deliveries
from indexer.alerts.ledger_digests import DigestLedger
from indexer.alerts.ledger_rows import AlertRow, NewAlert, alert_message_id, backoff, list_json
from indexer.article import STORY_STATE_FIELDS, Article

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    rule            TEXT NOT NULL,
    story_id        TEXT NOT NULL,
    article_id      TEXT NOT NULL,              -- the copy that matched first
    mode            TEXT NOT NULL,              -- instant | hourly | daily
    schedule        TEXT NOT NULL,              -- 'instant' | 'hourly <tz>' | 'daily HH:MM <tz>'
    state           TEXT NOT NULL,              -- pending | sent
    digest_id       TEXT,
    message_id      TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at REAL NOT NULL,
    matched_at      REAL NOT NULL,
    indexed_at      REAL,
    published_at    REAL,
    sent_at         REAL,
    query           TEXT NOT NULL,
    recipients      TEXT NOT NULL,              -- JSON list
    article         TEXT NOT NULL,              -- JSON snapshot of the Article
    undelivered     TEXT,                       -- JSON list: whom a retry is for (NULL: everyone)
    PRIMARY KEY (rule, story_id)
);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts (state, mode, next_attempt_at);
CREATE INDEX IF NOT EXISTS alerts_digest ON alerts (digest_id);
CREATE INDEX IF NOT EXISTS alerts_recent ON alerts (matched_at);
CREATE INDEX IF NOT EXISTS alerts_sent ON alerts (rule, sent_at);
CREATE TABLE IF NOT EXISTS digests (
    digest_id       TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,
    period_end      REAL NOT NULL,
    state           TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at REAL NOT NULL,
    created_at      REAL NOT NULL,
    sent_at         REAL,
    recipients      TEXT NOT NULL,
    undelivered     TEXT
);
CREATE INDEX IF NOT EXISTS digests_due ON digests (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_versions (
    rule        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    since       REAL NOT NULL,
    PRIMARY KEY (rule, fingerprint)
);
"""

# Columns added after a ledger's tables were first created: (table, column, type).
ADDED_COLUMNS = (("alerts", "undelivered", "TEXT"), ("digests", "undelivered", "TEXT"))


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class LedgerEmptied(RuntimeError):
    """The ledger's file is there with nothing in it: taken as new, it would let backfill rules mail
    again every story the index holds."""


def _refuse_emptied(path: Path) -> None:
    # SQLite writes a new ledger's header at once (WAL mode is recorded in it), so a file of 0 bytes
    # was truncated from outside, or its creation died before its first write
    wal = path.with_name(path.name + "-wal")
    if path.is_file() and path.stat().st_size == 0 and not (wal.is_file() and wal.stat().st_size):
        raise LedgerEmptied(
            f"the alert ledger {path} is empty (0 bytes): restore it from a backup, or remove it to start a "
            "new one (rules with backfill then alert again on what the index holds)")


class Ledger(DigestLedger, ChannelLedger):
    """Thread-safe (one connection behind a lock); every write is its own durable transaction."""

    def __init__(self, path: str | Path, domain: str = "mediawatch.local") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            _refuse_emptied(Path(self.path))
        self.domain = domain
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._key_alerts_by_story()
        self._db.executescript(SCHEMA + CHANNEL_SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        for table, column, kind in ADDED_COLUMNS:
            if column not in {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _key_alerts_by_story(self) -> None:
        """A ledger written before stories keyed alerts by (rule, article): each article was its own story."""
        cols = [r[1] for r in self._db.execute("PRAGMA table_info(alerts)")]
        if not cols or "story_id" in cols:
            return
        with self._tx() as db:
            db.execute("ALTER TABLE alerts RENAME TO alerts_by_article")
            db.execute("DROP INDEX IF EXISTS alerts_due")
            db.execute("DROP INDEX IF EXISTS alerts_digest")
            create = SCHEMA.split(";")[0]
            db.execute(create)
            db.execute(f"INSERT INTO alerts (story_id, {', '.join(cols)}) SELECT article_id, {', '.join(cols)}"
                       " FROM alerts_by_article")
            db.execute("DROP TABLE alerts_by_article")

    @cached_property
    def install(self) -> str:
        """This ledger's random key, made once and kept in it: every Message-ID it hands out derives from
        it (RFC 5322 wants them globally unique), and daemons sharing the ledger (a cluster) share it."""
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('install', ?) ON CONFLICT (key) DO NOTHING",
                       (secrets.token_hex(16),))
            return db.execute("SELECT value FROM meta WHERE key = 'install'").fetchone()["value"]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    # -- rule versions --------------------------------------------------------------------------
    def rule_since_many(self, versions: list[tuple[str, str, bool]], now: float) -> dict[tuple[str, str], float]:
        """When each version (rule, fingerprint) was first seen, recorded now if new, 0 with its backfill flag;
        one transaction for all of them (10,000 rules at start)."""
        out: dict[tuple[str, str], float] = {}
        with self._tx() as db:
            for rule, fingerprint, backfill in versions:
                db.execute(
                    "INSERT INTO rule_versions (rule, fingerprint, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (rule, fingerprint, 0.0 if backfill else now),
                )
                if backfill:
                    db.execute("UPDATE rule_versions SET since = 0 WHERE rule = ? AND fingerprint = ?",
                               (rule, fingerprint))
            for row in db.execute("SELECT rule, fingerprint, since FROM rule_versions"):
                out[(row["rule"], row["fingerprint"])] = float(row["since"])
        return out

    # -- watermark ------------------------------------------------------------------------------
    def advance_watermark(self, indexed_at: float) -> None:
        """Remember the newest ``indexed_at`` matched so far (only ever moves forward)."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'matched_until'").fetchone()
            if row is None or float(row["value"]) < indexed_at:
                db.execute("INSERT INTO meta (key, value) VALUES ('matched_until', ?)"
                           " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (repr(indexed_at),))

    def watermark(self) -> float | None:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'matched_until'").fetchone()
        return float(row["value"]) if row else None

    # -- alerts ---------------------------------------------------------------------------------
    def enqueue(self, items: list[NewAlert], now: float) -> list[tuple[str, str]]:
        """Record matches as pending; return the (rule, story_id) keys that were new (a story already
        recorded for the rule, by this copy or another, is not)."""
        new: list[tuple[str, str]] = []
        stored: dict[int, str] = {}  # an article (object) matching several rules is serialised once
        install = self.install
        with self._tx() as db:
            for item in items:
                art = item.article
                if id(art) not in stored:  # without its story signature: 1.6 KB no mail or page reads
                    snapshot = {k: v for k, v in art.to_dict().items() if k not in STORY_STATE_FIELDS}
                    stored[id(art)] = json.dumps(snapshot, ensure_ascii=False)
                message_id = alert_message_id(item.rule, art.story, self.domain, install) if item.mode == "instant" else None
                # an instant rule that only notifies channels has no mail to send: its row is the match,
                # done; a digest item waits for its period's digest, whose channels list it
                state = "pending" if item.recipients or item.mode != "instant" else "sent"
                cur = db.execute(
                    "INSERT INTO alerts (rule, story_id, article_id, mode, schedule, state, message_id,"
                    " next_attempt_at, matched_at, indexed_at, published_at, query, recipients, article)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        item.rule, art.story, art.id, item.mode, item.schedule, state, message_id, now, now,
                        _ts(art.indexed_at), _ts(art.published_at), item.query,
                        json.dumps(list(item.recipients)), stored[id(art)],
                    ),
                )
                if cur.rowcount:
                    new.append((item.rule, art.story))
                    insert_deliveries(db, item.rule, art.story, item.channels, now)
        return new

    def get(self, rule: str, story_id: str) -> AlertRow | None:
        with self._read() as db:
            row = db.execute(
                "SELECT * FROM alerts WHERE rule = ? AND story_id = ?", (rule, story_id)
            ).fetchone()
        return AlertRow.from_row(row) if row else None

    def due_instant(self, now: float, limit: int = 500, keys: list[tuple[str, str]] | None = None) -> list[AlertRow]:
        """Pending instant alerts whose next attempt is due (optionally only the given keys)."""
        with self._read() as db:
            if keys is None:
                rows = db.execute(
                    "SELECT * FROM alerts WHERE state = 'pending' AND mode = 'instant' AND next_attempt_at <= ?"
                    " ORDER BY next_attempt_at, matched_at LIMIT ?",
                    (now, limit),
                ).fetchall()
            else:
                rows = []
                for rule, story_id in keys:
                    row = db.execute(
                        "SELECT * FROM alerts WHERE rule = ? AND story_id = ? AND state = 'pending'"
                        " AND mode = 'instant' AND next_attempt_at <= ?",
                        (rule, story_id, now),
                    ).fetchone()
                    if row:
                        rows.append(row)
        articles: dict[str, Article] = {}
        return [AlertRow.from_row(r, articles) for r in rows]

    def mark_sent(self, sent: Sequence[tuple[str, str, str | None]], now: float) -> None:
        """Mark (rule, story_id, note) alerts sent, in one transaction."""
        with self._tx() as db:
            db.executemany(
                "UPDATE alerts SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = ?"
                " WHERE rule = ? AND story_id = ? AND state = 'pending'",
                [(now, note, rule, story_id) for rule, story_id, note in sent],
            )

    def mark_failed(self, rule: str, story_id: str, error: str, now: float, initial: float, maximum: float,
                    undelivered: list[str] | None = None) -> float:
        """Count a failed attempt and schedule the next one; return its time. ``undelivered``: the
        mail reached its other recipients, and the next attempt is for these only."""
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM alerts WHERE rule = ? AND story_id = ?", (rule, story_id)).fetchone()
            attempts = (row["attempts"] if row else 0) + 1
            next_at = now + backoff(attempts, initial, maximum)
            db.execute(
                "UPDATE alerts SET attempts = ?, last_error = ?, next_attempt_at = ?,"
                " undelivered = COALESCE(?, undelivered) WHERE rule = ? AND story_id = ?",
                (attempts, error[:2000], next_at, list_json(undelivered), rule, story_id),
            )
        return next_at

    # Of an alert done with (its mail sent, its digest sent, no channel message still to send), what
    # was the page's own text: once the index's retention has deleted the article, the ledger keeps
    # its title, link and dates for the Alerts page, and its key, so a copy re-crawled is still no
    # second mail.
    _DONE_WITH = ("state = 'sent' AND matched_at < ?"  # a digest's items are sent with it
                  " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.rule = alerts.rule"
                  " AND d.story_id = alerts.story_id AND d.state = 'pending')"
                  " AND NOT EXISTS (SELECT 1 FROM digest_deliveries g WHERE g.digest_id = alerts.digest_id"
                  " AND g.state = 'pending')")

    FORGET_SLICE = 1000  # alerts per transaction: the ingest thread's writes go on between them
    # the slices walk the alerts by time (SQLite's planner, without statistics, would take the state's index
    # and sort the sent alerts again for every slice)
    _BY_TIME = "alerts INDEXED BY alerts_recent"

    def forget_texts(self, before: float) -> int:
        """Empty the text and description of the snapshots of alerts matched before ``before`` and done
        with; return how many."""
        return self._in_slices(
            "UPDATE alerts SET article = json_set(article, '$.text', '', '$.description', '')",
            "json_extract(article, '$.text') != '' OR json_extract(article, '$.description') != ''", before)

    def _in_slices(self, update: str, unforgotten: str, before: float) -> int:
        """``update`` the alerts matched before ``before`` that are done with and ``unforgotten``. All of them
        are read by time, FORGET_SLICE at a time; only a slice with some to update is written: a pass over
        what earlier passes forgot (all but the last day) is short reads that let the ledger's users in."""
        done, after = 0, (float("-inf"), "", "")
        while True:
            with self._read() as db:
                rows = db.execute(
                    f"SELECT rule, story_id, matched_at, ({unforgotten}) AND {self._DONE_WITH} FROM {self._BY_TIME}"
                    # the plain range is what the time index serves; the row value orders the ties at its start
                    " WHERE matched_at < ? AND matched_at >= ? AND (matched_at, rule, story_id) > (?, ?, ?)"
                    " ORDER BY matched_at, rule, story_id LIMIT ?",
                    (before, before, after[0], *after, self.FORGET_SLICE)).fetchall()
            todo = [(row[0], row[1], before) for row in rows if row[3]]
            if todo:
                with self._tx() as db:  # read outside this transaction: the update checks again
                    db.executemany(f"{update} WHERE rule = ? AND story_id = ? AND {self._DONE_WITH}", todo)
            done += len(todo)
            if len(rows) < self.FORGET_SLICE:
                return done
            after = (rows[-1][2], rows[-1][0], rows[-1][1])

    # -- inspection -----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """``{"pending": n, "sent": n, "failing": n, "digests_pending": n}`` for health and the CLI."""
        with self._read() as db:
            out = {"pending": 0, "sent": 0}
            for row in db.execute("SELECT state, COUNT(*) AS n FROM alerts GROUP BY state"):
                out[row["state"]] = row["n"]
            out["digests_pending"] = db.execute(
                "SELECT COUNT(*) FROM digests WHERE state = 'pending'"
            ).fetchone()[0]
        out["failing"] = self._failing("alerts")
        return out | self.delivery_counts()

    def failing(self) -> int:
        """Mails, digests' mails and channel messages waiting for a retry (``/healthz``): read from the
        pending rows alone, however many sent ones the ledger keeps."""
        return self._failing("alerts", "digests", "deliveries", "digest_deliveries")

    def rows(self, rule: str | None = None, state: str | None = None) -> list[AlertRow]:
        sql, args = "SELECT * FROM alerts WHERE 1 = 1", []
        if rule is not None:
            sql += " AND rule = ?"
            args.append(rule)
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY matched_at", args).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    def recent(self, limit: int = 200) -> list[AlertRow]:
        """The newest ``limit`` matches, newest first (the web app's alerts page)."""
        with self._read() as db:
            rows = db.execute("SELECT * FROM alerts ORDER BY matched_at DESC LIMIT ?", (limit,)).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    def last_sent(self) -> dict[str, float]:
        """Each rule's latest accepted delivery (unix time)."""
        # sent_at is set only when a mail went (mark_sent, mark_digest_sent); each rule's newest is one
        # step in (rule, sent_at), and the rules are found by stepping from one name to the next, not by
        # reading every alert ever kept
        with self._read() as db:
            rows = db.execute(
                "WITH RECURSIVE names (rule) AS (SELECT MIN(rule) FROM alerts UNION ALL"
                " SELECT (SELECT MIN(rule) FROM alerts WHERE rule > names.rule) FROM names"
                " WHERE names.rule IS NOT NULL)"
                " SELECT rule, (SELECT MAX(sent_at) FROM alerts WHERE alerts.rule = names.rule) AS at FROM names"
                " WHERE rule IS NOT NULL").fetchall()
        return {r["rule"]: r["at"] for r in rows if r["at"]}
