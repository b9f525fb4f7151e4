"""Network faults for the fault suite (tests/faults), on 127.0.0.1: a raw-socket HTTP server for the
responses ``http.server`` cannot produce (trickled bytes, no Content-Length, a cut connection), a TCP
proxy that can go down or cut an SMTP DATA, a black hole that accepts and never answers, and a port that
refuses every connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Callable


@contextlib.contextmanager
def refusing_port():
    """A port of 127.0.0.1 where every connection is refused, for as long as the block runs: bound and
    never listening, so no other server (another test's, on another worker) can take it meanwhile, as it
    could a port found free and let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


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
