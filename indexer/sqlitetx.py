"""Transaction helpers shared by the SQLite index and the spool."""

from __future__ import annotations

import sqlite3


def rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite still has one.

    A COMMIT that fails with "database or disk is full" (or an I/O error) has already rolled
    the transaction back; a second ROLLBACK would raise "no transaction is active" and hide the
    error that matters.
    """
    if db.in_transaction:
        db.execute("ROLLBACK")
