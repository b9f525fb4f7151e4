"""The frontier: a persistent seen-URL store and the run accounting, in one SQLite file.

``urls`` is keyed by canonical URL (``crawler.urls.canonicalize``). For an article it keeps
first_seen, last_fetched, the lastmod its feed/sitemap gave when it was processed, the
content hash and the last status; a URL with ``done = 1`` is not fetched again unless a
feed/sitemap date newer than what was processed says it changed. For a feed, sitemap or
listing page it keeps the validators (ETag, Last-Modified) and a hash of the body, because
some servers send the same ETag for a changed document.

Exactly-once: the pipeline marks an article done only after the sink's ``submit`` returned
and a ``flush`` after it returned (indexed or spooled); a feed's validators are saved only
when every URL it listed reached a final state, so a crash or a capped run re-reads it next
time and the seen store skips what was finished.

``runs`` keeps one row per source run (counts per status, articles, errors, timing), the
``RunSummary`` that ``crawler.accounting`` made: ``Frontier(path).last_runs()`` is what
``mediawatch sources list`` shows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import structlog

from crawler.accounting import RunSummary, iso, utcnow
from crawler.urls import BadURL, canonicalize

log = structlog.get_logger("crawler.frontier")

__all__ = ["Frontier", "UrlState"]


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass
class UrlState:
    canonical_url: str
    url: str
    source: str
    kind: str
    status: str
    done: bool
    first_seen: datetime | None
    last_fetched: datetime | None
    lastmod: datetime | None
    content_hash: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    etag_unreliable: bool
    last_full_fetch: datetime | None
    fails: int


SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    canonical_url   TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    source          TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL DEFAULT 'article',
    status          TEXT NOT NULL DEFAULT 'discovered',
    done            INTEGER NOT NULL DEFAULT 0,
    first_seen      TEXT NOT NULL,
    last_fetched    TEXT,
    lastmod         TEXT,
    content_hash    TEXT,
    etag            TEXT,
    last_modified   TEXT,
    body_hash       TEXT,
    etag_unreliable INTEGER NOT NULL DEFAULT 0,
    last_full_fetch TEXT,
    fails           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS urls_source ON urls (source, kind);
CREATE TABLE IF NOT EXISTS runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    counts        TEXT NOT NULL DEFAULT '{}',
    articles      INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    reason        TEXT NOT NULL DEFAULT '',
    pages         INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    error_samples TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS runs_source ON runs (source, id);
"""

# The form of the keys, kept in the file's user_version: bumped whenever canonicalize() changes
# what it returns, so a frontier written by an older version is re-keyed when opened.
# 1: w3lib's canonicalize_url (escapes and "//" kept, query spaces as "+").
URL_FORM = 1

_COLS = ("canonical_url, url, source, kind, status, done, first_seen, last_fetched, lastmod, content_hash, "
         "etag, last_modified, body_hash, etag_unreliable, last_full_fetch, fails")


