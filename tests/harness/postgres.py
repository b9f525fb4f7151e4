"""A real PostgreSQL server for the cluster tests: Debian's ``postgresql`` binaries, a fresh data folder
in a temp dir, listening on 127.0.0.1 on a free port, run as the same unprivileged user as the
Elasticsearch node when we are root (PostgreSQL refuses to run as root).

``restart()`` is the fault "the engine restarted mid-run": a fast shutdown (clients' connections cut),
then the same data folder and port again. ``new_database()`` gives each test its own database, so
tests sharing the session's server never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.harness.elasticsearch import file_tail, free_port, service_user

PG_USER = "mediawatch"
_VERSIONS = ("17", "16", "15", "14", "13")


def bin_dir() -> Path:
    """The newest installed server's binaries (Debian keeps them out of PATH)."""
    for version in _VERSIONS:
        where = Path("/usr/lib/postgresql") / version / "bin"
        if (where / "postgres").exists():
            return where
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")


class PostgresServer:
    def __init__(self) -> None:
        self.bin = bin_dir()
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="mediawatch-pg-"))
        self.data = self.workdir / "data"
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)
        self._user = service_user()
        self.workdir.chmod(0o755)
        if self._user is not None:
            os.chown(self.workdir, self._user.pw_uid, self._user.pw_gid)
        self._as_user([str(self.bin / "initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust",
                       "--encoding=UTF8", "--locale=C.UTF-8"], check=True)

    def _as_user(self, argv: list[str], check: bool = False, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(argv, user=self._user.pw_uid if self._user else None,
                              group=self._user.pw_gid if self._user else None, capture_output=True, text=True,
                              check=check, cwd=self.workdir, **kw)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60) -> None:
        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen(
            # fsync off: the tests stop the server cleanly (or restart it with a fast shutdown, which
            # writes everything out), so durability against power loss is not what they measure.
            [str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", str(self.workdir), "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir,
            user=self._user.pw_uid if self._user else None, group=self._user.pw_gid if self._user else None,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.log_tail()}")
            ready = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                    "-U", PG_USER, "-t", "1"], capture_output=True)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        """A fast shutdown (SIGINT): open transactions are rolled back, clients disconnected."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(2)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; its DSN."""
        name = f"{prefix}{os.getpid()}_{next(self._names)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the server's own client; its unaligned output (the tests read the engine without
        the code under test)."""
        client = str(self.bin / "psql") if (self.bin / "psql").exists() else "psql"
        out = subprocess.run([client, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(database), "-c", sql],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout

    def log_tail(self, lines: int = 40) -> str:
        return file_tail(self.workdir / "server.log", lines)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
