"""The digest life cycle of the alert ledger: a digest rule's matches wait unassigned until their
period ends, are assigned to that period's digest (one ``digests`` row per rule and boundary, with a
pending message per notify channel), and marking the digest sent marks its items sent in the same
transaction. Mixed into ``Ledger``: it uses its reads and transactions (SQLite or PostgreSQL).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from typing import Callable, Sequence

from indexer.alerts.ledger_channels import insert_digest_deliveries
from indexer.alerts.ledger_rows import AlertRow, DigestRow, backoff, digest_message_id, list_json


class DigestLedger:
    domain: str
    install: str
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def unassigned_digest_rules(self) -> list[tuple[str, str, float]]:
        """(rule, schedule, oldest matched_at) of rules with digest items not yet in a digest."""
        with self._read() as db:
            rows = db.execute(
                "SELECT rule, schedule, MIN(matched_at) AS oldest FROM alerts"
                " WHERE state = 'pending' AND mode != 'instant' AND digest_id IS NULL GROUP BY rule, schedule"
            ).fetchall()
        return [(r["rule"], r["schedule"], r["oldest"]) for r in rows]

    def open_digest(self, rule: str, digest_key: str, period_end: float, recipients: list[str], now: float,
                    channels: Sequence[str] = ()) -> str | None:
        """Assign the rule's unassigned items matched before ``period_end`` to the digest of that
        boundary (created if needed), with a pending message per channel id in ``channels``. Returns the
        digest id, or None when there was nothing to send. A digest with no recipients (a rule that
        only notifies channels) has no mail: it is recorded sent, its channel messages pending."""
        digest_id = f"{rule}@{digest_key}"
        install = self.install
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET digest_id = ?, message_id = ? WHERE rule = ? AND state = 'pending'"
                " AND mode != 'instant' AND digest_id IS NULL AND matched_at < ?",
                (digest_id, digest_message_id(rule, digest_key, self.domain, install), rule, period_end),
            )
            if cur.rowcount == 0:
                return None
            if not recipients:
                row = db.execute(
                    "SELECT recipients FROM alerts WHERE digest_id = ? ORDER BY matched_at DESC LIMIT 1", (digest_id,)
                ).fetchone()
                recipients = json.loads(row["recipients"])
            db.execute(
                "INSERT INTO digests (digest_id, rule, period_end, state, message_id, next_attempt_at,"
                " created_at, recipients) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (digest_id, rule, period_end, digest_message_id(rule, digest_key, self.domain, install), now, now,
                 json.dumps(list(recipients))),
            )
            insert_digest_deliveries(db, digest_id, channels, now)
            if not recipients:
                db.execute("UPDATE digests SET state = 'sent', sent_at = ?, last_error = 'no recipients'"
                           " WHERE digest_id = ? AND state = 'pending'", (now, digest_id))
                db.execute("UPDATE alerts SET state = 'sent', sent_at = ? WHERE digest_id = ? AND state = 'pending'",
                           (now, digest_id))
        return digest_id

    def due_digests(self, now: float, limit: int = 100) -> list[DigestRow]:
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM digests WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY period_end LIMIT ?",
                (now, limit),
            ).fetchall()
        return [DigestRow.from_row(r) for r in rows]

    def digest_items(self, digest_id: str) -> list[AlertRow]:
        """The digest's alerts, newest article first (published, else indexed, else matched time)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM alerts WHERE digest_id = ?"
                " ORDER BY COALESCE(published_at, indexed_at, matched_at) DESC, article_id",
                (digest_id,),
            ).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    def mark_digest_sent(self, digest_id: str, now: float, note: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE digests SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = ?"
                " WHERE digest_id = ?",
                (now, note, digest_id),
            )
            db.execute(
                "UPDATE alerts SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE digest_id = ?",
                (now, digest_id),
            )

    def mark_digest_failed(self, digest_id: str, error: str, now: float, initial: float, maximum: float,
                           undelivered: list[str] | None = None) -> float:
        """As ``Ledger.mark_failed``, for a digest."""
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM digests WHERE digest_id = ?", (digest_id,)).fetchone()
            attempts = (row["attempts"] if row else 0) + 1
            next_at = now + backoff(attempts, initial, maximum)
            db.execute(
                "UPDATE digests SET attempts = ?, last_error = ?, next_attempt_at = ?,"
                " undelivered = COALESCE(?, undelivered) WHERE digest_id = ?",
                (attempts, error[:2000], next_at, list_json(undelivered), digest_id),
            )
        return next_at