class Frontier:
    """SQLite seen-URL store + run ledger. Safe to open several times on one file (WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 30000")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)
        self._rekey()

    def _rekey(self) -> None:
        """Bring keys written under an older canonical form to the current one, so what an older
        version finished stays finished. Where the old form had folded two URLs into one key, the
        key goes to the URL it was stored with; the other is new to the frontier."""
        with self._lock:
            if self._db.execute("PRAGMA user_version").fetchone()[0] >= URL_FORM:
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = 0
                if self._db.execute("PRAGMA user_version").fetchone()[0] < URL_FORM:
                    for key, url in self._db.execute("SELECT canonical_url, url FROM urls").fetchall():
                        try:
                            new = canonicalize(url if url.startswith(("http://", "https://")) else key)
                        except BadURL:
                            continue
                        if new != key:
                            # OR IGNORE: a row already under the new key (written since) is the newer one
                            moved += self._db.execute("UPDATE OR IGNORE urls SET canonical_url = ? WHERE canonical_url = ?",
                                                      (new, key)).rowcount
                    self._db.execute(f"PRAGMA user_version = {URL_FORM}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if moved:
            log.info("frontier_rekeyed", path=self.path, urls=moved, url_form=URL_FORM)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """Where each statement runs: the one SQLite connection (autocommit), under the lock."""
        with self._lock:
            yield self._db

    # -- seen-URL store ---------------------------------------------------------------
    def get(self, canonical_url: str) -> UrlState | None:
        with self._conn() as db:
            row = db.execute(f"SELECT {_COLS} FROM urls WHERE canonical_url = ?", (canonical_url,)).fetchone()
        if row is None:
            return None
        return UrlState(
            canonical_url=row[0], url=row[1], source=row[2], kind=row[3], status=row[4], done=bool(row[5]),
            first_seen=_dt(row[6]), last_fetched=_dt(row[7]), lastmod=_dt(row[8]), content_hash=row[9],
            etag=row[10], last_modified=row[11], body_hash=row[12], etag_unreliable=bool(row[13]),
            last_full_fetch=_dt(row[14]), fails=row[15],
        )

    def is_fresh(self, canonical_url: str, lastmod: datetime | None = None) -> bool:
        """True when the URL was processed and its (feed/sitemap) date does not say it changed since."""
        state = self.get(canonical_url)
        return self.fresh(state, lastmod)

    @staticmethod
    def fresh(state: UrlState | None, lastmod: datetime | None = None) -> bool:
        if state is None or not state.done:
            return False
        if lastmod is None:
            return True
        reference = state.lastmod or state.last_fetched
        return reference is not None and lastmod <= reference

    def discovered(self, canonical_url: str, url: str, *, source: str, kind: str) -> None:
        """Record first_seen (a no-op for a URL already known)."""
        with self._conn() as db:
            db.execute(
                "INSERT INTO urls (canonical_url, url, source, kind, first_seen) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (canonical_url, url, source, kind, iso(utcnow())),
            )

    def mark_done(
        self,
        canonical_url: str,
        *,
        url: str,
        source: str,
        kind: str,
        status: str,
        lastmod: datetime | None = None,
        content_hash: str | None = None,
        fetched_at: datetime | None = None,
    ) -> None:
        """The URL is finished: not fetched again unless its feed/sitemap date moves past ``lastmod``."""
        now = iso(fetched_at or utcnow())
        with self._conn() as db:
            db.execute(
                """INSERT INTO urls (canonical_url, url, source, kind, status, done, first_seen, last_fetched,
                                     lastmod, content_hash, fails)
                   VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, 0)
                   ON CONFLICT (canonical_url) DO UPDATE SET
                     url = excluded.url, source = excluded.source, kind = excluded.kind,
                     status = excluded.status, done = 1, last_fetched = excluded.last_fetched,
                     lastmod = COALESCE(excluded.lastmod, urls.lastmod),
                     content_hash = COALESCE(excluded.content_hash, urls.content_hash), fails = 0""",
                (canonical_url, url, source, kind, status, now, now, iso(lastmod), content_hash),
            )

    def mark_failed(self, canonical_url: str, *, url: str, source: str, kind: str, status: str,
                    permanent: bool = False) -> None:
        """A failed fetch: counted; a permanent failure (404, hostile XML...) is not retried."""
        now = iso(utcnow())
        with self._conn() as db:
            db.execute(
                """INSERT INTO urls (canonical_url, url, source, kind, status, done, first_seen, last_fetched, fails)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (canonical_url) DO UPDATE SET
                     status = excluded.status, last_fetched = excluded.last_fetched,
                     done = CASE WHEN excluded.done = 1 THEN 1 ELSE urls.done END,
                     fails = urls.fails + 1""",
                (canonical_url, url, source, kind, status, 1 if permanent else 0, now, now),
            )

    # -- feeds, sitemaps, listing pages: validators ------------------------------------
    def save_document(
        self,
        canonical_url: str,
        *,
        url: str,
        source: str,
        kind: str,
        status: str,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        lastmod: datetime | None = None,
        full_fetch: bool = False,
        etag_unreliable: bool | None = None,
    ) -> None:
        """Store a document's validators once everything it listed is finished."""
        now = iso(utcnow())
        with self._conn() as db:
            db.execute(
                """INSERT INTO urls (canonical_url, url, source, kind, status, done, first_seen, last_fetched,
                                     lastmod, etag, last_modified, body_hash, etag_unreliable, last_full_fetch)
                   VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (canonical_url) DO UPDATE SET
                     url = excluded.url, kind = excluded.kind, status = excluded.status, done = 1,
                     last_fetched = excluded.last_fetched,
                     lastmod = COALESCE(excluded.lastmod, urls.lastmod),
                     etag = excluded.etag, last_modified = excluded.last_modified,
                     body_hash = COALESCE(excluded.body_hash, urls.body_hash),
                     etag_unreliable = CASE WHEN excluded.etag_unreliable > urls.etag_unreliable
                                       THEN excluded.etag_unreliable ELSE urls.etag_unreliable END,
                     last_full_fetch = COALESCE(excluded.last_full_fetch, urls.last_full_fetch),
                     fails = 0""",
                (canonical_url, url, source, kind, status, now, now, iso(lastmod), etag, last_modified, body_hash,
                 1 if etag_unreliable else 0, now if full_fetch else None),
            )

    def flag_unreliable_etag(self, canonical_url: str) -> None:
        with self._conn() as db:
            db.execute("UPDATE urls SET etag_unreliable = 1 WHERE canonical_url = ?", (canonical_url,))

    def count(self, *, source: str | None = None, kind: str | None = None, done: bool | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM urls WHERE 1=1", []
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if done is not None:
            sql += " AND done = ?"
            args.append(1 if done else 0)
        with self._conn() as db:
            return db.execute(sql, args).fetchone()[0]

    # -- runs ---------------------------------------------------------------------------
    def begin_run(self, source: str, started_at: datetime) -> int:
        with self._conn() as db:
            row = db.execute("INSERT INTO runs (source, started_at, reason) VALUES (?, ?, 'running') RETURNING id",
                             (source, iso(started_at))).fetchone()
            return int(row[0])

    def finish_run(self, summary: RunSummary) -> None:
        values = (
            iso(summary.finished_at or utcnow()), json.dumps(summary.counts, sort_keys=True), summary.articles,
            summary.errors, 1 if summary.failed else 0, summary.reason, summary.pages, summary.bytes,
            json.dumps(summary.error_samples),
        )
        with self._conn() as db:
            if summary.run_id is None:
                row = db.execute(
                    """INSERT INTO runs (source, started_at, finished_at, counts, articles, errors, failed, reason,
                                         pages, bytes, error_samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       RETURNING id""",
                    (summary.source, iso(summary.started_at), *values),
                ).fetchone()
                summary.run_id = int(row[0])
            else:
                db.execute(
                    """UPDATE runs SET finished_at = ?, counts = ?, articles = ?, errors = ?, failed = ?, reason = ?,
                                       pages = ?, bytes = ?, error_samples = ? WHERE id = ?""",
                    (*values, summary.run_id),
                )

    @staticmethod
    def _summary(row) -> RunSummary:
        return RunSummary(
            run_id=row[0], source=row[1], started_at=_dt(row[2]), finished_at=_dt(row[3]), counts=json.loads(row[4]),
            articles=row[5], errors=row[6], failed=bool(row[7]), reason=row[8], pages=row[9], bytes=row[10],
            error_samples=json.loads(row[11]),
        )

    def last_runs(self) -> dict[str, RunSummary]:
        """Each source's most recent finished run."""
        # A GROUP BY over the table reads every run ever kept (1.5 s at a million); stepping from one
        # source name to the next in the (source, id) index reads a few entries per source.
        with self._conn() as db:
            rows = db.execute(
                """WITH RECURSIVE names (source) AS (
                       SELECT MIN(source) FROM runs
                       UNION ALL
                       SELECT (SELECT MIN(source) FROM runs WHERE source > names.source) FROM names
                       WHERE names.source IS NOT NULL)
                   SELECT id, source, started_at, finished_at, counts, articles, errors, failed, reason, pages,
                          bytes, error_samples
                   FROM runs WHERE id IN (
                       SELECT (SELECT id FROM runs WHERE runs.source = names.source AND finished_at IS NOT NULL
                               ORDER BY id DESC LIMIT 1) FROM names)"""
            ).fetchall()
        return {row[1]: self._summary(row) for row in rows}

    def forget_runs(self, before: datetime) -> int:
        """Delete the finished runs started before ``before``, but for each source's last; return how many."""
        with self._conn() as db:
            return db.execute(
                """DELETE FROM runs WHERE started_at < ? AND finished_at IS NOT NULL
                   AND id NOT IN (SELECT MAX(id) FROM runs WHERE finished_at IS NOT NULL GROUP BY source)""",
                (iso(before),)).rowcount

    def runs(self, source: str, limit: int = 20) -> list[RunSummary]:
        with self._conn() as db:
            rows = db.execute(
                """SELECT id, source, started_at, finished_at, counts, articles, errors, failed, reason, pages,
                          bytes, error_samples FROM runs WHERE source = ? ORDER BY id DESC LIMIT ?""",
                (source, limit),
            ).fetchall()
        return [self._summary(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:  # pragma: no cover
                pass

    def __enter__(self) -> "Frontier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
