"""The frontier in PostgreSQL, shared by the daemons of a cluster (the ``cluster:`` section).

The same tables and statements as the SQLite frontier (``crawler.frontier``): a URL one daemon
finished is finished for all, and ``mediawatch sources list`` shows every daemon's runs. The
statements are upserts, so two daemons marking one URL (a story linked from two sources) agree.

The crawl calls it on the event loop, so nothing here waits for a server that is down: the statement
raises ``EngineUnavailable`` at once, the URL is not marked done, and the next run fetches it again.
A server restarted since the last statement is reconnected to transparently.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from crawler.frontier import SCHEMA, Frontier
from indexer.pgconn import PgConn, Tx, where

PG_SCHEMA = SCHEMA.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")


class PgFrontier(Frontier):
    def __init__(self, dsn: str) -> None:
        self.path = where(dsn)
        self._pg = PgConn(dsn, name="frontier")
        self._pg.executescript(PG_SCHEMA)  # one attempt: the daemon's start waits and retries, a command fails

    def _conn(self) -> AbstractContextManager[Tx]:  # type: ignore[override]
        return self._pg.read()

    @property
    def engine(self) -> PgConn:
        return self._pg

    def close(self) -> None:
        self._pg.close()
