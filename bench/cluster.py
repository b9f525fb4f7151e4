"""Per-operation costs of the cluster's engine (PostgreSQL), as the daemons use it: the figures
docs/SCALING.md extrapolates from (what breaks first at 10× and 100×).

Each operation runs through the product's own classes (``Leases``, ``PgFrontier``, ``PgLedger``) on one
connection per client thread against a real PostgreSQL started for the run (tests/harness/postgres.py,
fsync off like the test server: the figures are the engine's CPU and round trips, not a disk's fsync):

* lease take + release (a source's crawl, start and end), lease renew (every tick of a running crawl),
  heartbeat (every tick of every daemon);
* frontier writes (``mark_done``, one per URL finished) and reads (``get``, one per URL listed);
* ledger inserts (``enqueue`` of one new (rule, story), the conditional insert) and claims
  (``due_instant``), with 1 and with 4 client threads (4 daemons' worth of concurrency).

    python -m bench.cluster                   # 20,000 sources, 4 clients
    python -m bench.cluster --sources 2000 --ops 2000 --json out.json
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from bench import common


def timed(clients: int, ops: int, make: Callable[[int], Callable[[int], None]]) -> float:
    """Operations per second: ``clients`` threads each running ``ops`` calls of its own callable."""
    workers = [make(c) for c in range(clients)]
    gate = threading.Barrier(clients + 1)

    def go(work: Callable[[int], None]) -> None:
        gate.wait()
        for i in range(ops):
            work(i)

    threads = [threading.Thread(target=go, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return clients * ops / (time.perf_counter() - started)


def bench(sources: int, ops: int, clients: int) -> list[dict]:
    from crawler.frontier_pg import PgFrontier
    from indexer.alerts.ledger_rows import NewAlert
    from indexer.alerts.ledger_pg import PgLedger
    from indexer.article import Article
    from scheduler.leases import Leases
    from tests.harness.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    rows: list[dict] = []
    try:
        dsn = server.new_database("bench")
        names = [f"src{i:06d}" for i in range(sources)]

        def leases(c: int) -> Leases:
            lease = Leases(dsn, node=f"bench-{c}", host="bench", pid=c, lease_s=60)
            lease.open()
            return lease

        first = leases(0)
        first.register(names)

        def take_release(c: int) -> Callable[[int], None]:
            lease = leases(c)

            def op(_i: int) -> None:
                for name in lease.take(1):
                    lease.release(name, next_due=datetime.now(timezone.utc))  # due again: the table stays full
            return op

        def renew(c: int) -> Callable[[int], None]:
            lease = leases(100 + c)
            held = lease.take(10)
            return lambda _i: lease.renew(held)

        def heartbeat(c: int) -> Callable[[int], None]:
            lease = leases(200 + c)
            return lambda _i: lease.heartbeat()

        def frontier_write(c: int) -> Callable[[int], None]:
            fr = PgFrontier(dsn)
            return lambda i: fr.mark_done(f"https://site{c}.example/{i}", url=f"https://site{c}.example/{i}",
                                          source=names[c], kind="article", status="new")

        def frontier_read(c: int) -> Callable[[int], None]:
            fr = PgFrontier(dsn)
            return lambda i: fr.get(f"https://site{c}.example/{i % ops}")

        def ledger_insert(c: int) -> Callable[[int], None]:
            led = PgLedger(dsn)
            now = time.time()

            def op(i: int) -> None:
                art = Article(url=f"https://site{c}.example/{i}", title="t", text="x", source=names[c],
                              story_id=f"s{c}-{i}")
                led.enqueue([NewAlert(rule="r", article=art, mode="instant", schedule="instant", query="x",
                                      recipients=["a@example.org"])], now)
            return op

        def ledger_claim(c: int) -> Callable[[int], None]:
            led = PgLedger(dsn, claim_s=3600)
            return lambda _i: led.due_instant(time.time(), limit=1)

        for what, make, n in (("lease take + release", take_release, ops), ("lease renew (10 held)", renew, ops),
                              ("heartbeat", heartbeat, ops), ("frontier mark_done", frontier_write, ops),
                              ("frontier get", frontier_read, ops), ("ledger enqueue", ledger_insert, ops),
                              ("ledger claim (due_instant)", ledger_claim, ops // 4)):
            for k in sorted({1, clients}):
                rate = timed(k, n if k == 1 else n // k, make)
                rows.append({"operation": what, "clients": k, "ops_per_s": round(rate)})
                print(f"{what:<28} clients={k}  {rate:>9,.0f} /s", flush=True)
        first.close()
    finally:
        server.cleanup()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=20_000, help="rows in the lease table")
    ap.add_argument("--ops", type=int, default=4000, help="operations per measurement (split over the clients)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent client threads (daemons)")
    ap.add_argument("--json", default=None, help="write the result here")
    args = ap.parse_args(argv)
    common.quiet_logs()
    rows = bench(args.sources, args.ops, args.clients)
    common.emit(common.result("cluster", rows, params=vars(args)), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
