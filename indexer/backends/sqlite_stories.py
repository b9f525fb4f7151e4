"""The embedded index's story band rows: what :class:`indexer.stories.Stories` looks up by band key.

Each band key of an article (``indexer.signatures.band_keys``: two digits of band, 16 hex digits of hash) is one
row, all integers: the key as a signed 64-bit integer, the effective date in seconds, the article's ``seq``; the
primary key is the row (``WITHOUT ROWID``), and nothing else is indexed. An article's rows are found again from
its own ``story_keys`` and ``effective_at`` columns, so a rewrite or a retention pass deletes them by primary key.

The rows live in one table per calendar month of their date (``story_bands_202612``). A lookup only ever asks
for a story window around a batch's dates, so it reads the one or two months the window overlaps; and a batch's
rows, whose keys are hashes and land all over their table, rewrite the pages of a month's table instead of
half of one table of every band row the index holds (at a million articles 42 million rows, of which a
batch of 4,000 dirtied about half the leaves: the largest write per article after FTS5). Schema 4 kept one
table; schema 5 splits it (:func:`split_legacy`), schema 2 and 3 files' text rows are converted first
(:func:`migrate`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from operator import itemgetter
from typing import Any, Iterable

from indexer.article import parse_iso
from indexer.stories import PER_KEY

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)
_DAY_S = 86400
_SIGN = 1 << 63
_KEY = itemgetter(0)
PREFIX = "story_bands_"
LEGACY = "story_bands"  # schema 4: every row in one table
_COLUMNS = "(key INTEGER NOT NULL, at INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (key, at, seq)) WITHOUT ROWID"


def band_int(key: str) -> int:
    """A band key as a signed 64-bit integer: its hash, with the band number mixed into the top byte
    (two bands' keys collide only if their hashes differ by exactly that: 1 in 2^64)."""
    value = int(key[2:], 16) ^ (int(key[:2]) << 56)
    return value - 2 * _SIGN if value >= _SIGN else value


def seconds(at: datetime | str | None) -> int | None:
    """An effective date (a datetime, or the ISO string the articles table keeps) in whole seconds."""
    if at is None or at == "":
        return None
    if isinstance(at, str):
        at = parse_iso(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return (at - _EPOCH) // _SECOND


@lru_cache(maxsize=4096)
def _month_of_day(day: int) -> str:
    t = time.gmtime(day * _DAY_S)
    return f"{PREFIX}{t.tm_year:04d}{t.tm_mon:02d}"


def table_of(at: int) -> str:
    """The table of the rows dated ``at`` (seconds): their calendar month, UTC."""
    return _month_of_day(at // _DAY_S)


def _month_start(year: int, month: int) -> int:
    if year > datetime.max.year:  # the month after December 9999: past every date there is
        return (datetime.max.replace(tzinfo=timezone.utc) - _EPOCH) // _SECOND + 1
    return (datetime(year, month, 1, tzinfo=timezone.utc) - _EPOCH) // _SECOND


def span(table: str) -> tuple[int, int]:
    """[first second, first second of the next month) of a month's table."""
    year, month = int(table[len(PREFIX):len(PREFIX) + 4]), int(table[len(PREFIX) + 4:])
    return _month_start(year, month), _month_start(year + month // 12, month % 12 + 1)


TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '!'"
TABLES_PARAMS = (PREFIX.replace("_", "!_") + "%",)


def month_tables(names: Iterable[str]) -> list[str]:
    """The month tables among these names, oldest first."""
    return sorted(n for n in names if len(n) == len(PREFIX) + 6 and n[len(PREFIX):].isdigit())


def tables(db: sqlite3.Connection) -> list[str]:
    """The month tables the file holds, oldest first."""
    return month_tables(r[0] for r in db.execute(TABLES_SQL, TABLES_PARAMS))


def _create(db: sqlite3.Connection, table: str) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS {table} {_COLUMNS}")


def migrate(db: sqlite3.Connection) -> int:
    """Inside the caller's transaction: a schema 2 or 3 ``story_keys`` table (text keys and dates, a second
    index on seq) converted into the schema 4 table, which :func:`split_legacy` then splits; the rows copied."""
    db.execute(f"CREATE TABLE {LEGACY} {_COLUMNS}")
    db.create_function("mw_band_int", 1, band_int, deterministic=True)
    db.create_function("mw_seconds", 1, seconds, deterministic=True)
    cur = db.execute(f"INSERT OR IGNORE INTO {LEGACY} (key, at, seq)"
                     " SELECT mw_band_int(key), mw_seconds(at), seq FROM story_keys")
    db.execute("DROP TABLE story_keys")
    return cur.rowcount


def split_legacy(db: sqlite3.Connection) -> int:
    """Inside the caller's transaction: the schema 4 table's rows moved into their months' tables (each read
    in key order, so each month's table is written in order), the old table dropped; the rows moved. Only
    months that hold rows are visited: one article dated in year 1 must not cost a scan per month since."""
    # the day floored, as Python's // does (SQLite's division truncates toward zero: before 1970 it differs)
    days = db.execute(f"SELECT DISTINCT (at - ((at % {_DAY_S}) + {_DAY_S}) % {_DAY_S}) / {_DAY_S} FROM {LEGACY}")
    months = {_month_of_day(day) for (day,) in days}
    moved = 0
    for table in sorted(months):
        lo, hi = span(table)
        _create(db, table)
        n = db.execute(f"INSERT OR IGNORE INTO {table} SELECT key, at, seq FROM {LEGACY}"
                       " WHERE at >= ? AND at < ? ORDER BY key, at, seq", (lo, hi)).rowcount
        if not n:
            db.execute(f"DROP TABLE {table}")
        moved += n
    db.execute(f"DROP TABLE {LEGACY}")
    return moved


def rows_of(keys: Iterable[str], at: datetime | str | None, seq: int) -> list[tuple[int, int, int]]:
    """An article's band rows; none without a date (no window could find them)."""
    when = seconds(at)
    return [] if when is None else [(band_int(k), when, seq) for k in keys]


def _by_table(rows: Iterable[tuple[int, int, int]]) -> dict[str, list[tuple[int, int, int]]]:
    out: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for row in rows:
        out[table_of(row[1])].append(row)
    return out


def insert(db: sqlite3.Connection, rows: list[tuple[int, int, int]]) -> None:
    """One statement per month for a whole batch's rows, in key order: the keys are hashes, so a batch's rows
    land all over their table, and in key order each B-tree page is read and changed once, in one pass."""
    for table, part in _by_table(rows).items():
        _create(db, table)
        db.executemany(f"INSERT OR IGNORE INTO {table} (key, at, seq) VALUES (?, ?, ?)", sorted(part, key=_KEY))


def delete(db: sqlite3.Connection, stored: Iterable[tuple[int, str | None, str | None]]) -> None:
    """The rows of articles as stored: (seq, story_keys JSON, effective_at), each found by primary key."""
    rows = []
    for seq, keys_json, at in stored:
        try:
            keys = json.loads(keys_json or "[]")
        except ValueError:  # a damaged column: its rows cannot be named, and only cost a stale candidate
            continue
        rows.extend(rows_of(keys, at, seq))
    if not rows:
        return
    held = set(tables(db))
    for table, part in _by_table(rows).items():
        if table in held:  # in key order, as insert() writes them
            db.executemany(f"DELETE FROM {table} WHERE key = ? AND at = ? AND seq = ?", sorted(part, key=_KEY))


def drop_before(db: sqlite3.Connection, cutoff: int) -> list[str]:
    """Inside the caller's transaction: the month tables wholly before ``cutoff`` (seconds) that retention has
    emptied, dropped; their names."""
    gone = []
    for table in tables(db):
        if span(table)[1] <= cutoff and db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None:
            db.execute(f"DROP TABLE {table}")
            gone.append(table)
    return gone


def _arm(table: str) -> str:
    # the newest PER_KEY rows of each key in the window: a wire story's key held by hundreds of copies costs
    # a seek, not a row per copy
    return (f"SELECT s.seq FROM json_each(:keys) k JOIN {table} s ON s.key = k.value AND s.at <= :hi"
            f" AND s.at >= max(:lo, ifnull((SELECT at FROM {table} WHERE key = k.value AND at >= :lo AND at <= :hi"
            " ORDER BY at DESC LIMIT 1 OFFSET :skip), :lo))")


def candidates(db_tables: list[str], columns: str, keys: list[str], since: datetime,
               until: datetime) -> tuple[str, dict[str, Any]] | None:
    """The statement (and its parameters) for the articles holding the newest ``PER_KEY`` rows of each key in
    [since, until], from each month table the window overlaps: their union holds each key's newest
    ``PER_KEY`` in the whole window, which :class:`indexer.stories.Stories` keeps. None when no table does."""
    lo, hi = seconds(since), seconds(until)
    overlapping = [t for t in db_tables if span(t)[0] <= hi and span(t)[1] > lo]
    if not overlapping:
        return None
    sql = f"SELECT {columns} FROM articles a WHERE a.seq IN ({' UNION ALL '.join(map(_arm, overlapping))})"
    return sql, {"keys": json.dumps([band_int(k) for k in keys]), "lo": lo, "hi": hi, "skip": PER_KEY - 1}
