"""Ten thousand sources on 15-minute schedules against the real daemon (issue 20, item 6).

Each source is a host of its own on the loopback network (``127.1.x.y``; a socket is bound on each of
those addresses, never on anything else) with its own RSS feed. A feed changes slowly: it starts with
three items a month old (older than the source's ``max_age``: listed, not fetched) and gains one new
item every ``--change-minutes`` at a phase of its own, whose article page is then fetched once. The
server answers conditional GETs (ETag / Last-Modified) with 304, as a news site's CDN does.

The daemon runs as ``python -m scheduler.cli --config ... run`` in a subprocess, JSON logs to a file,
the embedded SQLite index. Measured:

* CPU of the daemon's process tree (extraction workers included) from /proc, averaged over a warm-up
  (the first cycle: every source is new, so every one is due at the start and waits its turn under
  ``crawl.max_concurrent_crawls``) and over the steady window after it;
* peak summed RSS of the tree (sampled every second);
* lateness of each scheduled crawl: its ``crawl_started`` log time minus the run time APScheduler
  submitted for it (the line's ``scheduled_at``: the source's phase in the interval plus whole intervals);
  a slot of the window (the source's phase + whole intervals) that no crawl started for by the end
  counts as late as it then was; also the lateness of its feed request as the server saw it, and the
  most crawls in flight at once;
* politeness from the server's own log: requests per host per 15 minutes, the shortest gap between two
  requests to one host, the most requests one host had in flight at once.

    .venv/bin/python -m bench.scale_sources                               # 10,000 sources, 15 + 15 minutes
    .venv/bin/python -m bench.scale_sources --sources 200 --minutes 3 --warmup-minutes 1   # smoke run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, proctree  # noqa: E402
from bench.scale_feeds import FeedServer, host_address  # noqa: E402
from bench.scale_logs import (  # noqa: E402
    fetch_lateness, lateness, parse_log, pct, peak_in_flight, politeness, seconds, server_names, slots, starts,
    ts, unstarted,
)

TARGET_CPU = 15.0  # % of one core
TARGET_RSS_MB = 1024.0
TARGET_LATE_P95_S = 60.0


def write_config(root: Path, n: int, port: int, every: str, jitter: str, max_crawls: int | None) -> Path:
    config = {
        "data_dir": str(root / "data"),
        **({"crawl": {"max_concurrent_crawls": max_crawls}} if max_crawls else {}),
        "log": {"format": "json", "level": "info"},
        "http": {"health_port": 0},
        "sources": [{
            "name": f"s{i:05d}", "feeds": [f"http://{host_address(i)}:{port}/feed.xml"],
            "schedule": {"every": every, "jitter": jitter}, "allow_private_addresses": True, "max_age": "7d",
        } for i in range(n)],
    }
    path = root / "mediawatch.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=15, help="steady window measured after the warm-up")
    ap.add_argument("--warmup-minutes", type=float, default=15, help="the first cycle, measured apart")
    ap.add_argument("--every", default="15m")
    ap.add_argument("--jitter", default="30s")
    ap.add_argument("--change-minutes", type=float, default=360, help="a feed gains one item this often")
    ap.add_argument("--max-crawls", type=int, help="crawl.max_concurrent_crawls (default: the daemon's)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, data, daemon log)")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    if args.sources > 250 * 250:
        ap.error("at most 62,500 sources (127.1.0.1 .. 127.1.249.250)")
    common.exit_on_sigterm()
    started = time.time()
    root = Path(tempfile.mkdtemp(prefix="mw-scale-sources-"))
    port = common.free_port()
    server = FeedServer(args.sources, port, 60 * args.change_minutes, started)
    server.start()
    print(f"{args.sources:,} sources on {host_address(0)} .. {host_address(args.sources - 1)} port {port} "
          f"(up in {time.time() - started:.0f} s), every {args.every} + jitter {args.jitter}, a feed changes "
          f"every {args.change_minutes:g} min; load average {os.getloadavg()[0]:.1f}", flush=True)
    config = write_config(root, args.sources, port, args.every, args.jitter, args.max_crawls)
    log_path = root / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env["PYTHONPATH"] = str(common.REPO)
    with open(log_path, "wb") as log_fh:
        proc = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "--config", str(config), "run"],
                                cwd=root, stdout=log_fh, stderr=subprocess.STDOUT, env=env)
    rss = proctree.PeakRss(proc.pid, interval=1.0)
    t_start = time.time()
    try:
        rss.__enter__()
        cpu0 = proctree.cpu_seconds_tree(proc.pid)
        deadline = t_start + 60 * args.warmup_minutes
        while time.time() < deadline and proc.poll() is None:
            time.sleep(5)
        t_warm, cpu_warm, peak_warm = time.time(), proctree.cpu_seconds_tree(proc.pid), rss.peak
        print(f"  warm-up {t_warm - t_start:.0f} s: CPU {100 * (cpu_warm - cpu0) / (t_warm - t_start):.1f} % of a "
              f"core, peak RSS {peak_warm / 2**20:.0f} MB", flush=True)
        deadline = t_warm + 60 * args.minutes
        while time.time() < deadline and proc.poll() is None:
            time.sleep(5)
        t_end, cpu_end = time.time(), proctree.cpu_seconds_tree(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited {proc.returncode}; log: {log_path}")
    finally:
        rss.__exit__()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server.stop()
    events = parse_log(log_path)
    window = t_end - t_warm
    runs = starts(events)
    merged = starts(events, "crawl_merged")
    merged_w = sum(1 for pairs in merged.values() for due, _t in pairs if t_warm <= due < t_end)
    basis = "scheduled_at of crawl_started (the run time APScheduler submitted)"
    late_w, started_w = lateness(runs, t_warm, t_end)
    late_all, started_all = lateness(runs, t_start, t_end)
    # the slots of the window no crawl started for by its end count too, as late as they were then
    waiting_w = unstarted({n: runs.get(n, []) + merged.get(n, []) for n in set(runs) | set(merged)}, slots(list(server_names(args.sources)), seconds(args.every), t_warm, t_end),
                          t_end)
    missed_w = len(waiting_w)
    late_w = late_w + waiting_w
    fetch_w, unfetched_w = fetch_lateness(server.log, runs, t_warm, t_end)
    in_flight = peak_in_flight(events)
    polite = politeness(server.log, t_warm, t_end, window)
    articles = sum(int(e.get("articles", 0) or 0) for e in events
                   if e.get("event") == "crawl_summary" and ts(e) >= t_warm)
    errors = sum(1 for e in events if e.get("level") in ("error", "critical") and ts(e) >= t_warm)
    statuses = defaultdict(int)
    for t, _h, _p, status in server.log:
        if t >= t_warm:
            statuses[status] += 1
    row = {
        "system": f"daemon, {args.sources} sources every {args.every}",
        "sources": args.sources, "window_s": round(window), "warmup_s": round(t_warm - t_start),
        "cpu_pct_window": round(100 * (cpu_end - cpu_warm) / window, 1),
        "cpu_pct_warmup": round(100 * (cpu_warm - cpu0) / (t_warm - t_start), 1),
        "peak_rss_mb": round(rss.peak / 2**20), "peak_rss_warmup_mb": round(peak_warm / 2**20),
        "late_p50_s": pct(late_w, 0.5), "late_p95_s": pct(late_w, 0.95), "late_max_s": pct(late_w, 1.0),
        "fetch_late_p50_s": pct(fetch_w, 0.5), "fetch_late_p95_s": pct(fetch_w, 0.95),
        "runs_unfetched_window": unfetched_w,
        "crawls_started_window": started_w, "runs_missed_window": missed_w,
        "late_p50_s_all": pct(late_all, 0.5), "late_p95_s_all": pct(late_all, 0.95),
        "crawls_started_all": started_all, "max_crawls_in_flight": in_flight, "runs_merged_window": merged_w,
        "articles_window": articles, "errors_window": errors, "server_status_window": dict(statuses),
        "max_in_flight_per_host": max(server.max_in_flight.values(), default=0),
        "lateness_basis": basis, **polite,
    }
    print(f"  run times from: {basis}", flush=True)
    print(f"  window {window:.0f} s: CPU {row['cpu_pct_window']} % of a core, peak RSS {row['peak_rss_mb']} MB, "
          f"{started_w:,} crawls started, {merged_w:,} runs merged into one that began recently or waited, "
          f"{missed_w:,} slots without a start (counted late to the end), "
          f"at most {in_flight} crawls in flight, lateness p50 "
          f"{row['late_p50_s']} s p95 {row['late_p95_s']} s max {row['late_max_s']} s", flush=True)
    print(f"  feed requests at the server for the runs scheduled in the window: lateness p50 "
          f"{row['fetch_late_p50_s']} s p95 {row['fetch_late_p95_s']} s, {unfetched_w:,} runs without a feed "
          f"request (up to the daemon's stop)", flush=True)
    print(f"  whole run (warm-up included): {started_all:,} crawls, lateness p50 "
          f"{row['late_p50_s_all']} s p95 {row['late_p95_s_all']} s", flush=True)
    print(f"  politeness: {polite['requests']:,} requests to {polite['hosts_seen']:,} hosts in the window "
          f"({dict(statuses)}), at most {polite['max_requests_per_host']} to one host, "
          f"{polite['mean_requests_per_host_per_15min']} per host per 15 min, shortest gap on one host "
          f"{polite['min_gap_same_host_s']} s, at most {row['max_in_flight_per_host']} in flight on one host; "
          f"{articles} new articles, {errors} error lines", flush=True)
    targets = [
        common.target("average CPU % of one core (steady window)", row["cpu_pct_window"], "<=", TARGET_CPU),
        common.target("peak RSS MB", row["peak_rss_mb"], "<=", TARGET_RSS_MB),
        common.target("p95 lateness s (steady window, crawl_started)", row["late_p95_s"], "<=", TARGET_LATE_P95_S),
        common.target("p95 lateness s (steady window, feed request)", row["fetch_late_p95_s"], "<=", TARGET_LATE_P95_S),
    ]
    if args.keep:
        print(f"  kept {root}", flush=True)
    else:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    common.emit(common.result("scale_sources", [row], targets=targets, params={
        "sources": args.sources, "every": args.every, "jitter": args.jitter, "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes, "change_minutes": args.change_minutes, "max_crawls": args.max_crawls,
        "elapsed_s": round(time.time() - started)}), args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
