"""One daemon's membership in a cluster: the lease loop that replaces the per-source jobs.

Every tick (a fifth of a lease) the daemon heartbeats, renews the leases of the sources it is
crawling, cancels a crawl whose lease another daemon took (it lapsed while the engine was away), and
takes its share of the due sources, each crawled as the single daemon would crawl it. The engine's
calls run in a thread: a server that is down or slow never holds the event loop. While it does not
answer, the daemon says ``degraded``, finishes what it is crawling and takes nothing new, asking
again with backoff; when it answers, the daemon carries on where the table says.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Protocol

import structlog

from crawler.sources import parse_duration
from indexer.pgconn import EngineUnavailable
from scheduler.app import node_name
from scheduler.config import ClusterConfig
from scheduler.leases import Leases


class Host(Protocol):
    """What the lease loop needs of the daemon that runs it (scheduler.daemon.Daemon)."""

    cfg: Any  # scheduler.config.Config
    app: Any  # scheduler.app.App, or None while the stores open
    loop: asyncio.AbstractEventLoop

    @property
    def stopping(self) -> bool: ...

    async def crawl(self, name: str, due: float | None = None,
                    before_record: Callable[[Any], Awaitable[None]] | None = None) -> bool: ...


log = structlog.get_logger("mediawatch.cluster")

BACKOFF_MAX_S = 10.0
REGISTER_EVERY_S = 300.0


class ClusterMember:
    def __init__(self, daemon: Host, cfg: ClusterConfig) -> None:
        self.daemon = daemon
        self.cfg = cfg
        self.node = node_name(daemon.cfg)  # the ledger's watermark goes by the same name
        self.tick_s = max(0.2, min(5.0, cfg.lease_seconds / 5))
        self.leases = Leases(cfg.postgres.get_secret_value(), node=self.node, host=socket.gethostname(),
                             pid=os.getpid(), lease_s=cfg.lease_seconds)
        self.held: dict[str, asyncio.Task] = {}
        self.down_since: float | None = None
        self.error: str | None = None
        self._beating_since: float | None = None  # start of the current run of heartbeats the engine took
        self._opened = False
        self._registered: frozenset[str] = frozenset()
        self._register_at = 0.0
        self._wake = asyncio.Event()
        # Its own thread: the loop's default executor is shared with the crawls' flushes, and a renewal
        # queued behind them would let a lease lapse under a live crawl.
        self._engine = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cluster-leases")
        self._log = log.bind(node=self.node)

    async def _call(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self._engine, functools.partial(fn, *args, **kwargs))

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        delay = self.tick_s
        while not self.daemon.stopping:
            try:
                await self.tick()
            except EngineUnavailable as err:
                self._down(err)
                delay = min(max(delay, self.tick_s) * 2, BACKOFF_MAX_S)
            except Exception as err:  # the loop is the daemon's whole job in a cluster: it must go on
                self._log.error("cluster_tick_failed", error=str(err), exc_info=True)
                delay = self.tick_s
            else:
                if self.down_since is not None:
                    self._log.info("cluster_engine_back", down_s=round(time.monotonic() - self.down_since, 1),
                                   held=sorted(self.held))
                self.down_since, self.error = None, None
                delay = self.tick_s
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass

    def _down(self, err: Exception) -> None:
        self.error = str(err)[:300]
        self._beating_since = None
        if self.down_since is None:
            self.down_since = time.monotonic()
            self._log.warning("cluster_engine_unreachable", error=self.error, held=sorted(self.held))

    async def tick(self) -> None:
        if not self._opened:
            await self._call(self.leases.open)
            self._opened = True
            self._log.info("cluster_joined", lease_s=self.cfg.lease_seconds, tick_s=self.tick_s)
        names = [src.name for src in self.daemon.cfg.sources if src.enabled]
        if frozenset(names) != self._registered or time.monotonic() > self._register_at:
            # again now and then: a daemon still on an older config may have dropped a source of ours
            await self._call(self.leases.register, names)
            self._registered = frozenset(names)
            self._register_at = time.monotonic() + REGISTER_EVERY_S
        beat = await self._call(self.leases.heartbeat)
        if self._beating_since is None:
            self._beating_since = time.monotonic()
        # Only a daemon that has been beating for a backoff and a lease reaps: after an outage of the engine
        # every heartbeat is stale, and a live daemon still in its backoff is not dead.
        reaping = time.monotonic() - self._beating_since >= BACKOFF_MAX_S + self.cfg.lease_seconds
        for node, started in (await self._call(self.leases.reap) if reaping else []):
            # off the lease thread: a catch-up reads the index and may take a while
            asyncio.get_running_loop().run_in_executor(None, self._recover, node, started)
        if self.held:
            held = list(self.held)
            kept = set(await self._call(self.leases.renew, held))
            for name in held:
                if name not in kept and name in self.held:
                    # it lapsed while the engine was away and another daemon has it now: one crawler per source
                    self._log.warning("lease_lost", source=name)
                    self.held[name].cancel()
        if self.daemon.stopping:
            return
        free = self.cfg.max_running - len(self.held)
        taken = await self._call(self.leases.take, Leases.share(beat, free))
        for name in taken:
            self._log.info("lease_taken", source=name, alive=beat.alive, due=beat.due)
            self.held[name] = asyncio.get_running_loop().create_task(self._crawl(name))

    async def _crawl(self, name: str) -> None:
        given_back = False

        async def give_back(_summary: Any) -> None:
            # Before the frontier records the run as ended: a daemon killed after that record left the
            # lease to lapse, and the source, due as it was, was crawled again long before its interval.
            nonlocal given_back
            self.held.pop(name, None)  # not renewed any more: a lease given back would read as lost
            given_back = await self._give_back(name, ran=True)

        ran = False
        try:
            ran = await self.daemon.crawl(name, before_record=give_back)
        finally:
            self.held.pop(name, None)
            if not given_back:
                await self._give_back(name, ran)
            self._wake.set()  # a free slot: take the next due source now rather than at the next tick

    async def _give_back(self, name: str, ran: bool) -> bool:
        try:
            await self._call(self._release, name, ran)
        except EngineUnavailable as err:
            # the lease lapses by itself; the source is then due as it was, and crawled again
            self._log.warning("lease_release_failed", source=name, error=str(err)[:300])
            return False
        return True

    def _release(self, name: str, ran: bool) -> None:
        try:
            src = self.daemon.cfg.source(name)
        except KeyError:  # not (or no longer) in this daemon's config
            self.leases.forget(name)
            return
        jitter = parse_duration(src.schedule.jitter).total_seconds()
        if src.schedule.cron:
            from apscheduler.triggers.cron import CronTrigger

            now = datetime.now(timezone.utc)
            nxt = CronTrigger.from_crontab(src.schedule.cron, timezone=timezone.utc).get_next_fire_time(None, now)
            self.leases.release(name, next_due=nxt, ran=ran)
        else:
            every = src.schedule.interval.total_seconds() + random.uniform(0, jitter)
            self.leases.release(name, every_s=every, ran=ran)

    def _recover(self, node: str, started: float) -> None:
        """A dead daemon may have indexed a batch and died before matching it (its alerts were never
        recorded): re-match everything indexed since its watermark. Create-only, so what it did match
        is not recorded again."""
        key = f"matched_until:{node}"
        ledger = self.daemon.app.alerts.ledger
        try:
            since = ledger.watermark_of(key)
            report = self.daemon.app.alerts.catch_up(since=since if since is not None else started)
            ledger.forget_watermark(key)
        except Exception as err:  # the dead daemon's row is gone: say so loudly, and go on
            self._log.error("cluster_recovery_failed", dead=node, error=str(err)[:300], exc_info=True)
            return
        self._log.info("cluster_daemon_reaped", dead=node, since=since, matched=report.matched,
                       new_alerts=report.enqueued)

    def crawl_soon(self, name: str) -> bool:
        """The web app's "crawl now": the source made due, then a tick right away (any thread)."""
        if not any(src.name == name and src.enabled for src in self.daemon.cfg.sources):
            return False

        async def due() -> None:
            try:
                await self._call(self.leases.make_due, name)
            except EngineUnavailable as err:
                self._log.warning("crawl_now_failed", source=name, error=str(err)[:300])
            self._wake.set()

        # the web app calls this from its worker threads
        self.daemon.loop.call_soon_threadsafe(lambda: self.daemon.loop.create_task(due()))
        return True

    # -- stop, health ---------------------------------------------------------------------------
    async def leave(self) -> None:
        """After the crawls ended: whatever is still held goes back, and the daemon leaves the table."""
        self._wake.set()
        try:
            await self._call(self.leases.leave)
            self._log.info("cluster_left")
        except EngineUnavailable as err:
            self._log.warning("cluster_leave_failed", error=str(err)[:300])
        self.leases.close()
        self._engine.shutdown(wait=False)

    def health(self) -> str | None:
        """Why the cluster's engine counts as unreachable now, if it does."""
        if self.down_since is not None:
            return f"cluster engine unreachable for {time.monotonic() - self.down_since:.0f}s: {self.error}"
        return None

    def report(self) -> dict[str, Any]:
        return {"node": self.node, "held": sorted(self.held), "engine": "down" if self.down_since else "up"}
