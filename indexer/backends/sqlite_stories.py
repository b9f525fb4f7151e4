"""The embedded index's story band rows: what :class:`indexer.stories.Stories` looks up by band key.

Each band key of an article (``indexer.signatures.band_keys``: two digits of band, 16 hex digits of hash) is one
row of ``story_bands``, all integers: the key as a signed 64-bit integer, the effective date in seconds, the
article's ``seq``; the primary key is the row (``WITHOUT ROWID``), and nothing else is indexed. An article's
rows are found again from its own ``story_keys`` and ``effective_at`` columns, so a rewrite or a retention
pass deletes them by primary key. Schema 4 made these rows integers (42 text keys and ISO dates, in a table
with a second index on ``seq``, were two random-order B-tree inserts per key, the largest write cost per
article after FTS5 at a million articles); :func:`migrate` converts a schema 2 or 3 file's ``story_keys``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, Iterable

from indexer.article import parse_iso
from indexer.stories import PER_KEY

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)
_SIGN = 1 << 63
_KEY = itemgetter(0)  # a band row's key (its date may be None: not compared)


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


def create(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE story_bands (key INTEGER NOT NULL, at INTEGER NOT NULL, seq INTEGER NOT NULL,"
               " PRIMARY KEY (key, at, seq)) WITHOUT ROWID")


def migrate(db: sqlite3.Connection) -> int:
    """Inside the caller's transaction: a schema 2 or 3 ``story_keys`` table (text keys and dates, a second
    index on seq) copied into ``story_bands`` and dropped; the rows copied."""
    db.create_function("mw_band_int", 1, band_int, deterministic=True)
    db.create_function("mw_seconds", 1, seconds, deterministic=True)
    cur = db.execute("INSERT OR IGNORE INTO story_bands (key, at, seq)"
                     " SELECT mw_band_int(key), mw_seconds(at), seq FROM story_keys")
    db.execute("DROP TABLE story_keys")
    return cur.rowcount


def rows_of(keys: Iterable[str], at: datetime | str | None, seq: int) -> list[tuple[int, int | None, int]]:
    when = seconds(at)
    return [(band_int(k), when, seq) for k in keys]


def insert(db: sqlite3.Connection, rows: list[tuple[int, int | None, int]]) -> None:
    """One statement for a whole batch's rows, in key order: the keys are hashes, so a batch's rows land
    all over the table, and in key order each B-tree page is read and changed once, in one pass, instead
    of being sought again (and read back from the OS once the page cache has dropped it) for every row."""
    if rows:
        db.executemany("INSERT OR IGNORE INTO story_bands (key, at, seq) VALUES (?, ?, ?)", sorted(rows, key=_KEY))


def delete(db: sqlite3.Connection, stored: Iterable[tuple[int, str | None, str | None]]) -> None:
    """The rows of articles as stored: (seq, story_keys JSON, effective_at), each found by primary key."""
    rows = []
    for seq, keys_json, at in stored:
        try:
            keys = json.loads(keys_json or "[]")
        except ValueError:  # a damaged column: its rows cannot be named, and only cost a stale candidate
            continue
        rows.extend(rows_of(keys, at, seq))
    if rows:
        # in key order, as insert() writes them
        db.executemany("DELETE FROM story_bands WHERE key = ? AND at = ? AND seq = ?", sorted(rows, key=_KEY))


def candidates_sql(columns: str) -> str:
    """Articles holding the newest ``PER_KEY`` rows of each key (a JSON array) in [lo, hi] seconds, in one
    statement: a wire story's key held by hundreds of copies costs a seek, not a row per copy."""
    return (
        f"SELECT {columns} FROM articles a WHERE a.seq IN (SELECT s.seq FROM json_each(?) k JOIN story_bands s"
        " ON s.key = k.value AND s.at <= ? AND s.at >= max(?, ifnull((SELECT at FROM story_bands"
        " WHERE key = k.value AND at >= ? AND at <= ? ORDER BY at DESC LIMIT 1 OFFSET ?), ?)))"
    )


def candidates_params(keys: list[str], since: datetime, until: datetime) -> list[Any]:
    lo, hi = seconds(since), seconds(until)
    return [json.dumps([band_int(k) for k in keys]), hi, lo, lo, hi, PER_KEY - 1, lo]
