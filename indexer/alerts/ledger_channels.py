"""The channel dimension of the ledger: one ``deliveries`` row per (rule, story, channel) of an instant
rule, one ``digest_deliveries`` row per (digest, channel) of a digest rule.

An alert row (``alerts``, see ``ledger``) is the story's match and its mail; each ``notify`` channel of an
instant rule gets a delivery row, written in the same transaction as the alert row, so a match is never
recorded without its channels. A digest rule's channels get theirs when the period's digest is opened, in
the transaction that assigns the period's stories to it: one message per channel and period, listing
the digest's stories, whether the mail digest went out or not. The life cycle is the mail's: ``pending``
before any send, ``sent`` once the service answered 2xx, a failure keeps it pending with ``attempts``,
``last_error`` and a backed-off ``next_attempt_at``. ``dropped`` is for a delivery whose channel was removed from the rule before it went
out (the URL is not stored, only its hash, so there is nowhere left to send it).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable, Sequence

from indexer.article import Article

CHANNEL_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    rule            TEXT NOT NULL,
    story_id        TEXT NOT NULL,
    channel         TEXT NOT NULL,              -- channels.channel_id(url): the URL holds secrets
    state           TEXT NOT NULL,              -- pending | sent | dropped
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at REAL NOT NULL,
    sent_at         REAL,
    PRIMARY KEY (rule, story_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, channel, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_recent ON deliveries ((COALESCE(sent_at, next_attempt_at)));
CREATE TABLE IF NOT EXISTS digest_deliveries (
    digest_id       TEXT NOT NULL,              -- digests.digest_id: (rule, period boundary)
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,              -- pending | sent | dropped
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at REAL NOT NULL,
    sent_at         REAL,
    PRIMARY KEY (digest_id, channel)
);
CREATE INDEX IF NOT EXISTS digest_deliveries_due ON digest_deliveries (state, channel, next_attempt_at);
CREATE INDEX IF NOT EXISTS digest_deliveries_recent ON digest_deliveries ((COALESCE(sent_at, next_attempt_at)));
"""


@dataclass
class DeliveryRow:
    rule: str
    story_id: str
    channel: str
    attempts: int
    last_error: str | None
    next_attempt_at: float
    query: str
    article: Article  # the copy the alert was recorded with

    @property
    def article_id(self) -> str:
        return self.article.id


@dataclass
class DigestDeliveryRow:
    """One channel's message for one digest (rule, period)."""

    digest_id: str
    rule: str
    period_end: float
    channel: str
    attempts: int
    last_error: str | None
    next_attempt_at: float


@dataclass
class ChannelMessageRow:
    """One channel message as the web app lists it: a story's (``article``, the copy recorded) or a
    digest's (``article`` None)."""
    rule: str
    article: Article | None
    channel: str
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: float
    sent_at: float | None


def insert_digest_deliveries(db: sqlite3.Connection, digest_id: str, channels: Sequence[str], now: float) -> None:
    """Inside the transaction that opened the digest."""
    db.executemany(
        "INSERT INTO digest_deliveries (digest_id, channel, state, next_attempt_at)"
        " VALUES (?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
        [(digest_id, channel, now) for channel in channels],
    )


def delivery_row(r) -> DeliveryRow:
    """A row of ``deliveries`` joined with its alert's query and article."""
    return DeliveryRow(rule=r["rule"], story_id=r["story_id"], channel=r["channel"], attempts=r["attempts"],
                       last_error=r["last_error"], next_attempt_at=r["next_attempt_at"], query=r["query"],
                       article=Article.from_dict(json.loads(r["article"])))


def insert_deliveries(db: sqlite3.Connection, rule: str, story_id: str, channels: Sequence[str],
                      now: float) -> None:
    """Inside the transaction that wrote the (new) alert row."""
    db.executemany(
        "INSERT INTO deliveries (rule, story_id, channel, state, next_attempt_at)"
        " VALUES (?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
        [(rule, story_id, channel, now) for channel in channels],
    )


