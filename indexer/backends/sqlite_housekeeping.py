"""The embedded index's housekeeping: retention and FTS5 segment merging, in slices that let the writer in.

Mixed into :class:`indexer.backends.sqlite.SqliteBackend`, whose connection (``db``) and lock it uses.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import structlog

from indexer.article import utcnow
from indexer.backends import sqlite_stories
from indexer.backends.sqlite_schema import date_str
from indexer.sqlitetx import rollback

log = structlog.get_logger("indexer.backends.sqlite")

RETENTION_SLICE = 1000  # articles deleted per transaction: the Ingestor's writes go in between
# The lock is not fair: released and at once taken again, a waiting writer never gets it. After each slice
# the pass pauses twice as long as the slice took (at least a little): writers hold the lock two thirds of
# the time, and the pass (FTS5 re-tokenises every deleted row) takes a third of the CPU it competes for.
_RETENTION_YIELD_S = (0.005, 10.0)
_RETENTION_PAUSE = 2.0  # x the slice's time
_MERGE_PAGES = 500  # leaf pages of FTS5 segment merging per slice of maintenance
_MERGE_PASS_S = 1800.0


def _yield_lock(took: float) -> None:
    """Between two slices of a long pass (retention, segment merging): the write lock is not fair, so
    the pass stands aside for twice as long as its slice held it, and writers get their turn."""
    time.sleep(min(max(_RETENTION_YIELD_S[0], _RETENTION_PAUSE * took), _RETENTION_YIELD_S[1]))


class SqliteHousekeeping:
    """Retention and maintenance of :class:`~indexer.backends.sqlite.SqliteBackend` (which sets
    ``retention_slice``)."""

    def delete_older_than(self, days: int) -> int:
        """In slices of ``retention_slice`` articles, one transaction each, with pauses twice as long as the slices
        between them: ingest goes on during the pass."""
        self._ensure()
        if days < 0:
            raise ValueError("days must be >= 0")
        cutoff = date_str(utcnow() - timedelta(days=days))
        n = slices = 0
        dropped: list[str] = []
        while True:
            started = time.monotonic()
            with self._lock:
                db = self.db
                db.execute("BEGIN IMMEDIATE")
                try:
                    rows = db.execute("SELECT seq, tkey, story_keys, effective_at FROM articles"
                                      " WHERE effective_at < ? ORDER BY effective_at LIMIT ?",
                                      (cutoff, self.retention_slice)).fetchall()
                    seqs, keys = [r[0] for r in rows], [r[1] for r in rows]
                    marks = ", ".join("?" * len(rows))
                    if rows:
                        db.execute(f"DELETE FROM articles_fts WHERE rowid IN ({marks})", keys)
                        sqlite_stories.delete(db, [(r[0], r[2], r[3]) for r in rows])
                        db.execute(f"DELETE FROM articles WHERE seq IN ({marks})", seqs)
                    else:  # the pass is done: the months it emptied go, so lookups and the file forget them
                        dropped = sqlite_stories.drop_before(db, sqlite_stories.seconds(cutoff))
                    db.execute("COMMIT")
                except BaseException:
                    rollback(db)
                    raise
            if not rows:
                break
            n += len(rows)
            slices += 1
            took = time.monotonic() - started
            _yield_lock(took)
        if n or dropped:
            log.info("index.retention", deleted=n, days=days, slices=slices, dropped_band_tables=len(dropped),
                     backend="sqlite")
        return n

    def maintenance(self) -> dict[str, Any]:
        """FTS5's segments merged into one, as its 'optimize' would, but in slices of FTS5's incremental
        'merge' with pauses like retention's: 'optimize' rewrites the whole index in one statement, which
        holds the write lock for minutes at a million articles. Deletes leave their marks in the segments
        until a merge drops them; searches that probe a word's list row by row pay for every mark.
        A pass stops after ``_MERGE_PASS_S`` even if writers keep adding segments."""
        self._ensure()
        slices, started = 0, time.monotonic()
        while time.monotonic() - started < _MERGE_PASS_S:
            t0 = time.monotonic()
            with self._lock:
                before = self.db.total_changes
                # a negative page count merges whatever segments there are, not only full levels
                self.db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('merge', ?)", (-_MERGE_PAGES,))
                worked = self.db.total_changes - before >= 2  # FTS5's documented sign of work done
            if not worked:
                break
            slices += 1
            took = time.monotonic() - t0
            _yield_lock(took)
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        log.info("index.maintenance", backend="sqlite", merge_slices=slices, s=round(time.monotonic() - started, 1))
        return {"merge_slices": slices}
