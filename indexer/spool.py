"""The durable spool: articles waiting for the backend, and the quarantine of rejected ones.

One SQLite file (``<spool_path>/spool.sqlite3``, WAL, ``synchronous=FULL`` so every append is fsync'd
before it returns). ``pending`` is append-only with a monotonic ``seq``: :meth:`Spool.peek` hands entries
out oldest first and :meth:`Spool.ack` removes them once the backend has them, so a replay is in order, and
a crash between indexing and ack only re-sends documents that upsert onto themselves (exactly once in the
index). ``quarantine`` keeps each rejected article with the backend's reason (latest per id).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from indexer.article import Article, utcnow
from indexer.sqlitetx import rollback

SPOOL_FILE = "spool.sqlite3"


@dataclass
class SpoolEntry:
    seq: int
    article: Article


@dataclass
class QuarantineEntry:
    id: str
    url: str
    reason: str
    at: str
    article: Article | None


class Spool:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        path = Path(path).expanduser()
        if path.suffix in (".sqlite3", ".sqlite", ".db"):
            self.file = path
        else:
            self.file = path / SPOOL_FILE
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.file), timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, "
            "payload TEXT NOT NULL, spooled_at TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS quarantine (id TEXT PRIMARY KEY, url TEXT, reason TEXT NOT NULL, "
            "payload TEXT, at TEXT NOT NULL)"
        )

    # ------------------------------------------------------------------ pending
    def append(self, articles: Iterable[Article]) -> int:
        """Durably add articles at the end; returns how many."""
        now = utcnow().isoformat()
        rows = [(a.id, json.dumps(a.to_dict(), ensure_ascii=False), now) for a in articles]
        if not rows:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO pending (id, payload, spooled_at) VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                rollback(self._db)
                raise
        return len(rows)

    def peek(self, limit: int = 500) -> list[SpoolEntry]:
        """The oldest ``limit`` entries, in order (not removed)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, payload FROM pending ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [SpoolEntry(seq, Article.from_dict(json.loads(payload))) for seq, payload in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Remove delivered entries."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = 0
                for i in range(0, len(seqs), 500):
                    chunk = seqs[i:i + 500]
                    n += self._db.execute(
                        f"DELETE FROM pending WHERE seq IN ({', '.join('?' * len(chunk))})", chunk).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                rollback(self._db)
                raise
        return n

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def __len__(self) -> int:
        return self.depth()

    def oldest(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT spooled_at FROM pending ORDER BY seq LIMIT 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    # ------------------------------------------------------------------ quarantine
    def quarantine(self, article: Article | None, reason: str, *, id: str | None = None) -> None:
        doc_id = id or (article.id if article else "")
        payload = json.dumps(article.to_dict(), ensure_ascii=False) if article else None
        with self._lock:
            self._db.execute(
                "INSERT INTO quarantine (id, url, reason, payload, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET url=excluded.url, reason=excluded.reason, "
                "payload=excluded.payload, at=excluded.at",
                (doc_id, article.url if article else None, reason, payload, utcnow().isoformat()),
            )

    def quarantined(self, limit: int = 1000) -> list[QuarantineEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, url, reason, at, payload FROM quarantine ORDER BY at LIMIT ?", (limit,)).fetchall()
        return [QuarantineEntry(i, u or "", r, at, Article.from_dict(json.loads(p)) if p else None)
                for i, u, r, at, p in rows]

    def release(self, id: str) -> bool:
        """Drop an article from the quarantine (after fixing it or giving up)."""
        with self._lock:
            return self._db.execute("DELETE FROM quarantine WHERE id = ?", (id,)).rowcount > 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            q = self._db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        oldest = self.oldest()
        return {"path": str(self.file), "pending": self.depth(), "quarantined": int(q),
                "oldest_pending": oldest.isoformat() if oldest else None}

    def close(self) -> None:
        with self._lock:
            self._db.close()
