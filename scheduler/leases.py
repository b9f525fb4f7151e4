"""Who crawls which source, when several daemons share one PostgreSQL (the ``cluster:`` section).

``cluster_sources`` has a row per source: when it is next due, and the daemon holding it until when.
A daemon takes due sources with ``SELECT … FOR UPDATE SKIP LOCKED`` (two daemons never take the same
row; neither waits for the other), renews its leases while it crawls, and releases each with the
source's next due time. A daemon that dies stops renewing: its leases lapse, and the next daemon to
look takes the sources over (counted in ``takeovers``). Every time is the engine's clock (``now()``),
so the daemons' clocks need not agree.

``cluster_daemons`` has a row per live daemon, its heartbeat renewed every tick; a row silent for two
leases is reaped by the next daemon to look (one that has itself been beating for a while: after an
outage of the engine, the others need the time to get through again), which re-matches what the dead
one may have indexed without matching (see ``scheduler.cluster``). A daemon takes its
share of what is due (what is due over the daemons alive), so the work spreads without any daemon
knowing the others, and a daemon that joins takes work at its next tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from indexer.pgconn import PgConn

SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_daemons (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat   TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_s     DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_sources (
    name          TEXT PRIMARY KEY,
    next_due      TIMESTAMPTZ NOT NULL,
    holder        TEXT,
    lease_until   TIMESTAMPTZ,
    taken_at      TIMESTAMPTZ,
    last_holder   TEXT,
    last_finished TIMESTAMPTZ,
    runs          BIGINT NOT NULL DEFAULT 0,
    takeovers     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cluster_sources_due ON cluster_sources (next_due)
"""


@dataclass
class Tick:
    """What one heartbeat saw: the daemons alive and the sources due that nobody holds."""

    alive: int
    due: int


class Leases:
    """One daemon's side of the lease table. Every call may raise ``EngineUnavailable``; the daemon
    runs them off the event loop and carries on with what it holds."""

    def __init__(self, dsn: str, *, node: str, host: str, pid: int, lease_s: float) -> None:
        self.node = node
        self.host = host
        self.pid = pid
        self.lease_s = float(lease_s)
        self.pg = PgConn(dsn, name="leases")

    def open(self) -> None:
        self.pg.executescript(SCHEMA)

    def heartbeat(self) -> Tick:
        with self.pg.tx() as db:
            db.execute("INSERT INTO cluster_daemons (id, host, pid, lease_s) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (id) DO UPDATE SET heartbeat = now(), host = excluded.host, pid = excluded.pid",
                       (self.node, self.host, self.pid, self.lease_s))
            alive = db.execute("SELECT COUNT(*) FROM cluster_daemons"
                               " WHERE heartbeat > now() - make_interval(secs => lease_s)").fetchone()[0]
            due = db.execute("SELECT COUNT(*) FROM cluster_sources WHERE next_due <= now()"
                             " AND (holder IS NULL OR lease_until < now())").fetchone()[0]
        return Tick(alive=max(1, int(alive)), due=int(due))

    def register(self, names: list[str]) -> None:
        """The table follows the config (the same for every daemon): its new sources are due now, the
        ones it no longer has go (a held one when its crawl ends). Called at start and on a change, so
        ``take`` needs no list of names: it stays one index range scan however many sources there are."""
        with self.pg.tx() as db:
            db.execute("INSERT INTO cluster_sources (name, next_due) SELECT unnest(?::text[]), now()"
                       " ON CONFLICT DO NOTHING", (list(names),))
            db.execute("DELETE FROM cluster_sources WHERE holder IS NULL AND NOT (name = ANY(?::text[]))",
                       (list(names),))

    def forget(self, name: str) -> None:
        """A source this daemon's config does not have (removed, or not yet reloaded here): a daemon
        whose config has it registers it again; until then nobody takes it."""
        with self.pg.tx() as db:
            db.execute("DELETE FROM cluster_sources WHERE name = ? AND holder = ?", (name, self.node))

    def make_due(self, name: str) -> bool:
        """Due now ("crawl now"): taken at the next tick of a daemon with room, unless one holds it."""
        with self.pg.tx() as db:
            return db.execute("UPDATE cluster_sources SET next_due = now() WHERE name = ?", (name,)).rowcount == 1

    @staticmethod
    def share(tick: Tick, free: int) -> int:
        """How many due sources one daemon takes now: its share of what is due, within its free slots."""
        return max(0, min(free, math.ceil(tick.due / tick.alive)))

    def take(self, limit: int) -> list[str]:
        """Lease up to ``limit`` due sources, oldest due first."""
        if limit <= 0:
            return []
        with self.pg.tx() as db:
            rows = db.execute(
                "WITH due AS (SELECT name FROM cluster_sources WHERE next_due <= now()"
                " AND (holder IS NULL OR lease_until < now()) ORDER BY next_due LIMIT ? FOR UPDATE SKIP LOCKED)"
                " UPDATE cluster_sources s SET holder = ?, lease_until = now() + make_interval(secs => ?),"
                " taken_at = now(), takeovers = s.takeovers + CASE WHEN s.holder IS NULL THEN 0 ELSE 1 END"
                " FROM due WHERE s.name = due.name RETURNING s.name",
                (limit, self.node, self.lease_s)).fetchall()
        return [r[0] for r in rows]

    def renew(self, names: list[str]) -> list[str]:
        """Extend the leases on ``names``; the ones still ours (a lease that lapsed may have been taken)."""
        if not names:
            return []
        with self.pg.tx() as db:
            rows = db.execute(
                "UPDATE cluster_sources SET lease_until = now() + make_interval(secs => ?)"
                " WHERE name = ANY(?) AND holder = ? RETURNING name", (self.lease_s, list(names), self.node)).fetchall()
        return [r[0] for r in rows]

    def release(self, name: str, *, every_s: float | None = None, next_due: datetime | None = None,
                ran: bool = True) -> bool:
        """Give the source back, due ``every_s`` after this run was taken (or at ``next_due``, a cron
        schedule); ``ran=False`` (a crawl cut short by a stop) leaves it due as it was, for another daemon."""
        with self.pg.tx() as db:
            if not ran:
                sql, args = ("UPDATE cluster_sources SET holder = NULL, lease_until = NULL"
                             " WHERE name = ? AND holder = ?", (name, self.node))
            elif next_due is not None:
                sql, args = ("UPDATE cluster_sources SET holder = NULL, lease_until = NULL, next_due = ?,"
                             " last_holder = holder, last_finished = now(), runs = runs + 1"
                             " WHERE name = ? AND holder = ?", (next_due, name, self.node))
            else:
                sql, args = ("UPDATE cluster_sources SET holder = NULL, lease_until = NULL,"
                             " next_due = taken_at + make_interval(secs => ?), last_holder = holder,"
                             " last_finished = now(), runs = runs + 1 WHERE name = ? AND holder = ?",
                             (float(every_s or 0), name, self.node))
            return db.execute(sql, args).rowcount == 1

    def reap(self) -> list[tuple[str, float]]:
        """Daemons silent for two leases (killed, or cut off): their rows removed, by one daemon only;
        their ids and start times (unix), for the caller to redo what they may have left undone."""
        with self.pg.tx() as db:
            rows = db.execute(
                "DELETE FROM cluster_daemons WHERE id IN (SELECT id FROM cluster_daemons WHERE id <> ?"
                " AND heartbeat < now() - make_interval(secs => 2 * lease_s) FOR UPDATE SKIP LOCKED)"
                " RETURNING id, EXTRACT(EPOCH FROM started_at)", (self.node,)).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def leave(self) -> None:
        """A clean stop: whatever is still held goes back as it was, and the daemon's row goes."""
        with self.pg.tx() as db:
            db.execute("UPDATE cluster_sources SET holder = NULL, lease_until = NULL WHERE holder = ?", (self.node,))
            db.execute("DELETE FROM cluster_daemons WHERE id = ?", (self.node,))

    def close(self) -> None:
        self.pg.close()


