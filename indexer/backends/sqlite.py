"""The embedded index: one SQLite file, articles in a table derived from ``FIELDS``, FTS5 for search.

Search never sees the user's string: the FTS5 table holds OUR tokens (see :mod:`indexer.query`) — the
space-separated folded tokens of title, text and description in columns of the same name (``ascii``
tokenizer, so it splits on the spaces only) and a ``kw`` column with one hex token per keyword value
plus the constant ``zzall`` token — and the MATCH expression comes from :func:`indexer.query.to_fts5`.
An FTS row's rowid is its article's time key (``articles.tkey``), how searches read newest first without
sorting every match (:mod:`indexer.backends.sqlite_search`); the tables are made or upgraded by
:mod:`indexer.backends.sqlite_schema`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import Any

import structlog

from indexer.article import Article, DATE_FIELDS, FIELDS, LIST_FIELDS, STORY_STATE_FIELDS, parse_iso
from indexer.sqlitetx import rollback
from indexer.backends.base import (
    INT32, Backend, BackendError, BackendUnavailable, Hit, IndexResult, Node, Sort, effective_at,
    finite_limit, snippet_of, to_node,
)
from indexer.backends import sqlite_stories
from indexer.backends.sqlite_housekeeping import RETENTION_SLICE, SqliteHousekeeping
from indexer.backends.sqlite_search import (FEW_ROWS, PREFIX_TERMS_MAX, SOURCE_NAMES, Filters, Planner,
                                            expand_prefixes, time_key)
from indexer.backends.sqlite_schema import FTS_COLUMNS, create_or_upgrade, date_str
from indexer.backends.sqlite_story_reads import CHUNK, SqliteStoryReads
from indexer.query import ALL_TOKEN, MatchAll, Terms, article_folded, article_keywords, kw_token, to_fts5
from indexer.stories import DEFAULT_WINDOW, Stories

log = structlog.get_logger(__name__)

_COLUMNS = list(FIELDS)
_READ_COLUMNS = [c for c in _COLUMNS if c not in STORY_STATE_FIELDS]
CACHE_KIB = 64 * 1024  # SQLite's page cache per connection
# Pages the WAL may hold before a commit copies them into the file (SQLite's default: 1,000, 4 MiB). A
# batch at a million articles changes a few hundred MB of pages, most of them the same story band pages
# again (random keys), so a checkpoint after every commit wrote and synced nearly the whole band table per
# batch; with 1 GiB of WAL a page changed by several batches is copied once. The WAL file is cut back to
# WAL_KEEP_BYTES each time it starts over.
WAL_CHECKPOINT_PAGES = 262_144
WAL_KEEP_BYTES = 64 * 2**20


class SqliteBackend(SqliteHousekeeping, SqliteStoryReads, Backend):
    name = "sqlite"
    few_rows = FEW_ROWS  # a source/language filter leaving fewer rows is read before the words
    retention_slice = RETENTION_SLICE
    prefix_words_max = PREFIX_TERMS_MAX  # a prefix of up to this many indexed words is searched as their OR

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 story_window: timedelta = DEFAULT_WINDOW) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.stories = Stories(story_window, recent_s=0)  # a read sees every committed write
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
                # the first statement that touches the file, and it writes the -wal and -shm files beside it
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as err:
                why = "; SQLite writes a -wal and a -shm file beside it, so its folder must be writable" \
                    if "unable to open" in str(err) else ""
                raise BackendUnavailable(f"{self.path}: cannot open it ({err}{why})") from err
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            # The default 2 MiB page cache thrashes on the random-keyed indexes (id, story keys) of a large
            # index: every insert then reads its B-tree pages back from the OS.
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            db.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
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
                create_or_upgrade(db, done)
                db.execute("COMMIT")
            except sqlite3.DatabaseError as err:
                rollback(db)
                raise self._damaged(err) from err
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
                if not isinstance(value, list) or not all(map(isinstance, value, repeat(str))):
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
                value = date_str(value)
            elif name in LIST_FIELDS:
                value = json.dumps(list(value or []), ensure_ascii=False)
            row.append(value)
        row.append(date_str(effective_at(article)))
        return row

    @staticmethod
    def _fts_row(article: Article) -> list[str]:
        kws = [ALL_TOKEN]
        for name, values in article_keywords(article).items():
            kws.extend(kw_token(name, v) for v in values)
        return [*article_folded(article), " ".join(kws)]  # FTS_TEXT_COLUMNS are TEXT_QUERY_FIELDS

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
                prepared.append((a.id, self._row(a), self._fts_row(a), a.story_keys, effective_at(a)))
        cols = ["seq", "id", *_COLUMNS, "effective_at", "tkey"]
        upsert = (
            f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in cols[2:])}"
        )
        fts_insert = f"INSERT INTO articles_fts (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})"
        # the same URL twice in a batch: the last one is what the index keeps (an upsert each, before)
        last = {doc_id: i for i, (doc_id, *_rest) in enumerate(prepared)}
        with self._lock:
            db = self.db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:  # locked for longer than the timeout
                raise BackendUnavailable(f"sqlite busy: {err}") from err
            try:
                # seq is chosen here, inside the write lock, because the FTS key is made from it
                next_seq = db.execute("SELECT COALESCE(max(seq), 0) + 1 FROM articles").fetchone()[0]
                old = self._stored(db, list(last))
                rows, fts_rows, band_rows = [], [], []
                for i, (doc_id, row, fts, keys, at) in enumerate(prepared):
                    result.indexed.append(doc_id)
                    if last[doc_id] != i:
                        continue
                    before = old.get(doc_id)
                    if before is None:
                        seq, next_seq = next_seq, next_seq + 1
                    else:
                        seq = before[0]
                    key = time_key(at, seq)
                    rows.append([seq, *row, key])
                    fts_rows.append((key, *fts))
                    band_rows.extend(sqlite_stories.rows_of(keys, at, seq))
                if old:
                    db.executemany("DELETE FROM articles_fts WHERE rowid = ?", [(o[1],) for o in old.values()])
                    sqlite_stories.delete(db, [(o[0], o[2], o[3]) for o in old.values()])
                db.executemany(upsert, rows)
                db.executemany(fts_insert, fts_rows)
                sqlite_stories.insert(db, band_rows)
                db.execute("COMMIT")
            except sqlite3.OperationalError as err:
                rollback(db)
                raise BackendUnavailable(f"sqlite write failed: {err}") from err
            except sqlite3.DatabaseError as err:
                rollback(db)
                raise self._damaged(err) from err
            except BaseException:
                rollback(db)
                raise
        return result

    @staticmethod
    def _stored(db: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[int, int, str | None, str | None]]:
        """id -> (seq, tkey, story_keys, effective_at) of the ids already stored."""
        out = {}
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            out.update((r[0], tuple(r[1:])) for r in db.execute(
                f"SELECT id, seq, tkey, story_keys, effective_at FROM articles WHERE id IN ({', '.join('?' * len(part))})",
                part))
        return out

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

    def _planner(self, node: Node | None, since, until, sources, languages, expand: bool = True) -> Planner:
        if isinstance(node, MatchAll):
            node = None  # every row: the articles table alone answers
        if node is not None and expand:
            node = expand_prefixes(node, self._run, self.prefix_words_max)
        filters = Filters(date_str(since), date_str(until), since, until, sources, languages)
        return Planner(self._run, to_fts5(node) if node is not None else None, filters, self.few_rows)

    def _run(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as err:
                if "fts5" in str(err) or "syntax" in str(err):
                    raise BackendError(f"search failed: {err}") from err
                raise BackendUnavailable(f"sqlite read failed: {err}") from err
            except sqlite3.DatabaseError as err:
                raise self._damaged(err) from err

    def _damaged(self, err: sqlite3.DatabaseError) -> BackendError:
        """Not an outage: the file itself ("database disk image is malformed", "file is not a database"),
        named, since the message SQLite gives says nothing of which file."""
        return BackendError(f"{self.path}: {err}")

    def search(self, query=None, *, since=None, until=None, sources=None, languages=None,
               limit: int = 20, sort: Sort = "published_at", collapse: bool = False) -> list[Hit]:
        self._ensure()
        node = to_node(query)
        limit = finite_limit(limit)
        plan = self._planner(node, since, until, sources, languages, expand=sort != "relevance")
        if sort == "published_at":
            seqs, copies = plan.newest(limit, collapse)
            rows = self._fetch(plan, seqs)
        else:
            order = {"indexed_at": "indexed_at DESC, url ASC",
                     "relevance": "score DESC, effective_at DESC, url ASC"}.get(sort)
            if order is None:
                raise ValueError(f"unknown sort {sort!r}")
            rows, copies = self._ranked(plan, order, limit, collapse)
        terms = Terms.of(node)
        return [Hit(article := self._article(row), float(row["score"]), snippet_of(terms, article),
                    copies=copies.get(row["seq"], 1) if collapse else 1) for row in rows]

    def _score(self, plan: Planner) -> str:
        return "-bm25(articles_fts, 3.0, 1.0, 2.0, 0.0)" if plan.match is not None else "0.0"

    def _fetch(self, plan: Planner, seqs: list[int]) -> list[dict[str, Any]]:
        """The whole rows of the hits shown, in the order given, with their scores."""
        if not seqs:
            return []
        rows = self._run(f"SELECT a.* FROM articles a WHERE a.seq IN ({', '.join('?' * len(seqs))})", seqs)
        scores = plan.scores([r["tkey"] for r in rows], self._score(plan)) if plan.match is not None else {}
        by_seq = {r["seq"]: {**dict(r), "score": scores.get(r["tkey"], 0.0)} for r in rows}
        return [by_seq[s] for s in seqs if s in by_seq]

    def _ranked(self, plan: Planner, order: str, limit: int, collapse: bool):
        """Orders other than newest first: every match is scored and sorted (not on the scale path)."""
        frm, where, params = plan.source()
        matching = f"SELECT a.*, {self._score(plan)} AS score FROM {frm} {where}"
        if not collapse:
            return self._run(f"{matching} ORDER BY {order} LIMIT ?", [*params, limit]), {}
        story = "COALESCE(NULLIF(story_id, ''), id)"
        rows = self._run(
            f"SELECT * FROM (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY {story} ORDER BY {order}) AS rank_in_story,"
            f" COUNT(*) OVER (PARTITION BY {story}) AS copies FROM ({matching}) m)"
            f" WHERE rank_in_story = 1 ORDER BY {order} LIMIT ?", [*params, limit])
        return rows, {r["seq"]: int(r["copies"]) for r in rows}

    def count(self, query=None, *, since=None, until=None, sources=None, languages=None) -> int:
        self._ensure()
        return self._planner(to_node(query), since, until, sources, languages).count()

    def counts_per_day(self, query=None, *, since=None, until=None, sources=None,
                       languages=None, hourly: bool = False) -> dict[tuple[str, str], int]:
        self._ensure()
        # effective_at is a fixed-width UTC ISO string: its first 10 characters are the UTC day, 13 the hour.
        rows = self._planner(to_node(query), since, until, sources, languages).per_day(13 if hourly else 10)
        return {(r["day"], r["source"] or ""): int(r["n"]) for r in rows}

    def ids(self, query=None, *, since=None, until=None, sources=None, languages=None) -> set[str]:
        self._ensure()
        frm, where, params = self._planner(to_node(query), since, until, sources, languages).source()
        return {r[0] for r in self._run(f"SELECT a.id FROM {frm} {where}", params)}

    def source_names(self, limit: int = 500) -> list[str]:
        self._ensure()
        return [r[0] for r in self._run(SOURCE_NAMES, [limit])]

    def get(self, id: str) -> Article | None:
        self._ensure()
        rows = self._run("SELECT * FROM articles WHERE id = ?", [id])
        return self._article(rows[0]) if rows else None

    def ids_indexed_since(self, t: datetime, *, limit: int = 10000) -> list[str]:
        self._ensure()
        rows = self._run(
            "SELECT id FROM articles WHERE indexed_at >= ? ORDER BY indexed_at, seq LIMIT ?", [date_str(t), limit]
        )
        return [r[0] for r in rows]

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
