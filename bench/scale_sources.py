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
import asyncio
import email.utils
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

TARGET_CPU = 15.0  # % of one core
TARGET_RSS_MB = 1024.0
TARGET_LATE_P95_S = 60.0
OLD_ITEM_AGE_S = 30 * 86400


def host_address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


class FeedServer:
    """Asyncio HTTP/1.0-style server (one request per connection) on one loopback address per source."""

    def __init__(self, n: int, port: int, change_s: float, started: float) -> None:
        self.n, self.port, self.change_s, self.started = n, port, change_s, started
        self.log: list[tuple[float, str, str, int]] = []  # (time, host, path, status)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._thread = threading.Thread(target=self._run, name="feed-server", daemon=True)

    def start(self, timeout: float = 300) -> None:
        self._thread.start()
        if not self.ready.wait(timeout) or self.error:
            raise RuntimeError(f"feed server did not start: {self.error!r}")

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            for i in range(self.n):
                self._servers.append(self.loop.run_until_complete(
                    asyncio.start_server(self._handle, host_address(i), self.port, backlog=64)))
        except BaseException as err:  # reported by start()
            self.error = err
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    # -- content ---------------------------------------------------------------------------
    def _items(self, i: int, now: float) -> list[tuple[int, float]]:
        """(item number, publication time): three old ones, then one per change period since the start."""
        phase = (i * 7919) % max(1, int(self.change_s))  # spread the hosts' changes over the period
        new = int((now - self.started - phase) // self.change_s) + 1 if now >= self.started + phase else 0
        old = [(k, self.started - OLD_ITEM_AGE_S - k * 3600) for k in range(3)]
        fresh = [(3 + k, self.started + phase + k * self.change_s) for k in range(new)]
        return (fresh[::-1] + old)[:10]

    def _feed(self, host: str, i: int, now: float) -> tuple[bytes, float]:
        items = self._items(i, now)
        last = max(t for _k, t in items)
        entries = "".join(
            f"<item><title>Story {k} of source {i}</title><link>http://{host}:{self.port}/a/{k}.html</link>"
            f"<guid>http://{host}:{self.port}/a/{k}.html</guid>"
            f"<pubDate>{email.utils.formatdate(t, usegmt=True)}</pubDate></item>"
            for k, t in items)
        body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Source {i}</title>'
                f"<link>http://{host}:{self.port}/</link><description>bench</description>"
                f"<lastBuildDate>{email.utils.formatdate(last, usegmt=True)}</lastBuildDate>"
                f"{entries}</channel></rss>")
        return body.encode(), last

    def _article(self, host: str, i: int, k: int) -> bytes:
        words = " ".join(f"word{(i * 31 + k * 7 + j) % 997}" for j in range(60))
        paras = "".join(f"<p>Paragraph {j} of story {k} from source {i}: {words}.</p>" for j in range(8))
        return (f"<!doctype html><html><head><title>Story {k} of source {i}</title>"
                f'<meta property="og:title" content="Story {k} of source {i}"></head><body>'
                f"<article><h1>Story {k} of source {i}</h1>{paras}</article></body></html>").encode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        self.in_flight[host] += 1
        self.max_in_flight[host] = max(self.max_in_flight[host], self.in_flight[host])
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            headers = {k.strip().lower(): v.strip() for k, _s, v in (ln.partition(":") for ln in lines[1:] if ln)}
            status, body, extra = self._answer(host, path, headers)
            self.log.append((time.time(), host, path, status))
            head_out = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Modified' if status == 304 else 'Not Found'}",
                        f"Content-Length: {len(body)}", "Connection: close", *extra]
            writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.in_flight[host] -= 1
            writer.close()

    def _answer(self, host: str, path: str, headers: dict[str, str]) -> tuple[int, bytes, list[str]]:
        parts = [int(x) for x in host.split(".")[2:]]
        i = parts[0] * 250 + parts[1] - 1
        now = time.time()
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", ["Content-Type: text/plain"]
        if path == "/feed.xml":
            body, last = self._feed(host, i, now)
            etag = f'"{i}-{int(last)}"'
            validators = [f"ETag: {etag}", f"Last-Modified: {email.utils.formatdate(last, usegmt=True)}"]
            if headers.get("if-none-match") == etag:
                return 304, b"", validators
            return 200, body, ["Content-Type: application/rss+xml", *validators]
        if path.startswith("/a/") and path.endswith(".html"):
            return 200, self._article(host, i, int(path[3:-5])), ["Content-Type: text/html; charset=utf-8"]
        return 404, b"not found", ["Content-Type: text/plain"]


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


