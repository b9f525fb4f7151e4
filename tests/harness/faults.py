"""Helpers for the fault suite (tests/faults): the daemon as a subprocess we can SIGKILL, its JSON
log events, read-only looks into the stores it leaves behind, and a raw-socket HTTP server for the
responses ``http.server`` cannot produce (trickled bytes, no Content-Length, a cut connection).

Nothing here imports product code: the stores are read with ``sqlite3`` and Elasticsearch with
``urllib``, so an assertion never depends on the code under test.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from tests.e2e.conftest import Project, cli_env


# -- the daemon ---------------------------------------------------------------------------------
class Daemon:
    """``mediawatch run`` in its own process group, its stderr parsed as JSON log events.

    ``kill9()`` is the fault: SIGKILL to the daemon's pid only, nothing flushed; whatever children
    it left (the extraction pool) are then reaped by process group so no orphan outlives the test.
    """

    def __init__(self, project: Project, *, log_level: str = "info", env: dict[str, str] | None = None) -> None:
        self.project = project
        args = [sys.executable, "-m", "scheduler.cli", "--config", str(project.config_path)]
        if log_level:
            args += ["--log-level", log_level]
        self.proc = subprocess.Popen(
            [*args, "run"], cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=cli_env(**(env or {})), start_new_session=True,
        )
        self.events: list[dict[str, Any]] = []
        self._q: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise ValueError
            except ValueError:
                event = {"event": "raw", "line": line.rstrip("\n")}
            self._q.put(event)

    def pump(self) -> list[dict[str, Any]]:
        while True:
            try:
                self.events.append(self._q.get_nowait())
            except queue.Empty:
                return self.events

    def wait_for(self, predicate: Callable[[list[dict]], Any], timeout: float, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            got = predicate(self.events)
            if got:
                return got
            if self.proc.poll() is not None:
                self._reader.join(5)  # the rest of its stderr: the reader ends at EOF
                self.pump()
                got = predicate(self.events)
                if got:
                    return got
                raise AssertionError(f"daemon exited ({self.proc.returncode}) waiting for {what}; "
                                     f"last events: {self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; last events: {self.tail()}")
            try:
                self.events.append(self._q.get(timeout=0.2))
            except queue.Empty:
                pass

    def tail(self, n: int = 25) -> list[str]:
        return [f"{e.get('event')}:{e.get('source', '')}:{e.get('status', '')}:{str(e.get('error', ''))[:120]}"
                for e in self.pump()[-n:]]

    def named(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.pump() if e.get("event") == name and all(e.get(k) == v for k, v in match.items())]

    def summaries(self, source: str) -> list[dict[str, Any]]:
        return self.named("crawl_summary", source=source)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def health(self) -> dict[str, Any]:
        """/healthz's report, with the HTTP status under ``"http"``."""
        listening = self.wait_for(lambda ev: [e for e in ev if e.get("event") == "health_listening"], 30,
                                  "health_listening")[0]
        try:
            with urllib.request.urlopen(listening["url"], timeout=5) as resp:
                return {**json.load(resp), "http": resp.status}
        except urllib.error.HTTPError as err:  # 503 for "failing": the report is in the body
            return {**json.load(err), "http": err.code}

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reap_group()
        self._reader.join(5)
        self.pump()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait; returns the exit code (SIGKILL and raise if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(f"daemon did not stop within {timeout}s after SIGTERM") from None
        self._reap_group()
        self._reader.join(5)
        self.pump()
        return self.proc.returncode

    def _reap_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: the daemon's leftover children only

    def close(self) -> None:
        """Teardown: whatever state it is in, the daemon and its children are gone afterwards."""
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.stop(15)
        self._reap_group()
        if self.proc.stdout:
            self.proc.stdout.close()


def problems(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events that mean the daemon itself broke (not a source misbehaving)."""
    bad = []
    for e in events:
        text = json.dumps(e)
        if e.get("event") in ("daemon_start_failed", "crawl_failed", "crawl_crashed", "ingest.worker_error",
                              "flush_failed", "send_alerts_failed") or "Traceback" in text:
            bad.append(e)
    return bad


# -- stores, read-only --------------------------------------------------------------------------
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


# -- a raw HTTP server for misbehaving responses ------------------------------------------------
class RawServer:
    """A tiny threaded TCP server on 127.0.0.1; ``routes[path](conn)`` writes whatever bytes it
    likes to the socket (including nothing, or a trickle). Unknown paths answer 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[socket.socket], None]] = {}
        self.hits: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1].decode("latin-1").split("?", 1)[0]
            self.hits.append(path)
            handler = self.routes.get(path)
            if handler is None:
                body = b"not found"
                if path == "/robots.txt":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                    return
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                             + body)
                return
            handler(conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def trickle(body: bytes, every_s: float, bytes_per_tick: int = 1, max_s: float = 12.0,
            content_type: str = "text/html") -> Callable[[socket.socket], None]:
    """Slowloris: headers at once, then ``bytes_per_tick`` every ``every_s``, for at most ``max_s``."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % (content_type.encode(), len(body)))
        deadline = time.monotonic() + max_s
        for i in range(0, len(body), bytes_per_tick):
            if time.monotonic() > deadline:
                return
            conn.sendall(body[i:i + bytes_per_tick])
            time.sleep(every_s)

    return handler


def stream_without_length(total: int, content_type: str = "text/html; charset=utf-8",
                          chunk: bytes = b"<p>" + b"x" * 1020 + b"</p>\n") -> Callable[[socket.socket], None]:
    """``total`` bytes, no Content-Length, body delimited by closing the connection."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nConnection: close\r\n\r\n<html><body>"
                     % content_type.encode())
        sent = 0
        while sent < total:
            conn.sendall(chunk)
            sent += len(chunk)

    return handler


