"""`mediawatch cluster status`: the daemons sharing the config's PostgreSQL, their leases, the lag."""

from __future__ import annotations

import json
import sys

from scheduler.config import Config
from scheduler.errors import EXIT_FAILURE, EXIT_OK, UsageError


def cmd_cluster_status(cfg: Config, args) -> int:
    if cfg.cluster is None:
        raise UsageError("no cluster: section in the config (a single daemon: see `mediawatch sources list`)")
    from indexer.pgconn import EngineUnavailable, PgConn, where
    from scheduler.leases import SCHEMA, status

    dsn = cfg.cluster.postgres.get_secret_value()
    pg = PgConn(dsn, name="cluster status")
    try:
        pg.executescript(SCHEMA)  # a cluster no daemon joined yet reads as empty, not as an error
        report = status(pg)
    except EngineUnavailable as err:
        if args.json:
            sys.stdout.write(json.dumps({"engine": where(dsn), "status": "degraded", "error": str(err)}) + "\n")
        sys.stderr.write(f"mediawatch: cluster engine {where(dsn)} unreachable: {err}\n")
        return EXIT_FAILURE
    finally:
        pg.close()
    alive = [d for d in report["daemons"] if d["alive"]]
    verdict = "ok" if alive else "degraded"
    if args.json:
        sys.stdout.write(json.dumps({"engine": where(dsn), "status": verdict, **report}, indent=2) + "\n")
        return EXIT_OK
    out = sys.stdout.write
    out(f"engine {where(dsn)}: {verdict}; {len(alive)} daemon(s) alive, {report['sources']} source(s), "
        f"{report['runs']} run(s), {report['takeovers']} takeover(s)\n")
    out(f"{'daemon':<32} {'host':<20} {'pid':>7} {'heartbeat':>10} {'leases':>6}\n")
    for d in report["daemons"]:
        beat = f"{d['heartbeat_age_s']:.1f}s ago" + ("" if d["alive"] else " (dead)")
        out(f"{d['id']:<32} {d['host']:<20} {d['pid']:>7} {beat:>10} {d['leases']:>6}\n")
    for lease in report["leases"]:
        out(f"  {lease['source']:<30} held by {lease['holder']}, expires in {lease['expires_in_s']:.1f}s\n")
    lag = report["lag"]
    out(f"lag: {lag['due_not_taken']} due source(s) not taken, oldest due {lag['oldest_due_s']:.1f}s ago\n")
    return EXIT_OK
