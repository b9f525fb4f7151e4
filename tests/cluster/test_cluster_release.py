"""A run's lease goes back before the run is recorded as ended.

A daemon SIGKILLed between the two would otherwise leave a run the frontier shows as ended under a
lease that then lapses: the source, due as it was, was crawled again by another daemon a few seconds
later instead of an interval later (seen once in test_cluster_daemons: "crawled before it was due").
Here the daemon's crawl records its run in the shared frontier and is then killed, at the worst moment
for the old order, deterministically: the crawl never returns, so nothing the lease loop does after it
ever runs."""

from __future__ import annotations

import asyncio

import pytest

from crawler.accounting import RunAccounting
from crawler.frontier_pg import PgFrontier
from scheduler.cluster import ClusterMember
from scheduler.config import Config
from scheduler.leases import Leases

pytestmark = pytest.mark.timeout(60)

EVERY_S = 3600
LEASE_S = 1.0


class KilledAfterRecording:
    """The lease loop's host: its one crawl does what the runner does at a run's end (the hook, then the
    record in the frontier) and the process is then killed: the crawl never returns."""

    def __init__(self, cfg: Config, frontier: PgFrontier) -> None:
        self.cfg, self.frontier, self.app = cfg, frontier, None
        self.loop = asyncio.get_running_loop()
        self.stopping = False
        self.recorded = asyncio.Event()

    async def crawl(self, name: str, due: float | None = None, before_record=None) -> bool:
        summary = RunAccounting(name).summary(reason="finished")
        if before_record is not None:
            await before_record(summary)
        self.frontier.finish_run(summary)
        self.recorded.set()
        await asyncio.Event().wait()  # SIGKILLed here
        return True


def test_a_daemon_killed_once_its_run_is_recorded_leaves_the_source_due_an_interval_later(pg, pg_dsn):
    db = pg_dsn.rsplit("/", 1)[1]
    cfg = Config.model_validate({
        "cluster": {"postgres": pg_dsn, "lease_seconds": LEASE_S, "node": "a"},
        "sources": [{"name": "s", "feeds": ["http://127.0.0.1:9/feed.xml"],
                     "schedule": {"every": f"{EVERY_S}s", "jitter": "0s"}}],
    })
    other = Leases(pg_dsn, node="b", host="127.0.0.1", pid=2, lease_s=LEASE_S)

    def lease() -> list[str]:
        return pg.psql("SELECT COALESCE(holder, '-'), lease_until IS NULL OR lease_until < now(),"
                       " EXTRACT(EPOCH FROM next_due - taken_at) FROM cluster_sources WHERE name = 's'", db).split("|")

    async def scene() -> tuple[list[str], list[str], list[str]]:
        frontier = PgFrontier(pg_dsn)
        host = KilledAfterRecording(cfg, frontier)
        member = ClusterMember(host, cfg.cluster)
        ticks = asyncio.get_running_loop().create_task(member.run())
        try:
            await asyncio.wait_for(host.recorded.wait(), 30)
            ticks.cancel()  # killed: no tick, renewal or release of this daemon's runs from here on
            await asyncio.gather(ticks, return_exceptions=True)
            last = frontier.runs("s", limit=1)[0]
            assert (last.reason, last.finished_at is not None) == ("finished", True), "the run shows as ended"
            # whatever lease this daemon held lapses: another daemon finds what the kill left
            deadline = asyncio.get_running_loop().time() + 10 * LEASE_S
            while lease()[1].strip() != "t" and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            return lease(), other.take(5), [r for r in frontier.runs("s")]
        finally:
            crawls = list(member.held.values())
            for crawl in crawls:
                crawl.cancel()
            await asyncio.gather(*crawls, return_exceptions=True)
            await member.leave()
            frontier.close()

    row, taken, runs = asyncio.run(scene())
    other.close()
    assert len(runs) == 1
    assert taken == [], f"another daemon found the source due again at once: {row}"
    assert row[0] == "-" and row[1].strip() == "t", f"the lease went back with the run: {row}"
    assert float(row[2]) == EVERY_S, f"due an interval after it was taken: {row}"