class ChannelLedger:
    """Mixed into ``Ledger``: uses its reads and transactions (SQLite or PostgreSQL)."""

    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def due_deliveries(self, now: float, channel: str | None = None, limit: int = 500) -> list[DeliveryRow]:
        """Pending deliveries whose next attempt is due, oldest first (of one channel, or all)."""
        sql = ("SELECT d.rule, d.story_id, d.channel, d.attempts, d.last_error, d.next_attempt_at,"
               " a.query, a.article FROM deliveries d JOIN alerts a ON a.rule = d.rule AND a.story_id = d.story_id"
               " WHERE d.state = 'pending' AND d.next_attempt_at <= ?")
        args: list = [now]
        if channel is not None:
            sql += " AND d.channel = ?"
            args.append(channel)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY d.next_attempt_at, a.matched_at LIMIT ?", [*args, limit]).fetchall()
        return [delivery_row(r) for r in rows]

    def pending_channels(self) -> dict[str, float]:
        """Channel → its earliest next attempt, over pending deliveries (stories and digests)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT channel, MIN(due) AS due FROM ("
                " SELECT channel, MIN(next_attempt_at) AS due FROM deliveries WHERE state = 'pending' GROUP BY channel"
                " UNION ALL SELECT channel, MIN(next_attempt_at) FROM digest_deliveries WHERE state = 'pending'"
                " GROUP BY channel) AS pending GROUP BY channel").fetchall()
        return {r["channel"]: r["due"] for r in rows}

    def due_digest_deliveries(self, now: float, channel: str, limit: int = 100) -> list[DigestDeliveryRow]:
        """The channel's pending digest messages whose next attempt is due, oldest period first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT d.digest_id, g.rule, g.period_end, d.channel, d.attempts, d.last_error, d.next_attempt_at"
                " FROM digest_deliveries d JOIN digests g ON g.digest_id = d.digest_id"
                " WHERE d.state = 'pending' AND d.channel = ? AND d.next_attempt_at <= ?"
                " ORDER BY g.period_end, d.digest_id LIMIT ?", (channel, now, limit)).fetchall()
        return [DigestDeliveryRow(**dict(r)) for r in rows]

    def mark_digest_delivered(self, row: DigestDeliveryRow, now: float, state: str = "sent",
                              note: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE digest_deliveries SET state = ?, sent_at = ?, attempts = attempts + 1, last_error = ?"
                " WHERE digest_id = ? AND channel = ? AND state = 'pending'",
                (state, now, note, row.digest_id, row.channel),
            )

    def mark_digest_delivery_failed(self, row: DigestDeliveryRow, error: str, next_at: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE digest_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE digest_id = ? AND channel = ?",
                (error[:2000], next_at, row.digest_id, row.channel),
            )

    def next_mail_due(self) -> float | None:
        """The earliest next attempt of a pending instant mail or digest (None: nothing pending)."""
        with self._read() as db:
            a = db.execute("SELECT MIN(next_attempt_at) FROM alerts WHERE state = 'pending'"
                                 " AND mode = 'instant'").fetchone()[0]
            d = db.execute("SELECT MIN(next_attempt_at) FROM digests WHERE state = 'pending'").fetchone()[0]
        return min((x for x in (a, d) if x is not None), default=None)

    def mark_delivered(self, row: DeliveryRow, now: float, state: str = "sent", note: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET state = ?, sent_at = ?, attempts = attempts + 1, last_error = ?"
                " WHERE rule = ? AND story_id = ? AND channel = ? AND state = 'pending'",
                (state, now, note, row.rule, row.story_id, row.channel),
            )

    def mark_delivery_failed(self, row: DeliveryRow, error: str, next_at: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE rule = ? AND story_id = ? AND channel = ?",
                (error[:2000], next_at, row.rule, row.story_id, row.channel),
            )

    def delivery_counts(self) -> dict[str, int]:
        """Channel messages by state, a story's and a digest's alike."""
        out = {"deliveries_pending": 0, "deliveries_sent": 0}
        with self._read() as db:
            for table in ("deliveries", "digest_deliveries"):  # each counted in its (state, ...) index
                for r in db.execute(f"SELECT state, COUNT(*) AS n FROM {table} GROUP BY state"):
                    out[f"deliveries_{r['state']}"] = out.get(f"deliveries_{r['state']}", 0) + r["n"]
        out["deliveries_failing"] = self._failing("deliveries", "digest_deliveries")
        return out

    def _failing(self, *tables: str) -> int:
        """Rows waiting for a retry: a pending row's attempts count its failures."""
        with self._read() as db:
            return sum(db.execute(f"SELECT COUNT(*) FROM {table} WHERE state = 'pending' AND attempts > 0").fetchone()[0]
                       for table in tables)

    def recent_messages(self, limit: int = 200) -> list[ChannelMessageRow]:
        """The newest channel messages, a story's and a digest's alike: sent, waiting or failing."""
        with self._read() as db:
            # each table's newest from its index on that time, then the two merged: not every message
            # ever kept sorted for a page of 200
            rows = db.execute(
                "SELECT * FROM ("
                " SELECT d.rule, a.article AS about, d.channel, d.state, d.attempts, d.last_error,"
                " d.next_attempt_at, d.sent_at FROM (SELECT * FROM deliveries"
                "  ORDER BY COALESCE(sent_at, next_attempt_at) DESC LIMIT ?) AS d"
                " JOIN alerts a ON a.rule = d.rule AND a.story_id = d.story_id"
                " UNION ALL SELECT g.rule, NULL, d.channel, d.state, d.attempts, d.last_error, d.next_attempt_at,"
                " d.sent_at FROM (SELECT * FROM digest_deliveries"
                "  ORDER BY COALESCE(sent_at, next_attempt_at) DESC LIMIT ?) AS d"
                " JOIN digests g ON g.digest_id = d.digest_id) AS messages"
                " ORDER BY COALESCE(sent_at, next_attempt_at) DESC LIMIT ?", (limit, limit, limit)).fetchall()
        return [ChannelMessageRow(r["rule"], Article.from_dict(json.loads(r["about"])) if r["about"] else None,
                                  r["channel"], r["state"], r["attempts"], r["last_error"], r["next_attempt_at"],
                                  r["sent_at"]) for r in rows]

    def deliveries(self, rule: str | None = None) -> list[tuple[str, str, str, str, int]]:
        """(rule, story_id, channel, state, attempts) of every delivery, for inspection."""
        sql, args = "SELECT rule, story_id, channel, state, attempts FROM deliveries", []
        if rule is not None:
            sql, args = sql + " WHERE rule = ?", [rule]
        with self._read() as db:
            return [tuple(r) for r in db.execute(sql + " ORDER BY rule, story_id, channel", args)]

    def digest_deliveries(self, rule: str | None = None) -> list[tuple[str, str, str, int]]:
        """(digest_id, channel, state, attempts) of every digest message, for inspection."""
        sql = ("SELECT d.digest_id, d.channel, d.state, d.attempts FROM digest_deliveries d"
               " JOIN digests g ON g.digest_id = d.digest_id")
        args: list = []
        if rule is not None:
            sql, args = sql + " WHERE g.rule = ?", [rule]
        with self._read() as db:
            return [tuple(r) for r in db.execute(sql + " ORDER BY d.digest_id, d.channel", args)]
