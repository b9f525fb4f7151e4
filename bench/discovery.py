#!/usr/bin/env python3
"""Discovery's CPU costs: parsing feeds (feedparser behind our XML guard), sitemaps (our lxml
code), canonicalising URLs (w3lib plus our rules) and reading dates, on generated inputs.

    .venv/bin/python -m bench.discovery [--quick] [--json OUT]

Feeds are parsed in the extraction pool, so their cost is pool CPU, not loop-thread time;
the figure says how many feeds one core reads per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Callable

from bench import common


def rss(items: int) -> bytes:
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    body = "".join(
        f"<item><title>Story number {i} about the news of the day</title>"
        f"<link>https://news.example/2024/01/story-{i}.html?utm_source=rss&amp;id={i}</link>"
        f"<guid>https://news.example/a/{i}</guid><pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate>"
        f"<description>{'A paragraph of summary text. ' * 20}</description></item>" for i in range(items))
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'.encode()


def sitemap(urls: int) -> bytes:
    body = "".join(f"<url><loc>https://news.example/2024/01/story-{i}.html</loc>"
                   f"<lastmod>2024-01-01T{i % 24:02d}:00:00+01:00</lastmod></url>" for i in range(urls))
    return (f'<?xml version="1.0" encoding="utf-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{body}</urlset>").encode()


def per_call(fn: Callable[[], Any], seconds: float) -> tuple[float, int]:
    """Mean CPU seconds per call over at least ``seconds`` of CPU, and the number of calls."""
    fn()  # warm-up: imports, regex compilation
    calls, start = 0, time.process_time()
    while True:
        fn()
        calls += 1
        spent = time.process_time() - start
        if spent >= seconds:
            return spent / calls, calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short measurements")
    ap.add_argument("--items", type=int, default=100, help="entries per feed / URLs per sitemap")
    ap.add_argument("--json", dest="json_out", help="also write the result JSON here")
    args = ap.parse_args()
    budget = 0.3 if args.quick else 3.0

    from crawler.dates import parse_date
    from crawler.discovery.feeds import parse_feed
    from crawler.discovery.sitemaps import parse_sitemap
    from crawler.urls import canonicalize

    feed, smap = rss(args.items), sitemap(args.items)
    urls = [f"HTTPS://News.Example.com:443/2024/01/{i}/story-{i}.html?utm_source=x&b={i}&a=1#frag"
            for i in range(1000)]
    dates = [format_datetime(datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=7 * i)) for i in range(500)]
    dates += [(datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=7 * i)).isoformat() for i in range(500)]

    rows = []
    for system, fn, n, unit in (
        (f"feed, RSS {args.items} items", lambda: parse_feed(feed, "https://news.example/rss"), 1, "docs"),
        (f"sitemap, {args.items} URLs", lambda: parse_sitemap(smap, "https://news.example/sitemap.xml"), 1, "docs"),
        ("canonicalize", lambda: [canonicalize(u) for u in urls], len(urls), "urls"),
        ("parse_date (RFC 822 + W3C-DTF)", lambda: [parse_date(d) for d in dates], len(dates), "dates"),
    ):
        seconds, calls = per_call(fn, budget)
        each = seconds / n
        rows.append({"system": system, f"{unit}_per_s": round(1 / each, 1), "cpu_us_per_item": round(each * 1e6, 2),
                     "calls": calls, "bytes": len(feed) if unit == "docs" and "feed" in system else None})
        print(f"{system:<34} {1 / each:>12,.1f} {unit}/s   {each * 1e6:>10,.1f} us each", flush=True)
    common.emit(common.result("discovery", rows, params={"items": args.items, "quick": args.quick}), args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
