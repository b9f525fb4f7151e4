"""The daemon's crawls go through one long-lived Scrapy crawler: robots.txt is read once per host
and kept across runs (``crawl.robots_ttl``), while each source keeps what is its own (user agent,
accounting) and each run still fetches its feed."""

from __future__ import annotations

import queue
import signal
import threading

from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.project import fast_crawl

EVERY_S = 5
OWN_UA = "own-agent/1.0 (+https://example.org/a)"


def test_runs_share_robots_and_keep_their_own_settings(project, fixture_site_factory):
    site_a = fixture_site_factory(3, seed=False)
    site_b = fixture_site_factory(2, offset=10, seed=False)
    site_b.disallow(site_b.newest()[0].path)  # robots rules still hold when they come from the cache
    data = project.root / "data"
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"outbox": str(data / "outbox"), "ledger_path": str(data / "alerts.sqlite3")},
        "crawl": {**fast_crawl(data), "robots_ttl": "1h"},
        "http": {"health_port": None},
        "sources": [
            site_a.source("site-a", user_agent=OWN_UA, schedule={"every": f"{EVERY_S}s", "jitter": "0s"}),
            site_b.source("site-b", schedule={"every": f"{EVERY_S}s", "jitter": "0s"}),
        ],
    })
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []

    def summaries(name: str) -> list[dict]:
        return [e for e in seen if e.get("event") == "crawl_summary" and e.get("source") == name]

    try:
        wait_for(events, seen, lambda s: all(len(summaries(n)) >= 3 for n in ("site-a", "site-b")), 120)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0

    for site in (site_a, site_b):
        assert len(site.hits("/robots.txt")) == 1, [h.path for h in site.requests]
        assert len(site.hits("/feeds/")) >= 3  # every run asked for its feed (conditionally after the first)
    # the source's own user agent on every request of its runs (robots.txt too), the default on the other's
    assert {h.headers.get("user-agent") for h in site_a.requests} == {OWN_UA}
    assert all(h.headers.get("user-agent", "").startswith("mediawatch/") for h in site_b.requests)
    # each run's accounting is its own: the first found the articles, the later ones nothing new
    first_a, *later_a = summaries("site-a")
    first_b, *later_b = summaries("site-b")
    assert first_a["counts"].get("new") == 3 and first_a["articles"] == 3
    assert first_b["counts"].get("new") == 1 and first_b["counts"].get("skipped:robots") == 1
    assert all(s["articles"] == 0 and not s["failed"] for s in later_a + later_b)
    disallowed = site_b.newest()[0].path
    assert disallowed not in site_b.article_hits()