class TcpProxy:
    """127.0.0.1:<port> → target, switchable: ``down()`` closes every open connection and refuses new
    ones (connection refused, like a stopped node), ``up()`` listens again on the same port.

    ``cut_next_smtp_data(n)``: for the next ``n`` SMTP messages, forward the DATA command and only half
    of the message body, then cut both connections: a drop in the middle of DATA."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._cuts = 0
        self.cut = 0  # how many transfers were cut
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.2)
        self._listener = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()

    def down(self) -> None:
        sock, self._listener = self._listener, None
        if sock is None:
            return
        sock.close()
        if self._thread is not None:
            self._thread.join(2)
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()

    close = down

    def _accept(self, sock: socket.socket) -> None:
        while self._listener is sock:
            try:
                client, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def cut_next_smtp_data(self, n: int = 1) -> None:
        with self._lock:
            self._cuts = n

    def _pipe(self, src: socket.socket, dst: socket.socket, upstream: bool = False) -> None:
        in_data = False
        try:
            src.settimeout(None)
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream and in_data and len(data) > 1:
                    with self._lock:
                        cut = self._cuts > 0
                        if cut:
                            self._cuts -= 1
                            self.cut += 1
                    if cut:
                        dst.sendall(data[: len(data) // 2])
                        break  # the finally cuts both sides mid-body
                if upstream:
                    if data.upper() == b"DATA\r\n":
                        in_data = True  # the body comes next
                    elif data.endswith(b"\r\n.\r\n"):
                        in_data = False
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class BlackHole:
    """A port on 127.0.0.1 where packets go unanswered: its accept queue is full and never drained,
    so the kernel drops new SYNs and a connect hangs (no RST, no answer), as behind a dead route.
    ``silent=True`` instead completes the handshake and never sends a byte (a read that hangs)."""

    def __init__(self, silent: bool = False) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0 if not silent else 64)
        self.port = self.sock.getsockname()[1]
        self._fillers: list[socket.socket] = []
        if not silent:
            for _ in range(3):  # the queue holds backlog + 1; more only to be sure
                c = socket.socket()
                c.setblocking(False)
                with contextlib.suppress(BlockingIOError, OSError):
                    c.connect(("127.0.0.1", self.port))
                self._fillers.append(c)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        for c in self._fillers:
            c.close()
        self.sock.close()
