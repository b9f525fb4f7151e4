"""Name resolution the SSRF guard and the connection share, so a host cannot answer differently
to each (DNS rebinding: a public address for the check, an internal one for the connect).

The guard resolves a third-party host once, checks every address, and pins the host to the
addresses it approved; Scrapy's resolver (this module's ``PinnedResolver``, installed through
the ``DNS_RESOLVER`` setting) answers a pinned host from the pin and never asks DNS again. The
connection keeps the host name, so the Host header and TLS SNI are the site's own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer


class Pins:
    """host -> the addresses the guard approved, for a while (bounded in size and age)."""

    def __init__(self, ttl_s: float = 300.0, size: int = 10_000) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._pins: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def pin(self, host: str, addresses: list[str]) -> None:
        with self._lock:
            self._pins[host.lower()] = (time.monotonic() + self.ttl_s, list(addresses))
            self._pins.move_to_end(host.lower())
            while len(self._pins) > self.size:
                self._pins.popitem(last=False)

    def get(self, host: str) -> list[str] | None:
        with self._lock:
            entry = self._pins.get(host.lower())
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._pins[host.lower()]
                return None
            return entry[1]


# One per process, as Scrapy's resolver is: every crawl of the process runs on the one reactor.
PINS = Pins()


class PinnedResolver(CachingThreadedResolver):
    """Scrapy's default resolver, except that a pinned host gets the address the guard approved."""

    def getHostByName(self, name: str, timeout: Any = ()) -> defer.Deferred:
        pinned = PINS.get(name)
        if pinned:
            # IPv4 first: the resolver interface takes one address, and Scrapy's is IPv4 only
            return defer.succeed(next((a for a in pinned if ":" not in a), pinned[0]))
        return super().getHostByName(name, timeout)
