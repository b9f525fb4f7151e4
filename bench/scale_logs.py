"""What the runs of ``bench.scale_sources`` did, read from the daemon's JSON log and the feed server's
request log: each source's scheduled slots and its crawls' lateness, the slots no crawl started for,
the most crawls in flight, and politeness per host.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.scale_feeds import host_address


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
