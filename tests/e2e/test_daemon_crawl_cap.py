"""The daemon's schedule at scale, on a small scale: `crawl.max_concurrent_crawls` bounds the crawls in
flight (the others wait their turn, none starved, lateness counted from the scheduled time), and
after the first runs each interval source runs at its own phase of the interval, not at the start's."""

from __future__ import annotations

import queue
import signal
import threading
from datetime import datetime

from scheduler.crawlqueue import EPOCH, phase_s
from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.project import fast_crawl

SOURCES = 5
CAP = 2
EVERY_S = 20


def of(seen: list[dict], event: str) -> list[dict]:
    return [e for e in seen if e.get("event") == event and e.get("source")]


def test_crawls_in_flight_capped_and_runs_at_their_phase(project, fixture_site_factory):
    sites = [fixture_site_factory(2, offset=10 * i, seed=False) for i in range(SOURCES)]
    for site in sites:
        site.delay_s = 0.3  # every crawl takes a while: the queue has to hold some back
    data = project.root / "data"
    names = [f"site-{i}" for i in range(SOURCES)]
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"outbox": str(data / "outbox"), "ledger_path": str(data / "alerts.sqlite3")},
        "crawl": {**fast_crawl(data), "max_concurrent_crawls": CAP},
        "http": {"health_port": None},
        "sources": [site.source(name, schedule={"every": f"{EVERY_S}s", "jitter": "0s"})
                    for name, site in zip(names, sites)],
    })
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []

    def runs(name: str) -> list[dict]:
        return [e for e in of(seen, "crawl_summary") if e["source"] == name]

    try:
        # every source: its first run (all due at the start, never crawled), then one on its own slot
        wait_for(events, seen, lambda s: all(len(runs(n)) >= 2 for n in names), 180)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0

    # In log order: never more than CAP between a crawl's start and its summary, and the cap is used.
    in_flight, peak = 0, 0
    for e in seen:
        if e.get("event") == "crawl_started" and e.get("source"):
            in_flight += 1
            peak = max(peak, in_flight)
        elif e.get("event") == "crawl_summary" and e.get("source"):
            in_flight -= 1
        assert in_flight <= CAP, f"{in_flight} crawls in flight with max_concurrent_crawls {CAP}"
    assert peak == CAP

    starts = of(seen, "crawl_started")
    assert {e["source"] for e in starts} == set(names)  # none starved
    # the start-up runs, all due when the daemon started, went in turn: those that waited say so
    start = min(e["scheduled_at"] for e in starts)
    startup = [e for e in starts if e["scheduled_at"] == start]
    assert len(startup) >= CAP and min(e["late_s"] for e in startup) < 5
    assert max(e["late_s"] for e in startup) >= 0.3
    # every other run is scheduled at its source's phase of the interval, whenever the daemon started
    slots = [e for e in starts if e["scheduled_at"] != start]
    assert len({e["source"] for e in slots}) == SOURCES
    for e in slots:
        at = datetime.fromisoformat(e["scheduled_at"])
        offset = (at - EPOCH).total_seconds() % EVERY_S
        assert abs(offset - phase_s(e["source"], EVERY_S)) < 0.01, (e["source"], offset)
    assert len({phase_s(n, EVERY_S) for n in names}) > 1  # (five names, five phases or nearly)
