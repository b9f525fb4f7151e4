"""One PostgreSQL connection shared by a store's threads, speaking the stores' SQL.

The frontier, the alert ledger and the cluster's leases keep their SQL in one form for SQLite and
PostgreSQL: ``?`` placeholders, ``ON CONFLICT`` upserts, rows read by name or position. ``PgConn``
translates the placeholders, hands out rows that behave like ``sqlite3.Row``, and turns a lost server
into ``EngineUnavailable`` (a restart, a network cut), reconnecting on the next use. ``retrying`` runs a
whole unit of work again until the server answers, for callers that must not drop their write (the
ledger's "pending before send"); callers on the event loop try once and let the next run redo it.

psycopg is an optional dependency (the ``cluster`` extra): nothing imports this module unless the
config has a ``cluster:`` section.
"""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

import psycopg
import structlog

log = structlog.get_logger("indexer.pgconn")

T = TypeVar("T")

RETRY_INITIAL_S = 0.2
RETRY_MAX_S = 5.0
SCHEMA_LOCK = 0x6D77_0001  # the advisory lock key schema changes take ("mw" 1)


class EngineUnavailable(RuntimeError):
    """The PostgreSQL server did not answer (down, restarting, unreachable)."""


class Row(tuple):
    """A result row read by position, by column name, or turned into a dict (as ``sqlite3.Row``)."""

    _names: tuple[str, ...]

    def __new__(cls, names: tuple[str, ...], values: Sequence[Any]) -> "Row":
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: psycopg.Cursor) -> Callable[[Sequence[Any]], Row]:
    names = tuple(c.name for c in cursor.description or ())
    return lambda values: Row(names, values)


class Result:
    """A statement's rows (read in full) and row count: what the stores use of a sqlite3 cursor."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return self.rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


_PLACEHOLDER = re.compile(r"\?")


def translate(sql: str) -> str:
    """``?`` → ``%s``; a literal ``%`` doubled so psycopg leaves it alone."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class Tx:
    """The statements of one transaction, or autocommitted statements (``reconnect``: one of those that
    finds the connection dead, a server restarted since its last use, runs again on a new one)."""

    def __init__(self, conn: psycopg.Connection, reconnect: Callable[[], psycopg.Connection] | None = None) -> None:
        self._conn = conn
        self._reconnect = reconnect

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        try:
            return self._execute(sql, args)
        except psycopg.OperationalError:
            if self._reconnect is None or not self._conn.broken:
                raise
            self._conn = self._reconnect()
            return self._execute(sql, args)

    def _execute(self, sql: str, args: Sequence[Any]) -> Result:
        with self._conn.cursor(row_factory=_rows) as cur:
            cur.execute(translate(sql), tuple(args))
            rows = cur.fetchall() if cur.description else []
            return Result(rows, cur.rowcount)

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> Result:
        seq = [tuple(args) for args in seq]
        if not seq:
            return Result([], 0)
        with self._conn.cursor() as cur:
            cur.executemany(translate(sql), seq)
            return Result([], cur.rowcount)


class PgConn:
    """One connection (autocommit; ``tx()`` opens a transaction) behind a lock; thread-safe."""

    def __init__(self, dsn: str, *, name: str, connect_timeout_s: float = 5.0) -> None:
        self.dsn = dsn
        self.name = name
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._closed = threading.Event()  # set by close(): a retrying wait ends at once
        self.down_since: float | None = None  # monotonic time the server stopped answering us
        self.last_error: str | None = None
        self._next_try = 0.0
        self._log = log.bind(store=name, engine=where(dsn))

    def _connection(self) -> psycopg.Connection:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        if self._closed.is_set():
            raise EngineUnavailable(f"{self.name}: closed")
        if self.down_since is not None and time.monotonic() < self._next_try:
            # a server that just refused (or timed out on) us is not asked again at once: the crawl's
            # callers are on the event loop and must not each wait out a connect timeout
            raise EngineUnavailable(f"{self.name}: {self.last_error}")
        try:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout_s)),
                                         application_name=f"mediawatch {self.name}")
        except psycopg.OperationalError as err:
            self._down(err)
            raise EngineUnavailable(f"{self.name}: {err}") from err
        if self.down_since is not None:
            self._log.info("engine_reconnected", down_s=round(time.monotonic() - self.down_since, 3))
        self.down_since, self.last_error = None, None
        return self._conn

    def _down(self, err: Exception) -> None:
        self.last_error = str(err).strip()[:300]
        self._next_try = time.monotonic() + RETRY_INITIAL_S
        if self.down_since is None:
            self.down_since = time.monotonic()
            self._log.warning("engine_unreachable", error=self.last_error)

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """One transaction, committed when the block ends; a lost server raises ``EngineUnavailable``
        (the transaction did not commit, unless the server went away after the commit reached it)."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield Tx(conn)
            except psycopg.OperationalError as err:
                self._down(err)
                raise EngineUnavailable(f"{self.name}: {err}") from err

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Autocommitted statements (no transaction held between them)."""
        with self._lock:
            conn = self._connection()
            try:
                yield Tx(conn, reconnect=self._connection)
            except psycopg.OperationalError as err:
                self._down(err)
                raise EngineUnavailable(f"{self.name}: {err}") from err

    def retrying(self, work: Callable[[], T], *, wait_s: float | None = None) -> T:
        """``work()`` again (backing off) while the server does not answer; ``wait_s`` bounds the wait
        (None: until it answers or the connection is closed)."""
        deadline = None if wait_s is None else time.monotonic() + wait_s
        delay = RETRY_INITIAL_S
        while True:
            try:
                return work()
            except EngineUnavailable:
                if self._closed.is_set() or (deadline is not None and time.monotonic() + delay > deadline):
                    raise
                self._closed.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def executescript(self, script: str) -> None:
        """The schema: statements separated by ``;``, in one transaction. Daemons starting together
        would race on ``CREATE TABLE IF NOT EXISTS`` (a duplicate catalog row): one at a time."""
        with self.tx() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            for statement in script.split(";"):
                if statement.strip():
                    tx.execute(statement)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except psycopg.Error:  # pragma: no cover  (closing a broken connection)
                    pass
                self._conn = None


def where(dsn: str) -> str:
    """The server a DSN names, without its password: for logs and ``cluster status``."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "?"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or info.get('user') or ''}"
