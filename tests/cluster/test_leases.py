"""Source leases on a real PostgreSQL: one holder at a time, lapsed leases taken over, shares."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from scheduler.leases import Leases, Tick, status
from tests.harness.wait import wait_until

NAMES = [f"src{n:02d}" for n in range(20)]


def daemon(dsn: str, node: str, lease_s: float = 30) -> Leases:
    leases = Leases(dsn, node=node, host="127.0.0.1", pid=1, lease_s=lease_s)
    leases.open()
    return leases


def test_racing_daemons_never_take_one_source_twice(pg_dsn):
    daemons = [daemon(pg_dsn, f"d{i}") for i in range(3)]
    daemons[0].register(NAMES)
    taken: list[list[str]] = [[], [], []]
    gate = threading.Barrier(3)

    def go(i: int) -> None:
        gate.wait()
        for _ in range(10):
            taken[i] += daemons[i].take(2)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    together = taken[0] + taken[1] + taken[2]
    assert sorted(together) == NAMES, "every source taken once, by one daemon"
    assert daemons[0].take(5) == [], "nothing is due that somebody holds"
    for d in daemons:
        d.close()


def test_release_sets_the_next_due_time_and_a_lapsed_lease_is_taken_over(pg_dsn, pg):
    a, b = daemon(pg_dsn, "a", lease_s=1), daemon(pg_dsn, "b", lease_s=1)
    a.register(["x", "y"])
    assert sorted(a.take(5)) == ["x", "y"]
    assert a.release("x", every_s=3600)
    assert a.renew(["y"]) == ["y"]
    # a stops renewing (as if killed): b takes y over once the lease lapsed, and x stays an hour away
    assert wait_until(lambda: b.take(5), 10, "b taking the lapsed lease") == ["y"]
    assert a.renew(["y"]) == [], "a lost it"
    assert not a.release("y", every_s=1), "a cannot give back what it no longer holds"
    row = pg.psql("SELECT holder, takeovers FROM cluster_sources WHERE name = 'y'", pg_dsn.rsplit("/", 1)[1])
    assert row.strip() == "b|1"
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert b.release("y", next_due=later)
    assert b.take(5) == []
    for d in (a, b):
        d.close()


def test_each_daemon_takes_its_share_of_what_is_due(pg_dsn):
    assert Leases.share(Tick(alive=3, due=60), free=16) == 16
    assert Leases.share(Tick(alive=3, due=30), free=16) == 10
    assert Leases.share(Tick(alive=2, due=1), free=4) == 1
    assert Leases.share(Tick(alive=1, due=5), free=0) == 0
    a, b = daemon(pg_dsn, "a"), daemon(pg_dsn, "b")
    a.register(NAMES)
    assert a.heartbeat() == Tick(alive=1, due=20)
    assert b.heartbeat() == Tick(alive=2, due=20)
    got = a.take(Leases.share(a.heartbeat(), free=16))
    assert len(got) == 10 and b.heartbeat().due == 10
    b.leave()
    report = status(a.pg)
    assert [d["id"] for d in report["daemons"]] == ["a"] and report["daemons"][0]["leases"] == 10
    assert report["lag"]["due_not_taken"] == 10 and report["sources"] == 20
    assert {lease["source"] for lease in report["leases"]} == set(got)
    a.leave()
    assert status(b.pg)["lag"]["due_not_taken"] == 20, "a clean stop gives everything back, due as it was"
    for d in (a, b):
        d.close()


def test_a_silent_daemon_is_reaped_once(pg_dsn):
    a, b, c = daemon(pg_dsn, "a", lease_s=1), daemon(pg_dsn, "b", lease_s=1), daemon(pg_dsn, "c", lease_s=1)
    for d in (a, b, c):
        d.heartbeat()
    assert a.reap() == [] and b.reap() == []

    def reaped() -> list:
        b.heartbeat()  # b and c live on; a goes silent
        c.heartbeat()
        return b.reap() + c.reap()

    got = wait_until(reaped, 10, "a reaped after two silent leases", poll_s=0.2)
    assert [node for node, _started in got] == ["a"], "by one daemon only"
    assert [r["id"] for r in status(b.pg)["daemons"]] == ["b", "c"]
    for d in (a, b, c):
        d.close()


def test_crawl_now_makes_a_source_due(pg_dsn):
    a = daemon(pg_dsn, "a")
    a.register(["x"])
    assert a.take(1) == ["x"]
    assert a.release("x", every_s=3600) and a.take(1) == []
    assert a.make_due("x") and a.take(1) == ["x"]
    assert not a.make_due("unknown")
    a.close()


def test_the_table_follows_the_config(pg_dsn):
    a, b = daemon(pg_dsn, "a"), daemon(pg_dsn, "b")
    a.register(["x", "y", "z"])
    assert sorted(a.take(5)) == ["x", "y", "z"]
    assert a.release("z", every_s=60)
    a.register(["x"])  # y and z left the config: z (not held) goes now, y when its crawl ends
    assert status(a.pg)["sources"] == 2
    b.forget("x")  # only the holder can
    a.forget("y")
    assert status(a.pg)["sources"] == 1 and status(a.pg)["leases"][0]["source"] == "x"
    for d in (a, b):
        d.close()
