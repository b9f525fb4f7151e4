"""The embedded index's tables, created or upgraded in place (a data folder of an older version opens).

Version 3 keys the FTS table by a time key (:mod:`indexer.backends.sqlite_search`) instead of the article's
``seq``: an older file gets the ``tkey`` column, and its FTS rows are copied under the new keys (the folded
tokens as stored, nothing re-read from the articles), logged as ``index.migrated``. Version 4 keeps the story
band rows as integers (:mod:`indexer.backends.sqlite_stories`), version 5 in a table per month; an older file's
are converted.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from typing import Any

import structlog

from indexer.article import FIELDS, parse_iso
from indexer.backends import sqlite_stories
from indexer.backends.base import as_utc
from indexer.backends.sqlite_search import time_key
from indexer.query import FTS_KW_COLUMN, FTS_TEXT_COLUMNS

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 5  # 2: story_keys table, story_id index; 3: FTS rowid = time key (articles.tkey);
# 4: story_bands (integer band rows) instead of story_keys; 5: story_bands_YYYYMM, a table per month
# A new file's articles table has its long texts last: a row's story state (read for every candidate of every
# article indexed) then sits in the row's first page, not behind the text in its overflow pages.
_LONG_LAST = ("description", "text")
SQL_TYPES = {"text": "TEXT", "keyword": "TEXT", "date": "TEXT", "integer": "INTEGER", "stored": "TEXT"}
FTS_COLUMNS = (*FTS_TEXT_COLUMNS, FTS_KW_COLUMN)
_FTS_SQL = f"USING fts5({', '.join(FTS_COLUMNS)}, tokenize='ascii', detail=full)"
_SLICE = 5000  # rows re-keyed per statement batch during a migration


def date_str(value: datetime | None) -> str | None:
    """The date columns' form: a fixed-width UTC ISO string, which sorts and compares as text."""
    value = as_utc(value)
    # isoformat, not strftime: glibc's %Y does not pad a year before 1000 to four digits
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z" if value else None


def create_or_upgrade(db: sqlite3.Connection, done: dict[str, Any]) -> None:
    """Inside the caller's write transaction: make the schema current, noting what was done in ``done``."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")}
    if "articles" not in tables:
        cols = [f"{name} {SQL_TYPES[kind]}" for name, kind in FIELDS.items() if name not in _LONG_LAST]
        cols += ["effective_at TEXT", "tkey INTEGER", *(f"{name} {SQL_TYPES[FIELDS[name]]}" for name in _LONG_LAST)]
        db.execute("CREATE TABLE articles (\n  seq INTEGER PRIMARY KEY,\n  id TEXT NOT NULL UNIQUE,\n  "
                   + ",\n  ".join(cols) + "\n)")
        done["created"].append("articles")
    else:
        have = {r[1] for r in db.execute("PRAGMA table_info(articles)")}
        for name, kind in FIELDS.items():
            if name not in have:
                db.execute(f"ALTER TABLE articles ADD COLUMN {name} {SQL_TYPES[kind]}")
                done["added_columns"].append(name)
        if "tkey" not in have:
            db.execute("ALTER TABLE articles ADD COLUMN tkey INTEGER")
            done["added_columns"].append("tkey")
    for col in ("effective_at", "indexed_at", "source", "language", "story_id"):
        db.execute(f"CREATE INDEX IF NOT EXISTS articles_{col} ON articles({col})")
    # Covers counts_per_day without a query: the coverage chart counts from the index, never the wide rows.
    db.execute("CREATE INDEX IF NOT EXISTS articles_day_source ON articles(effective_at, source)")
    # band keys of each article (indexer.stories), looked up by key within a date window; a month's table is
    # made when its first row comes
    if "story_keys" in tables or sqlite_stories.LEGACY in tables:
        started = time.monotonic()
        if "story_keys" in tables:
            sqlite_stories.migrate(db)
        rows = sqlite_stories.split_legacy(db)
        done["migrated_story_bands"] = {"rows": rows, "seconds": round(time.monotonic() - started, 1)}
        log.info("index.migrated", to=SCHEMA_VERSION, story_band_rows=rows,
                 seconds=done["migrated_story_bands"]["seconds"])
    if "articles_fts" not in tables:
        db.execute(f"CREATE VIRTUAL TABLE articles_fts {_FTS_SQL}")
        done["created"].append("articles_fts")
    elif "tkey" in done["added_columns"]:
        _rekey(db, done)
    # Everything a search reads besides the hits shown (sqlite_search): the rows' text never is.
    db.execute("CREATE INDEX IF NOT EXISTS articles_tkey"
               " ON articles(tkey, effective_at, url, source, language, story_id, id)")
    if "meta" not in tables:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        done["created"].append("meta")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        done["schema_version"] = {"from": version, "to": SCHEMA_VERSION}
    else:
        done["schema_version"] = SCHEMA_VERSION


def _rekey(db: sqlite3.Connection, done: dict[str, Any]) -> None:
    """A version-2 file: FTS rows were keyed by seq. Key every article by time and move its FTS row."""
    started = time.monotonic()
    log.info("index.migrating", to=SCHEMA_VERSION, reason="search walks the FTS index newest first by time key")
    rows = db.execute("SELECT seq, effective_at, indexed_at FROM articles").fetchall()
    keys = []
    for seq, at, indexed in rows:
        when = parse_iso(at or indexed) if (at or indexed) else None
        keys.append((time_key(when, seq) if when else seq, seq))
    for i in range(0, len(keys), _SLICE):
        db.executemany("UPDATE articles SET tkey = ? WHERE seq = ?", keys[i:i + _SLICE])
    db.execute(f"CREATE VIRTUAL TABLE articles_fts_v3 {_FTS_SQL}")
    cols = ", ".join(FTS_COLUMNS)
    db.execute(f"INSERT INTO articles_fts_v3 (rowid, {cols}) SELECT a.tkey, {', '.join('f.' + c for c in FTS_COLUMNS)}"
               " FROM articles_fts f JOIN articles a ON a.seq = f.rowid")
    db.execute("DROP TABLE articles_fts")
    db.execute("ALTER TABLE articles_fts_v3 RENAME TO articles_fts")
    done["migrated"] = {"articles": len(rows), "seconds": round(time.monotonic() - started, 1)}
    log.info("index.migrated", to=SCHEMA_VERSION, **done["migrated"])
