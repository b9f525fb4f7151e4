"""/healthz and /metrics on a local port, served from the daemon's event loop."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = structlog.get_logger("mediawatch.health")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.urls = Counter("mediawatch_urls", "URLs handled by crawls, by final status", ["source", "status"], registry=r)
        self.articles = Counter("mediawatch_articles_found", "New or changed articles found", ["source"], registry=r)
        self.crawl_failures = Counter("mediawatch_crawl_failures", "Crawls that failed outright", ["source"], registry=r)
        self.crawl_seconds = Histogram("mediawatch_crawl_duration_seconds", "Crawl duration", ["source"], registry=r,
                                       buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800))
        self.last_success = Gauge("mediawatch_last_success_timestamp", "Last successful crawl (unix time)", ["source"], registry=r)
        self.indexed = Gauge("mediawatch_indexed_total", "Articles indexed since start", registry=r)
        self.spool_depth = Gauge("mediawatch_spool_depth", "Documents waiting in the spool", registry=r)
        self.alerts_sent = Gauge("mediawatch_alerts_sent_total", "Alert emails accepted since start", registry=r)
        self.quiet = Gauge("mediawatch_source_quiet", "1 when a source found nothing for several intervals", ["source"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    def __init__(self, host: str, port: int, metrics: Metrics, health: Callable[[], dict]) -> None:
        self.host, self.port, self.metrics, self.health = host, port, metrics, health
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health_listening", url=f"http://{self.host}:{self.port}/healthz")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else "/"
            if path.startswith("/healthz"):
                report = self.health()
                status = "503 Service Unavailable" if report.get("status") == "failing" else "200 OK"
                body, ctype = json.dumps(report).encode(), "application/json"
            elif path.startswith("/metrics"):
                body, ctype, status = self.metrics.render(), CONTENT_TYPE_LATEST, "200 OK"
            else:
                body, ctype, status = b"not found\n", "text/plain", "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
