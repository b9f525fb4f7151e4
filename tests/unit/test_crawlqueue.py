"""When sources crawl (scheduler/crawlqueue.py): each interval source at a phase of its own, spread over
its interval and the same at every start; at most N crawls in flight, the rest in order of their
scheduled time, a source at most once, none starved."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

from crawler.sources import Source
from scheduler.crawlqueue import EPOCH, CrawlQueue, next_run, phase_s, trigger_for


def source(name: str, **schedule) -> Source:
    return Source(name=name, feeds=["https://example.org/feed.xml"], schedule={"jitter": "0s", **schedule})


def test_phases_spread_evenly_over_the_interval_and_stay_put():
    names = [f"s{i:05d}" for i in range(10_000)]
    phases = [phase_s(n, 900) for n in names]
    assert all(0 <= p < 900 and p == int(p) for p in phases)
    assert phases == [phase_s(n, 900) for n in names]  # deterministic per source
    # 15 one-minute slices of the 15-minute interval: each gets its share (667) give or take a fifth,
    # where anchoring at the daemon's start put all 10,000 in the first slice
    per_minute = Counter(int(p // 60) for p in phases)
    assert len(per_minute) == 15
    assert all(abs(count - 10_000 / 15) < 10_000 / 15 / 5 for count in per_minute.values()), per_minute


def test_first_runs_spread_across_the_interval_whenever_the_daemon_starts():
    sources = [source(f"site-{i}", every="15m") for i in range(3000)]
    for now in (datetime(2026, 12, 4, 19, 0, 7, tzinfo=timezone.utc),
                datetime(2027, 3, 1, 8, 41, 55, tzinfo=timezone.utc)):
        firsts = [trigger_for(s, jitter=False).get_next_fire_time(None, now) for s in sources]
        offsets = [(f - now).total_seconds() for f in firsts]
        assert all(0 <= o < 900 for o in offsets)
        # at most a little over the even share (3000 / 900 = 3.3 a second) in any 10 s: no herd
        per_10s = Counter(int(o // 10) for o in offsets)
        assert max(per_10s.values()) < 3 * 3000 / 90, per_10s.most_common(3)
        # the same source keeps its slot: the phase is a property of the source, not of the start
        for src, first in zip(sources[:50], firsts):
            assert (first - EPOCH).total_seconds() % 900 == phase_s(src.name, 900)


def test_interval_runs_stay_on_their_phase_and_cron_runs_get_the_jitter():
    now = datetime(2026, 12, 4, 19, 0, 0, tzinfo=timezone.utc)
    src = source("steady", every="15m", jitter="30s")
    trigger = trigger_for(src)
    runs = [trigger.get_next_fire_time(None, now)]
    for _ in range(20):  # APScheduler counts each interval from the previous run: nothing accumulates
        runs.append(trigger.get_next_fire_time(runs[-1], runs[-1]))
    assert all((r - EPOCH).total_seconds() % 900 == phase_s("steady", 900) for r in runs)
    nightly = source("nightly", cron="30 3 * * *", jitter="30s")
    plain = trigger_for(nightly, jitter=False).get_next_fire_time(None, now)
    jittered = [trigger_for(nightly).get_next_fire_time(None, now) for _ in range(50)]
    assert all(timedelta(0) <= j - plain <= timedelta(seconds=30) for j in jittered)
    assert len(set(jittered)) > 1


def test_next_run_now_for_new_or_missed_sources_else_the_next_slot():
    src = source("a", every="1h")
    now = datetime(2026, 12, 4, 19, 0, 0, tzinfo=timezone.utc)
    assert next_run(src, None, now) == now  # never ran
    slot = trigger_for(src, jitter=False).get_next_fire_time(None, now)
    previous = slot - timedelta(hours=1)
    assert previous <= now
    assert next_run(src, previous, now) == slot  # ran at its previous slot
    # the daemon was down through a slot: due now
    assert next_run(src, slot - timedelta(hours=2), now) == now
    nightly = source("n", cron="30 3 * * *")
    ran = datetime(2026, 12, 4, 3, 30, 2, tzinfo=timezone.utc)
    assert next_run(nightly, ran, now) == datetime(2026, 12, 5, 3, 30, tzinfo=timezone.utc)


async def _wait(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0)


def test_cap_holds_order_is_fair_and_duplicates_merge():
    async def scenario() -> None:
        release: dict[str, asyncio.Event] = {}
        started: list[tuple[str, float]] = []
        finished: list[str] = []
        peak = 0

        async def run(name: str, due: float) -> None:
            nonlocal peak
            started.append((name, due))
            peak = max(peak, len(queue.running))
            release[name] = asyncio.Event()
            await release[name].wait()
            finished.append(name)

        queue = CrawlQueue(3, run)
        # due times out of submission order: the queue starts the earliest scheduled first
        dues = {f"s{i:02d}": 1000.0 + (i * 7) % 20 for i in range(20)}
        for name, due in dues.items():
            assert queue.submit(name, due)
        await _wait(lambda: len(started) == 3)
        assert not queue.submit("s05", 1.0)  # already waiting: merged, not queued twice
        assert not queue.submit(started[0][0], 2.0)  # already running: merged
        # finish the runs one at a time, newest first, so an early starter never frees a place twice
        while len(finished) < 20:
            assert len(queue.running) <= 3
            name = next(n for n, _d in reversed(started) if n not in finished and n in release)
            release[name].set()
            await _wait(lambda: name in finished and (len(started) == 20 or len(queue.running) == 3))
        assert peak == 3
        assert sorted(n for n, _d in started) == sorted(dues)  # every one ran once: none starved
        # the first three took the free places as they came; the others waited and went earliest due first
        first = {n for n, _d in started[:3]}
        assert first == {"s00", "s01", "s02"}
        assert [d for _n, d in started[3:]] == sorted(d for n, d in dues.items() if n not in first)
        await _wait(lambda: not queue.running and not queue.waiting())

    asyncio.run(scenario())


def test_discarded_and_closed_runs_never_start():
    async def scenario() -> None:
        gate = asyncio.Event()
        ran: list[str] = []

        async def run(name: str, due: float) -> None:
            ran.append(name)
            await gate.wait()

        queue = CrawlQueue(1, run)
        queue.submit("a", 1.0)
        queue.submit("b", 2.0)
        queue.submit("c", 3.0)
        queue.discard("b")
        gate.set()
        await _wait(lambda: ran == ["a", "c"] and not queue.running)
        queue.close()
        assert not queue.submit("d", 4.0)
        assert ran == ["a", "c"]

    asyncio.run(scenario())


def test_scheduled_runs_go_before_start_up_runs_and_take_over_a_waiting_one():
    async def scenario() -> None:
        gate = asyncio.Event()
        ran: list[tuple[str, float]] = []

        async def run(name: str, due: float) -> None:
            ran.append((name, due))
            await gate.wait()

        queue = CrawlQueue(1, run)
        for i, name in enumerate(["a", "b", "c", "d"]):  # the daemon's start: every source, in turn
            queue.submit(name, 100.0 + i, startup=True)
        assert queue.submit("x", 150.0)  # a slot of another source, due after them
        assert queue.submit("c", 160.0)  # c's slot while its start-up run still waits: it becomes the slot's
        assert not queue.submit("c", 170.0, startup=True)
        assert queue.waiting() == {"b": 101.0, "c": 160.0, "d": 103.0, "x": 150.0}
        gate.set()
        await _wait(lambda: len(ran) == 5 and not queue.running)
        # a was running; then the scheduled runs (earliest due first), then the start-up runs left
        assert ran == [("a", 100.0), ("x", 150.0), ("c", 160.0), ("b", 101.0), ("d", 103.0)]

    asyncio.run(scenario())
