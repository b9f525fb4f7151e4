"""A real webhook receiver for the suite: an HTTP server on 127.0.0.1 that records what it is POSTed.

It stands in for a Slack/Mattermost incoming webhook (``POST /hooks/<token>``, JSON ``{"text": …}``),
a JSON webhook and a form webhook alike: every request is kept with its path, headers and parsed body.

Controls for fault tests:

* ``down()`` / ``up()`` stop and restart the listener on the *same* port (connections refused between);
* ``drop_next(n)``: the next ``n`` requests are read in full, then the connection is closed without an
  answer (the sender cannot know whether it landed: what a receiver crash mid-request looks like) and
  the request is kept in ``dropped``, not in ``requests``;
* ``fail_next(n, status)``: answer the next ``n`` requests with ``status`` (a 5xx by default);
* ``delay_s``: wait that long before answering each request (a slow service).

``requests`` keeps every accepted request as it came; ``Received.delivery`` is its
``X-Mediawatch-Delivery`` header, the idempotency key a receiver may fold repeats by.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.harness.httpserver import HarnessHTTPServer
from tests.harness.smtp import free_port

DELIVERY_HEADER = "X-Mediawatch-Delivery"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    received_at: float
    body: Any = field(init=False)  # dict from JSON or a form, else the text

    def __post_init__(self) -> None:
        kind = self.headers.get("content-type", "")
        text = self.raw.decode("utf-8", "replace")
        if "json" in kind:
            self.body = json.loads(text)
        elif "x-www-form-urlencoded" in kind:
            self.body = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        elif "multipart/form-data" in kind:
            self.body = _multipart(self.raw, kind)
        else:
            self.body = text

    @property
    def delivery(self) -> str | None:
        return self.headers.get(DELIVERY_HEADER.lower())

    @property
    def text(self) -> str:
        """Everything a person would read in the message, whatever the payload's shape."""
        if isinstance(self.body, dict):
            return "\n".join(str(self.body.get(k, "")) for k in ("title", "message", "text") if self.body.get(k))
        return str(self.body)


def _multipart(raw: bytes, kind: str) -> dict[str, str]:
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + raw)
    return {part.get_param("name", header="content-disposition"): part.get_content()
            for part in msg.iter_parts()}


class WebhookReceiver:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.requests: list[Received] = []
        self.dropped: list[Received] = []
        self.attempts = 0
        self.delay_s = 0.0
        self._drop = 0
        self._fail = 0
        self._fail_status = 503
        self._cond = threading.Condition()
        self._server: HarnessHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, scheme: str, path: str = "/hook") -> str:
        """An Apprise URL for this receiver: ``json``, ``form`` or ``mmost`` (path is then the token)."""
        if scheme == "mmost":
            return f"mmost://{self.host}:{self.port}/{path.strip('/')}"
        return f"{scheme}://{self.host}:{self.port}{path}"

    # -- lifecycle -------------------------------------------------------------------------------
    def up(self) -> None:
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, time.time())
                with receiver._cond:
                    receiver.attempts += 1
                    if receiver._drop > 0:
                        receiver._drop -= 1
                        receiver.dropped.append(got)
                        self.close_connection = True
                        self.connection.close()  # the body arrived; no answer ever goes back
                        return
                    status = 200
                    if receiver._fail > 0:
                        receiver._fail -= 1
                        status = receiver._fail_status
                    delay = receiver.delay_s
                if delay:
                    time.sleep(delay)
                if status == 200:
                    with receiver._cond:
                        receiver.requests.append(got)
                        receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_PUT = do_POST

        server = HarnessHTTPServer((self.host, self.port), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def close(self) -> None:
        self.down()

    # -- fault controls --------------------------------------------------------------------------
    def drop_next(self, n: int = 1) -> None:
        with self._cond:
            self._drop = n

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        with self._cond:
            self._fail, self._fail_status = n, status

    # -- inspection ------------------------------------------------------------------------------
    def on(self, path: str) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self.requests if path is None or r.path.split("?")[0] == path]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} requests on {path or 'any path'}, got {len(got)}")
                self._cond.wait(remaining)

    def __enter__(self) -> "WebhookReceiver":
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def webhook_receivers():
    """Call it for each running webhook receiver a test needs (see ``WebhookReceiver`` for the
    controls); all are closed after the test."""
    made: list[WebhookReceiver] = []

    def make() -> WebhookReceiver:
        receiver = WebhookReceiver()
        receiver.up()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()
