"""The alert ledger in PostgreSQL, shared by the daemons of a cluster (the ``cluster:`` section).

Same tables, same SQL and the same life cycle as the SQLite ledger (``ledger``); what changes with
several daemons writing at once:

* "first" is decided by the engine: the (rule, story) row is a conditional insert (``ON CONFLICT DO
  NOTHING``), so of two daemons matching copies of one story at the same instant exactly one gets
  the row (and its delivery rows), whatever the timing;
* a due row is *claimed* before it is sent: the daemon that takes it pushes its ``next_attempt_at``
  ``claim_s`` ahead in the same statement (``FOR UPDATE SKIP LOCKED``), so the other daemons' delivery
  lanes skip it. A daemon killed between the claim and ``mark_sent`` leaves the row pending; another
  sends it once the claim lapses, with the same Message-ID (the same crash window as one daemon's);
* the watermark only moves forward, decided in one statement;
* a write waits for the server (retrying with backoff) rather than dropping a match: the callers are
  the ingest worker and the delivery lanes, on their own threads. Inspection (counts for /healthz,
  the web app's pages) tries once and raises ``EngineUnavailable``, which their callers report.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from functools import wraps
from typing import Any, Callable

from indexer.alerts.ledger import ADDED_COLUMNS, SCHEMA, Ledger
from indexer.alerts.ledger_channels import CHANNEL_SCHEMA, DeliveryRow, DigestDeliveryRow, delivery_row
from indexer.alerts.ledger_rows import AlertRow, DigestRow
from indexer.pgconn import PgConn, Tx, where

# REAL is a 4-byte float in PostgreSQL: unix times need 8
PG_SCHEMA = re.sub(r"\bREAL\b", "DOUBLE PRECISION", SCHEMA + CHANNEL_SCHEMA) + "".join(
    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind};\n" for table, column, kind in ADDED_COLUMNS)

# What waits for the server: the writes, and the delivery lanes' reads (they are on their own threads).
_WAITING = ("rule_since_many", "advance_watermark", "watermark_of", "forget_watermark", "enqueue", "due_instant",
            "mark_sent", "mark_failed", "unassigned_digest_rules", "open_digest", "due_digests", "digest_items",
            "mark_digest_sent", "mark_digest_failed", "due_deliveries", "pending_channels", "next_mail_due",
            "mark_delivered", "mark_delivery_failed", "due_digest_deliveries", "mark_digest_delivered",
            "mark_digest_delivery_failed")


def _waits(method: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(method)
    def waiting(self: "PgLedger", *args: Any, **kwargs: Any) -> Any:
        return self._pg.retrying(lambda: method(self, *args, **kwargs))

    return waiting


class PgLedger(Ledger):
    def __init__(self, dsn: str, domain: str = "mediawatch.local", *, claim_s: float = 60.0,
                 node: str | None = None) -> None:
        self.path = where(dsn)
        self.domain = domain
        self.claim_s = claim_s
        # each daemon's own watermark: what it indexed but had not matched when it died is re-matched
        # from there, by whichever daemon finds it dead (scheduler.cluster)
        self.watermark_key = f"matched_until:{node}" if node else "matched_until"
        self._pg = PgConn(dsn, name="alert ledger")
        self._pg.executescript(PG_SCHEMA)  # one attempt: the daemon's start waits and retries, a command fails

    def _read(self) -> AbstractContextManager[Tx]:  # type: ignore[override]
        return self._pg.read()

    def _tx(self) -> AbstractContextManager[Tx]:  # type: ignore[override]
        return self._pg.tx()

    def close(self) -> None:
        self._pg.close()

    @property
    def engine(self) -> PgConn:
        return self._pg

    def advance_watermark(self, indexed_at: float) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                       " SET value = excluded.value WHERE CAST(meta.value AS DOUBLE PRECISION) < ?",
                       (self.watermark_key, repr(indexed_at), indexed_at))

    def watermark(self) -> float | None:
        return self.watermark_of(self.watermark_key)

    def watermark_of(self, key: str) -> float | None:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return float(row["value"]) if row else None

    def forget_watermark(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def due_instant(self, now: float, limit: int = 500, keys: list[tuple[str, str]] | None = None) -> list[AlertRow]:
        until = now + self.claim_s
        with self._tx() as db:
            if keys is None:
                rows = db.execute(
                    "UPDATE alerts SET next_attempt_at = ? WHERE (rule, story_id) IN ("
                    " SELECT rule, story_id FROM alerts WHERE state = 'pending' AND mode = 'instant'"
                    " AND next_attempt_at <= ? ORDER BY next_attempt_at, matched_at LIMIT ? FOR UPDATE SKIP LOCKED)"
                    " RETURNING *", (until, now, limit)).fetchall()
            else:
                rows = []
                for rule, story_id in keys:
                    rows += db.execute(
                        "UPDATE alerts SET next_attempt_at = ? WHERE rule = ? AND story_id = ? AND state = 'pending'"
                        " AND mode = 'instant' AND next_attempt_at <= ? RETURNING *",
                        (until, rule, story_id, now)).fetchall()
        return sorted((AlertRow.from_row(r) for r in rows), key=lambda a: a.matched_at)

    _BY_TIME = "alerts"  # PostgreSQL's planner has the statistics to choose

    def forget_texts(self, before: float) -> int:
        return self._in_slices(
            "UPDATE alerts SET article = (article::jsonb || '{\"text\": \"\", \"description\": \"\"}')::text",
            "article::jsonb ->> 'text' <> '' OR article::jsonb ->> 'description' <> ''", before)

    def due_digests(self, now: float, limit: int = 100) -> list[DigestRow]:
        with self._tx() as db:
            rows = db.execute(
                "UPDATE digests SET next_attempt_at = ? WHERE digest_id IN ("
                " SELECT digest_id FROM digests WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY period_end LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
                (now + self.claim_s, now, limit)).fetchall()
        return sorted((DigestRow.from_row(r) for r in rows), key=lambda d: d.period_end)

    def due_deliveries(self, now: float, channel: str | None = None, limit: int = 500) -> list[DeliveryRow]:
        inner = "SELECT rule, story_id, channel FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
        args: list[Any] = [now + self.claim_s, now]
        if channel is not None:
            inner += " AND channel = ?"
            args.append(channel)
        with self._tx() as db:
            rows = db.execute(
                "UPDATE deliveries d SET next_attempt_at = ? FROM alerts a"
                " WHERE a.rule = d.rule AND a.story_id = d.story_id AND (d.rule, d.story_id, d.channel) IN ("
                f"{inner} ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)"
                " RETURNING d.rule, d.story_id, d.channel, d.attempts, d.last_error, d.next_attempt_at,"
                " a.query, a.article, a.matched_at", [*args, limit]).fetchall()
        rows.sort(key=lambda r: r["matched_at"])
        return [delivery_row(r) for r in rows]

    def due_digest_deliveries(self, now: float, channel: str, limit: int = 100) -> list[DigestDeliveryRow]:
        with self._tx() as db:
            rows = db.execute(
                "UPDATE digest_deliveries d SET next_attempt_at = ? FROM digests g"
                " WHERE g.digest_id = d.digest_id AND (d.digest_id, d.channel) IN ("
                " SELECT digest_id, channel FROM digest_deliveries WHERE state = 'pending' AND channel = ?"
                " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)"
                " RETURNING d.digest_id, g.rule, g.period_end, d.channel, d.attempts, d.last_error, d.next_attempt_at",
                (now + self.claim_s, channel, now, limit)).fetchall()
        return sorted((DigestDeliveryRow(**dict(r)) for r in rows), key=lambda d: (d.period_end, d.digest_id))


for _name in _WAITING:
    setattr(PgLedger, _name, _waits(getattr(PgLedger, _name)))
del _name
