"""The sites of ``bench.scale_sources``: one host per source on the loopback network (``127.1.x.y``, a
socket bound on each of those addresses and nothing else), each with its own slowly changing RSS feed.

A feed starts with three items a month old (older than the source's ``max_age``: listed, not fetched)
and gains one new item every change period at a phase of its own, whose article page is then fetched
once. Conditional GETs (ETag / Last-Modified) are answered 304, as a news site's CDN does. Every
request is logged (time, host, path, status) for the politeness figures.
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections import defaultdict

OLD_ITEM_AGE_S = 30 * 86400


def host_address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


class FeedServer:
    """Asyncio HTTP/1.0-style server (one request per connection) on one loopback address per source."""

    def __init__(self, n: int, port: int, change_s: float, started: float) -> None:
        self.n, self.port, self.change_s, self.started = n, port, change_s, started
        self.log: list[tuple[float, str, str, int]] = []  # (time, host, path, status)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._thread = threading.Thread(target=self._run, name="feed-server", daemon=True)

    def start(self, timeout: float = 300) -> None:
        self._thread.start()
        if not self.ready.wait(timeout) or self.error:
            raise RuntimeError(f"feed server did not start: {self.error!r}")

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            for i in range(self.n):
                self._servers.append(self.loop.run_until_complete(
                    asyncio.start_server(self._handle, host_address(i), self.port, backlog=64)))
        except BaseException as err:  # reported by start()
            self.error = err
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    # -- content ---------------------------------------------------------------------------
    def _items(self, i: int, now: float) -> list[tuple[int, float]]:
        """(item number, publication time): three old ones, then one per change period since the start."""
        phase = (i * 7919) % max(1, int(self.change_s))  # spread the hosts' changes over the period
        new = int((now - self.started - phase) // self.change_s) + 1 if now >= self.started + phase else 0
        old = [(k, self.started - OLD_ITEM_AGE_S - k * 3600) for k in range(3)]
        fresh = [(3 + k, self.started + phase + k * self.change_s) for k in range(new)]
        return (fresh[::-1] + old)[:10]

    def _feed(self, host: str, i: int, now: float) -> tuple[bytes, float]:
        items = self._items(i, now)
        last = max(t for _k, t in items)
        entries = "".join(
            f"<item><title>Story {k} of source {i}</title><link>http://{host}:{self.port}/a/{k}.html</link>"
            f"<guid>http://{host}:{self.port}/a/{k}.html</guid>"
            f"<pubDate>{email.utils.formatdate(t, usegmt=True)}</pubDate></item>"
            for k, t in items)
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Source {i}</title>'
                f"<link>http://{host}:{self.port}/</link><description>bench</description>"
                f"<lastBuildDate>{email.utils.formatdate(last, usegmt=True)}</lastBuildDate>"
                f"{entries}</channel></rss>")
        return body.encode(), last

    def _article(self, host: str, i: int, k: int) -> bytes:
        words = " ".join(f"word{(i * 31 + k * 7 + j) % 997}" for j in range(60))
        paras = "".join(f"<p>Paragraph {j} of story {k} from source {i}: {words}.</p>" for j in range(8))
        return (f"<!doctype html><html><head><title>Story {k} of source {i}</title>"
                f'<meta property="og:title" content="Story {k} of source {i}"></head><body>'
                f"<article><h1>Story {k} of source {i}</h1>{paras}</article></body></html>").encode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        self.in_flight[host] += 1
        self.max_in_flight[host] = max(self.max_in_flight[host], self.in_flight[host])
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            headers = {k.strip().lower(): v.strip() for k, _s, v in (ln.partition(":") for ln in lines[1:] if ln)}
            status, body, extra = self._answer(host, path, headers)
            self.log.append((time.time(), host, path, status))
            head_out = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Modified' if status == 304 else 'Not Found'}",
                        f"Content-Length: {len(body)}", "Connection: close", *extra]
            writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.in_flight[host] -= 1
            writer.close()

    def _answer(self, host: str, path: str, headers: dict[str, str]) -> tuple[int, bytes, list[str]]:
        parts = [int(x) for x in host.split(".")[2:]]
        i = parts[0] * 250 + parts[1] - 1
        now = time.time()
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", ["Content-Type: text/plain"]
        if path == "/feed.xml":
            body, last = self._feed(host, i, now)
            etag = f'"{i}-{int(last)}"'
            validators = [f"ETag: {etag}", f"Last-Modified: {email.utils.formatdate(last, usegmt=True)}"]
            if headers.get("if-none-match") == etag:
                return 304, b"", validators
            return 200, body, ["Content-Type: application/rss+xml", *validators]
        if path.startswith("/a/") and path.endswith(".html"):
            return 200, self._article(host, i, int(path[3:-5])), ["Content-Type: text/html; charset=utf-8"]
        return 404, b"not found", ["Content-Type: text/plain"]
