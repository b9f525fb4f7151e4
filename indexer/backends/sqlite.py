"""The embedded index: one SQLite file, articles in a table derived from ``FIELDS``, FTS5 for search.

Search never sees the user's string: the FTS5 table holds OUR tokens (see :mod:`indexer.query`) — the
space-separated folded tokens of title, text and description in columns of the same name (``ascii``
tokenizer, so it splits on the spaces only) and a ``kw`` column with one hex token per keyword value
plus the constant ``zzall`` token — and the MATCH expression comes from :func:`indexer.query.to_fts5`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from indexer.article import Article, DATE_FIELDS, FIELDS, LIST_FIELDS, STORY_STATE_FIELDS, parse_iso, utcnow
from indexer.sqlitetx import rollback
from indexer.backends.base import (
    INT32, Backend, BackendError, BackendUnavailable, Hit, IndexResult, Node, Sort, as_utc, effective_at,
    finite_limit, snippet_of, to_node,
)
from indexer.query import (
    ALL_TOKEN, FTS_KW_COLUMN, FTS_TEXT_COLUMNS, Terms, article_keywords, folded_text, kw_token, to_fts5,
)
from indexer.stories import DEFAULT_WINDOW, Known, Stories, decode

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 2  # 2: story_keys table, story_id index
_SQL_TYPES = {"text": "TEXT", "keyword": "TEXT", "date": "TEXT", "integer": "INTEGER", "stored": "TEXT"}
_COLUMNS = list(FIELDS)
_READ_COLUMNS = [c for c in _COLUMNS if c not in STORY_STATE_FIELDS]
_STATE_COLUMNS = "id, story_id, version, content_hash, story_sig, story_keys, effective_at, published_at, " \
                 "published_at_source, modified_at"
_CHUNK = 500  # ids or keys per IN (...) list
_FTS_COLUMNS = (*FTS_TEXT_COLUMNS, FTS_KW_COLUMN)


def _date_str(value: datetime | None) -> str | None:
    """Fixed-width UTC ISO string: sorts and compares as text."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 story_window: timedelta = DEFAULT_WINDOW) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.stories = Stories(story_window)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._initialised = False

    # ------------------------------------------------------------------ plumbing
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False, isolation_level=None)
            except sqlite3.OperationalError as err:
                raise BackendUnavailable(f"cannot open {self.path}: {err}") from err
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._db = db
        return self._db

    def _ensure(self) -> None:
        if not self._initialised:
            self.init()

    def init(self) -> dict[str, Any]:
        done: dict[str, Any] = {"backend": "sqlite", "path": self.path, "created": [], "added_columns": []}
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")}
                if "articles" not in tables:
                    cols = ",\n  ".join(f"{name} {_SQL_TYPES[kind]}" for name, kind in FIELDS.items())
                    db.execute(
                        "CREATE TABLE articles (\n  seq INTEGER PRIMARY KEY,\n  id TEXT NOT NULL UNIQUE,\n"
                        f"  {cols},\n  effective_at TEXT\n)"
                    )
                    done["created"].append("articles")
                else:
                    have = {r[1] for r in db.execute("PRAGMA table_info(articles)")}
                    for name, kind in FIELDS.items():
                        if name not in have:
                            db.execute(f"ALTER TABLE articles ADD COLUMN {name} {_SQL_TYPES[kind]}")
                            done["added_columns"].append(name)
                for col in ("effective_at", "indexed_at", "source", "language", "story_id"):
                    db.execute(f"CREATE INDEX IF NOT EXISTS articles_{col} ON articles({col})")
                # Covers counts_per_day: the coverage chart counts from the index, never reading the wide rows.
                db.execute("CREATE INDEX IF NOT EXISTS articles_day_source ON articles(effective_at, source)")
                if "story_keys" not in tables:
                    # band keys of each article (indexer.stories), looked up by key within a date window
                    db.execute("CREATE TABLE story_keys (key TEXT NOT NULL, at TEXT NOT NULL, seq INTEGER NOT NULL,"
                               " PRIMARY KEY (key, at, seq)) WITHOUT ROWID")
                    db.execute("CREATE INDEX story_keys_seq ON story_keys(seq)")
                    done["created"].append("story_keys")
                if "articles_fts" not in tables:
                    db.execute(
                        f"CREATE VIRTUAL TABLE articles_fts USING fts5({', '.join(_FTS_COLUMNS)}, "
                        "tokenize='ascii', detail=full)"
                    )
                    done["created"].append("articles_fts")
                if "meta" not in tables:
                    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                    done["created"].append("meta")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    done["schema_version"] = {"from": version, "to": SCHEMA_VERSION}
                else:
                    done["schema_version"] = SCHEMA_VERSION
                db.execute("COMMIT")
            except BaseException:
                rollback(db)
                raise
        self._initialised = True
        if done["created"] or done["added_columns"]:
            log.info("index.init", **{k: v for k, v in done.items() if v})
        return done

    # ------------------------------------------------------------------ writing
    @staticmethod
    def _validate(article: Article) -> str | None:
        """Reject what the ES mapping would reject, so both backends quarantine the same documents."""
        for name, kind in FIELDS.items():
            value = getattr(article, name, None)
            if value is None:
                continue
            if kind == "integer":
                if not isinstance(value, int) or isinstance(value, bool) or not INT32[0] <= value <= INT32[1]:
                    return f"{name}: integer out of range or not an integer: {value!r}"
            elif kind == "date":
                if not isinstance(value, datetime):
                    return f"{name}: not a datetime: {value!r}"
            elif name in LIST_FIELDS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    return f"{name}: expected a list of strings"
            elif not isinstance(value, str):
                return f"{name}: expected a string, got {type(value).__name__}"
        if not article.canonical_url:
            return "canonical_url: empty"
        return None

    @staticmethod
    def _row(article: Article) -> list[Any]:
        row: list[Any] = [article.id]
        for name, kind in FIELDS.items():
            value = getattr(article, name)
            if kind == "date":
                value = _date_str(value)
            elif name in LIST_FIELDS:
                value = json.dumps(list(value or []), ensure_ascii=False)
            row.append(value)
        row.append(_date_str(effective_at(article)))
        return row

    @staticmethod
    def _fts_row(article: Article) -> list[str]:
        kws = [ALL_TOKEN]
        for name, values in article_keywords(article).items():
            kws.extend(kw_token(name, v) for v in values)
        return [folded_text(getattr(article, f)) for f in FTS_TEXT_COLUMNS] + [" ".join(kws)]

    def index(self, articles: list[Article]) -> IndexResult:
        self._ensure()
        return super().index(articles)

    def _write(self, articles: list[Article]) -> IndexResult:
        result = IndexResult()
        prepared = []
        for a in articles:
            reason = self._validate(a)
            if reason:
                result.failed.append((a.id, reason))
            else:
                prepared.append((a.id, self._row(a), self._fts_row(a), a.story_keys, _date_str(effective_at(a))))
        cols = ["id", *_COLUMNS, "effective_at"]
        upsert = (
            f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in cols[1:])} RETURNING seq"
        )
        fts_insert = (
            f"INSERT INTO articles_fts (rowid, {', '.join(_FTS_COLUMNS)}) VALUES (?{', ?' * len(_FTS_COLUMNS)})"
        )
        with self._lock:
            db = self.db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:  # locked for longer than the timeout
                raise BackendUnavailable(f"sqlite busy: {err}") from err
            try:
                for doc_id, row, fts, keys, at in prepared:
                    seq = db.execute(upsert, row).fetchone()[0]
                    db.execute("DELETE FROM articles_fts WHERE rowid = ?", (seq,))
                    db.execute(fts_insert, (seq, *fts))
                    db.execute("DELETE FROM story_keys WHERE seq = ?", (seq,))
                    db.executemany("INSERT OR IGNORE INTO story_keys (key, at, seq) VALUES (?, ?, ?)",
                                   [(k, at, seq) for k in keys])
                    result.indexed.append(doc_id)
                db.execute("COMMIT")
            except sqlite3.OperationalError as err:
                rollback(db)
                raise BackendUnavailable(f"sqlite write failed: {err}") from err
            except BaseException:
                rollback(db)
                raise
        return result

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _article(row: sqlite3.Row) -> Article:
        data: dict[str, Any] = {}
        for name in _READ_COLUMNS:
            value = row[name]
            if value is None:
                continue
            if name in LIST_FIELDS:
                value = json.loads(value)
            elif name in DATE_FIELDS:
                value = parse_iso(value)
            data[name] = value
        return Article.from_dict(data)

    def _where(self, node: Node | None, since, until, sources, languages) -> tuple[str, str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        join = ""
        if node is not None:
            join = "JOIN articles_fts ON articles_fts.rowid = a.seq"
            clauses.append("articles_fts MATCH ?")
            params.append(to_fts5(node))
        if since is not None:
            clauses.append("a.effective_at >= ?")
            params.append(_date_str(since))
        if until is not None:
            clauses.append("a.effective_at < ?")
            params.append(_date_str(until))
        for col, values in (("source", sources), ("language", languages)):
            if values:
                clauses.append(f"a.{col} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return join, where, params

    def _run(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as err:
                if "fts5" in str(err) or "syntax" in str(err):
                    raise BackendError(f"search failed: {err}") from err
                raise BackendUnavailable(f"sqlite read failed: {err}") from err

    def search(self, query=None, *, since=None, until=None, sources=None, languages=None,
               limit: int = 20, sort: Sort = "published_at", collapse: bool = False) -> list[Hit]:
        self._ensure()
        node = to_node(query)
        limit = finite_limit(limit)
        join, where, params = self._where(node, since, until, sources, languages)
        score = "-bm25(articles_fts, 3.0, 1.0, 2.0, 0.0)" if node is not None else "0.0"
        order = {
            "published_at": "effective_at DESC, url ASC",
            "indexed_at": "indexed_at DESC, url ASC",
            "relevance": "score DESC, effective_at DESC, url ASC",
        }.get(sort)
        if order is None:
            raise ValueError(f"unknown sort {sort!r}")
        matching = f"SELECT a.*, {score} AS score FROM articles a {join} {where}"
        if collapse:
            # the best-ranked copy of each story, and how many copies matched
            story = "COALESCE(NULLIF(story_id, ''), id)"
            sql = (f"SELECT * FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY {story} ORDER BY {order}) AS rank_in_story,"
                   f" COUNT(*) OVER (PARTITION BY {story}) AS copies FROM ({matching}) m)"
                   f" WHERE rank_in_story = 1 ORDER BY {order} LIMIT ?")
        else:
            sql = f"{matching} ORDER BY {order} LIMIT ?"
        rows = self._run(sql, [*params, limit])
        terms = Terms.of(node)
        hits = []
        for row in rows:
            article = self._article(row)
            hits.append(Hit(article, float(row["score"]), snippet_of(terms, article),
                            copies=int(row["copies"]) if collapse else 1))
        return hits

    def count(self, query=None, *, since=None, until=None, sources=None, languages=None) -> int:
        self._ensure()
        join, where, params = self._where(to_node(query), since, until, sources, languages)
        return int(self._run(f"SELECT count(*) FROM articles a {join} {where}", params)[0][0])

    def counts_per_day(self, query=None, *, since=None, until=None, sources=None,
                       languages=None, hourly: bool = False) -> dict[tuple[str, str], int]:
        self._ensure()
        join, where, params = self._where(to_node(query), since, until, sources, languages)
        # effective_at is a fixed-width UTC ISO string: its first 10 characters are the UTC day, 13 the hour.
        width = 13 if hourly else 10
        rows = self._run(f"SELECT substr(a.effective_at, 1, {width}) AS day, a.source AS source, count(*) AS n "
                         f"FROM articles a {join} {where} GROUP BY day, a.source", params)
        return {(r["day"], r["source"] or ""): int(r["n"]) for r in rows}

    def ids(self, query=None, *, since=None, until=None, sources=None, languages=None) -> set[str]:
        self._ensure()
        join, where, params = self._where(to_node(query), since, until, sources, languages)
        return {r[0] for r in self._run(f"SELECT a.id FROM articles a {join} {where}", params)}

    def get(self, id: str) -> Article | None:
        self._ensure()
        rows = self._run("SELECT * FROM articles WHERE id = ?", [id])
        return self._article(rows[0]) if rows else None

    def ids_indexed_since(self, t: datetime, *, limit: int = 10000) -> list[str]:
        self._ensure()
        rows = self._run(
            "SELECT id FROM articles WHERE indexed_at >= ? ORDER BY indexed_at, seq LIMIT ?", [_date_str(t), limit]
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ stories
    @staticmethod
    def _known(row: sqlite3.Row) -> Known:
        def date(name: str) -> datetime | None:
            return parse_iso(row[name]) if row[name] else None

        return Known(id=row["id"], story_id=row["story_id"] or "", version=row["version"] or 1,
                     content_hash=row["content_hash"] or "", sig=decode(row["story_sig"] or ""),
                     keys=frozenset(json.loads(row["story_keys"] or "[]")), at=date("effective_at"),
                     published_at=date("published_at"), published_at_source=row["published_at_source"] or "",
                     modified_at=date("modified_at"))

    def story_state(self, ids: list[str]) -> dict[str, Known]:
        self._ensure()
        out: dict[str, Known] = {}
        for i in range(0, len(ids), _CHUNK):
            part = ids[i:i + _CHUNK]
            rows = self._run(f"SELECT {_STATE_COLUMNS} FROM articles WHERE id IN ({', '.join('?' * len(part))})", part)
            out.update((r["id"], self._known(r)) for r in rows)
        return out

    def story_candidates(self, keys: list[str], since: datetime, until: datetime) -> list[Known]:
        self._ensure()
        out: dict[str, Known] = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i:i + _CHUNK]
            rows = self._run(
                f"SELECT {', '.join('a.' + c.strip() for c in _STATE_COLUMNS.split(','))} FROM articles a"
                f" WHERE a.seq IN (SELECT seq FROM story_keys WHERE key IN ({', '.join('?' * len(part))})"
                " AND at >= ? AND at <= ?)", [*part, _date_str(since), _date_str(until)])
            out.update((r["id"], self._known(r)) for r in rows)
        return list(out.values())

    def story_articles(self, story_ids: list[str], limit: int = 50) -> dict[str, list[Article]]:
        self._ensure()
        out: dict[str, list[Article]] = {s: [] for s in story_ids}
        for i in range(0, len(story_ids), _CHUNK):
            part = story_ids[i:i + _CHUNK]
            rows = self._run(
                f"SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY story_id ORDER BY indexed_at, seq) AS n"
                f" FROM articles a WHERE story_id IN ({', '.join('?' * len(part))})) WHERE n <= ?"
                " ORDER BY indexed_at, seq", [*part, limit])
            for row in rows:
                out[row["story_id"]].append(self._article(row))
        return out

    # ------------------------------------------------------------------ housekeeping
    def delete_older_than(self, days: int) -> int:
        self._ensure()
        if days < 0:
            raise ValueError("days must be >= 0")
        cutoff = _date_str(utcnow() - timedelta(days=days))
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                for table, key in (("articles_fts", "rowid"), ("story_keys", "seq")):
                    db.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT seq FROM articles WHERE effective_at < ?)",
                               (cutoff,))
                n = db.execute("DELETE FROM articles WHERE effective_at < ?", (cutoff,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                rollback(db)
                raise
        if n:
            log.info("index.retention", deleted=n, days=days, backend="sqlite")
        return n

    def maintenance(self) -> dict[str, Any]:
        self._ensure()
        with self._lock:
            self.db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"optimized": True}

    def status(self) -> dict[str, Any]:
        try:
            self._ensure()
            with self._lock:
                count = self.db.execute("SELECT count(*) FROM articles").fetchone()[0]
                last = self.db.execute("SELECT max(indexed_at) FROM articles").fetchone()[0]
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
            size = os.path.getsize(self.path) if self.path != ":memory:" else 0
            return {"backend": "sqlite", "path": self.path, "health": "green", "count": count,
                    "schema_version": version, "last_indexed_at": last, "size_bytes": size}
        except Exception as err:  # status must answer even when broken
            return {"backend": "sqlite", "path": self.path, "health": "red", "error": str(err)}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
                self._initialised = False