def status(pg: PgConn) -> dict[str, Any]:
    """``mediawatch cluster status``: the daemons, the leases they hold, and the lag."""
    with pg.read() as db:
        daemons = db.execute(
            "SELECT d.id, d.host, d.pid, d.started_at, d.heartbeat, EXTRACT(EPOCH FROM now() - d.heartbeat) AS age,"
            " d.heartbeat > now() - make_interval(secs => d.lease_s) AS alive,"
            " (SELECT COUNT(*) FROM cluster_sources s WHERE s.holder = d.id AND s.lease_until >= now()) AS leases"
            " FROM cluster_daemons d ORDER BY d.id").fetchall()
        leases = db.execute(
            "SELECT name, holder, EXTRACT(EPOCH FROM lease_until - now()) AS left_s, taken_at FROM cluster_sources"
            " WHERE holder IS NOT NULL ORDER BY holder, name").fetchall()
        lag = db.execute(
            "SELECT COUNT(*) AS due, EXTRACT(EPOCH FROM now() - MIN(next_due)) AS oldest_s FROM cluster_sources"
            " WHERE next_due <= now() AND (holder IS NULL OR lease_until < now())").fetchone()
        totals = db.execute("SELECT COUNT(*), COALESCE(SUM(runs), 0), COALESCE(SUM(takeovers), 0)"
                            " FROM cluster_sources").fetchone()
    return {
        "daemons": [{"id": r["id"], "host": r["host"], "pid": r["pid"], "started_at": r["started_at"].isoformat(),
                     "heartbeat": r["heartbeat"].isoformat(), "heartbeat_age_s": round(float(r["age"]), 1),
                     "alive": bool(r["alive"]), "leases": int(r["leases"])} for r in daemons],
        "leases": [{"source": r["name"], "holder": r["holder"], "expires_in_s": round(float(r["left_s"]), 1),
                    "taken_at": r["taken_at"].isoformat() if r["taken_at"] else None} for r in leases],
        "lag": {"due_not_taken": int(lag["due"]),
                "oldest_due_s": round(float(lag["oldest_s"]), 1) if lag["oldest_s"] is not None else 0.0},
        "sources": int(totals[0]), "runs": int(totals[1]), "takeovers": int(totals[2]),
    }
