"""Read-only looks into the stores a daemon leaves behind: the SQLite index, alert ledger and
frontier, and an Elasticsearch index.

Nothing here imports product code: the stores are read with ``sqlite3`` and Elasticsearch with
``urllib``, so an assertion never depends on the code under test.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import urllib.request
from pathlib import Path


def sqlite_rows(path: str | Path, sql: str, args: tuple = ()) -> list[tuple]:
    """Query a SQLite file read-only (never creates it, never takes a write lock)."""
    uri = f"file:{Path(path)}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def index_urls(path: str | Path) -> list[str]:
    """Every article URL in the embedded index, one per row (duplicates kept)."""
    return [r[0] for r in sqlite_rows(path, "SELECT url FROM articles")]


def integrity(path: str | Path) -> str:
    return sqlite_rows(path, "PRAGMA integrity_check")[0][0]


def alerts_pending(path: str | Path) -> int:
    """Alerts the ledger still has to send (instant alerts not sent yet); -1 before it exists."""
    if not Path(path).exists():
        return -1
    with contextlib.suppress(sqlite3.OperationalError):
        return sqlite_rows(path, "SELECT COUNT(*) FROM alerts WHERE state = 'pending' AND mode = 'instant'")[0][0]
    return -1


def frontier_done(path: str | Path) -> set[str]:
    """URLs the frontier has marked done as articles (new/updated)."""
    if not Path(path).exists():
        return set()
    with contextlib.suppress(sqlite3.OperationalError):
        return {r[0] for r in sqlite_rows(path, "SELECT url FROM urls WHERE done = 1 AND kind = 'article'")}
    return set()


def es_json(url: str, path: str, body: dict | None = None, method: str | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"},
                                 method=method or ("POST" if data is not None else "GET"))
    with urllib.request.urlopen(req, timeout=15) as resp:
        return json.load(resp)


def es_urls(url: str, prefix: str) -> list[str]:
    """Every article URL in the index's read alias, one per document (duplicates kept)."""
    es_json(url, f"/{prefix}-articles/_refresh", method="POST")
    hits = es_json(url, f"/{prefix}-articles/_search", {"size": 10000, "_source": ["url"],
                                                          "query": {"match_all": {}}})["hits"]["hits"]
    return [h["_source"]["url"] for h in hits]
