"""When each source crawls: its phase in the interval, and a cap on crawls in flight with a fair queue.

Ten thousand sources on 15-minute schedules are eleven crawl starts a second on average, but only if
the starts are spread: a schedule anchored at the daemon's start fires every source within the same
few seconds, cycle after cycle. ``phase_s`` gives each source a fixed offset in its interval, derived
from its name (stable across restarts and machines), so the runs of many sources interleave evenly
and a restart does not regroup them.

``CrawlQueue`` runs at most ``limit`` crawls at once; the others wait in order of their scheduled
time, a source at most once (a run falling due while the previous one waits or runs is merged into
it), so none is starved and a herd becomes a backlog that drains at the rate the machine allows,
its lateness counted from the scheduled time. Runs on a schedule go before start-up runs (every
source crawls when the daemon starts): ten thousand of those drain in the capacity the schedule
leaves, and a source's slot coming while its start-up run still waits turns that run into the slot's.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Awaitable, Callable

from crawler.sources import Source, parse_duration
from scheduler.lock import holder

# Any fixed instant: an interval source runs at EPOCH + its phase + k x its interval.
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def phase_s(name: str, interval_s: float) -> float:
    """The source's offset in its interval, in whole seconds: the same for a name every time."""
    if interval_s < 1:
        return 0.0
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return float(int.from_bytes(digest[:8], "big") % int(interval_s))


def trigger_for(source: Source, *, jitter: bool = True):
    """The APScheduler trigger of a source's runs: its cron line (plus the random jitter), or its
    interval at its phase. The phase is what spreads interval runs; a random jitter on top would
    move them for good, since APScheduler counts each interval from the previous, jittered, run."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if source.schedule.cron:
        trigger = CronTrigger.from_crontab(source.schedule.cron, timezone=timezone.utc)
        spread = int(parse_duration(source.schedule.jitter).total_seconds()) if jitter else 0
        trigger.jitter = spread or None
        return trigger
    every = source.schedule.interval.total_seconds()
    return IntervalTrigger(seconds=every, start_date=EPOCH + timedelta(seconds=phase_s(source.name, every)),
                           timezone=timezone.utc)


def next_run(source: Source, last_start: datetime | None, now: datetime) -> datetime:
    """When a running daemon runs a source next (jitter aside): its next slot after its last start, or
    now if it never ran or that slot has passed (the daemon was down: it runs at the daemon's start)."""
    trigger = trigger_for(source, jitter=False)
    if last_start is not None:
        slot = trigger.get_next_fire_time(None, last_start + timedelta(seconds=1))
        if slot > now:
            return slot
    return now


def due_label(data_dir: str | Path) -> str:
    """What a slot that has come is called: "due now" while a daemon holds the data folder (it has the
    crawl queued or under way), else "at daemon start"."""
    return "due now" if holder(data_dir) == "run" else "at daemon start"


class CrawlQueue:
    """``submit(name, due)`` asks for a crawl scheduled at ``due`` (epoch seconds); ``run(name, due)``
    is awaited for it once fewer than ``limit`` crawls are in flight."""

    def __init__(self, limit: int, run: Callable[[str, float], Awaitable[None]]) -> None:
        self.limit = max(1, int(limit))
        self._run = run
        self._heap: list[tuple[bool, float, int, str]] = []  # (start-up run, due, submission order, name)
        self._waiting: dict[str, tuple[bool, float]] = {}  # name -> (start-up run, due)
        self.running: dict[str, asyncio.Task] = {}
        self._order = itertools.count()
        self._closed = False

    def submit(self, name: str, due: float | None = None, *, startup: bool = False) -> bool:
        """Queue a run (``startup``: the daemon's start-up run of a source, which yields to scheduled
        ones); False when the source already waits or runs: this run is merged into that one."""
        if self._closed or name in self.running:
            return False
        due = time.time() if due is None else due
        waiting = self._waiting.get(name)
        if waiting is not None and not (waiting[0] and not startup):
            return False
        # (a scheduled run replaces a start-up run still waiting: the entry left in the heap is skipped)
        self._waiting[name] = (startup, due)
        heapq.heappush(self._heap, (startup, due, next(self._order), name))
        self._pump()
        return True

    def discard(self, name: str) -> None:
        """Forget a waiting run (its source was removed or disabled); a running one finishes."""
        self._waiting.pop(name, None)  # its heap entry is skipped when it comes up

    def waiting(self) -> dict[str, float]:
        """Waiting sources and their scheduled times."""
        return {name: due for name, (_startup, due) in self._waiting.items()}

    def close(self) -> None:
        """Start nothing more; what runs goes on (the caller waits for or cancels ``running``)."""
        self._closed = True
        self._heap.clear()
        self._waiting.clear()

    def _pump(self) -> None:
        while self._heap and len(self.running) < self.limit and not self._closed:
            startup, due, _order, name = heapq.heappop(self._heap)
            if self._waiting.get(name) != (startup, due):
                continue  # discarded or replaced since
            del self._waiting[name]
            task = asyncio.get_running_loop().create_task(self._run(name, due), name=f"crawl:{name}")
            self.running[name] = task
            task.add_done_callback(lambda _t, n=name: self._finished(n))

    def _finished(self, name: str) -> None:
        self.running.pop(name, None)
        self._pump()