def seconds(duration: str) -> float:
    """``15m``, ``30s``, ``1h`` (the config's forms the bench uses)."""
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def slots(names: list[str], every: float, lo: float, hi: float) -> dict[str, list[float]]:
    """Each source's scheduled run times in [lo, hi): its phase of the interval
    (``scheduler.crawlqueue.phase_s``) plus whole intervals."""
    from scheduler.crawlqueue import EPOCH, phase_s

    epoch = EPOCH.timestamp()
    out: dict[str, list[float]] = {}
    for name in names:
        first = epoch + phase_s(name, every)
        k = max(0, int((lo - first) // every))
        times = []
        while first + k * every < hi:
            if first + k * every >= lo:
                times.append(first + k * every)
            k += 1
        out[name] = times
    return out


def parse_log(path: Path) -> list[dict[str, Any]]:
    out = []
    with open(path, "rb") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    vals = sorted(values)
    return round(vals[min(len(vals) - 1, max(0, int(round(q * len(vals) + 0.5)) - 1))], 2)


def starts(events: list[dict[str, Any]], event: str = "crawl_started") -> dict[str, list[tuple[float, float]]]:
    """Each source's crawls as the daemon logged them: (scheduled time, start time), in order; with
    ``crawl_merged``, the runs it folded into a run that began recently or was waiting or running."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        if e.get("event") == event and e.get("source") and e.get("scheduled_at"):
            out[e["source"]].append((datetime.fromisoformat(e["scheduled_at"]).timestamp(), ts(e)))
    return out


def lateness(runs: dict[str, list[tuple[float, float]]], lo: float, hi: float) -> tuple[list[float], int]:
    """Start minus scheduled time of the crawls scheduled in [lo, hi) that started; how many started."""
    late = [max(0.0, start - due) for pairs in runs.values() for due, start in pairs if lo <= due < hi]
    return late, len(late)


def unstarted(runs: dict[str, list[tuple[float, float]]], planned: dict[str, list[float]], hi: float) -> list[float]:
    """The slots in ``planned`` (until a second before ``hi``) that no crawl started or merged for by
    ``hi``: each counts as late by ``hi`` minus its slot at least (still waiting for a place)."""
    out = []
    for name, times in planned.items():
        dues = [due for due, _start in runs.get(name, [])]
        for slot in times:
            if slot < hi - 1.0 and not any(abs(due - slot) <= 1.0 for due in dues):
                out.append(max(0.0, hi - slot))
    return out


def fetch_lateness(log: list[tuple[float, str, str, int]], runs: dict[str, list[tuple[float, float]]], lo: float,
                   hi: float) -> tuple[list[float], int]:
    """Scheduled time -> the feed request the server saw for it: what a site sees, past any wait inside
    the daemon after ``crawl_started``."""
    feeds: dict[str, list[float]] = defaultdict(list)
    for t, host, path, _status in log:
        if path == "/feed.xml":
            feeds[host].append(t)
    late, unfetched = [], 0
    for name, pairs in runs.items():
        times = sorted(feeds.get(host_address(int(name[1:])), []))
        for k, (due, start) in enumerate(pairs):
            if not lo <= due < hi:
                continue
            nxt = pairs[k + 1][1] if k + 1 < len(pairs) else float("inf")
            got = [t for t in times if start - 1.0 <= t < nxt - 1.0]
            if got:
                late.append(max(0.0, got[0] - due))
            else:
                unfetched += 1
    return late, unfetched


def server_names(n: int) -> list[str]:
    return [f"s{i:05d}" for i in range(n)]


def peak_in_flight(events: list[dict[str, Any]]) -> int:
    """The most crawls between their ``crawl_started`` and ``crawl_summary`` at once, in log order."""
    now, peak = 0, 0
    for e in events:
        if e.get("source") and e.get("event") == "crawl_started":
            now += 1
            peak = max(peak, now)
        elif e.get("source") and e.get("event") == "crawl_summary":
            now -= 1
    return peak


def politeness(log: list[tuple[float, str, str, int]], lo: float, hi: float, window_s: float) -> dict[str, Any]:
    per_host: dict[str, list[float]] = defaultdict(list)
    for t, host, _path, _status in log:
        if lo <= t < hi:
            per_host[host].append(t)
    gaps = [b - a for times in per_host.values() for a, b in zip(sorted(times), sorted(times)[1:])]
    per_interval = [len(v) * 900.0 / window_s for v in per_host.values()]
    return {"hosts_seen": len(per_host), "requests": sum(len(v) for v in per_host.values()),
            "max_requests_per_host": max((len(v) for v in per_host.values()), default=0),
            "mean_requests_per_host_per_15min": round(sum(per_interval) / len(per_interval), 2) if per_interval else 0,
            "min_gap_same_host_s": round(min(gaps), 3) if gaps else None}


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
    rss = common.PeakRss(proc.pid, interval=1.0)
    t_start = time.time()
    try:
        rss.__enter__()
        cpu0 = common.cpu_seconds_tree(proc.pid)
        deadline = t_start + 60 * args.warmup_minutes
        while time.time() < deadline and proc.poll() is None:
            time.sleep(5)
        t_warm, cpu_warm, peak_warm = time.time(), common.cpu_seconds_tree(proc.pid), rss.peak
        print(f"  warm-up {t_warm - t_start:.0f} s: CPU {100 * (cpu_warm - cpu0) / (t_warm - t_start):.1f} % of a "
              f"core, peak RSS {peak_warm / 2**20:.0f} MB", flush=True)
        deadline = t_warm + 60 * args.minutes
        while time.time() < deadline and proc.poll() is None:
            time.sleep(5)
        t_end, cpu_end = time.time(), common.cpu_seconds_tree(proc.pid)
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
