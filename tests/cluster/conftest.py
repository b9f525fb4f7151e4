"""The cluster suite's engine: one real PostgreSQL for the session, a fresh database per test."""

from __future__ import annotations

import pytest

from tests.harness.postgres import PostgresServer


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL; a test may restart() it (data and port kept)."""
    server = PostgresServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def pg(pg_server) -> PostgresServer:
    """The server, up (after a test that stopped it)."""
    if pg_server.proc is None:
        pg_server.start()
    return pg_server


@pytest.fixture
def pg_dsn(pg) -> str:
    """A database of this test's own."""
    return pg.new_database()
