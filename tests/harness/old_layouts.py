"""Index files in an older version's layout, made from a file of today's, for the upgrade tests: what a
user's data folder holds when a new version first opens it. Plain ``sqlite3``, no product code."""

from __future__ import annotations

import sqlite3


def downgrade_to_v2(path) -> None:
    """The previous version's layout: FTS rows keyed by seq, no tkey column or its index."""
    db = sqlite3.connect(path)
    db.execute("DROP INDEX articles_tkey")
    db.execute("CREATE VIRTUAL TABLE old_fts USING fts5(title, text, description, kw, tokenize='ascii', detail=full)")
    db.execute("INSERT INTO old_fts (rowid, title, text, description, kw) SELECT a.seq, f.title, f.text,"
               " f.description, f.kw FROM articles_fts f JOIN articles a ON a.tkey = f.rowid")
    db.execute("DROP TABLE articles_fts")
    db.execute("ALTER TABLE old_fts RENAME TO articles_fts")
    db.execute("ALTER TABLE articles DROP COLUMN tkey")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
