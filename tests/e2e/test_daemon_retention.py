"""The daemon's housekeeping job on the embedded index: a real `mediawatch run` with `index.retention_days`
deletes the old articles in slices of one transaction each (its log says how many; the integration test
shows a writer going on between them), keeps the rest, and empties the alert ledger's copies of the
deleted pages' text, then merges the full-text segments; and the crawl runs older than
`crawl.runs_keep_days` go, but for each source's last."""

from __future__ import annotations

import queue
import signal
import threading
from datetime import datetime, timedelta, timezone

from crawler.accounting import RunSummary
from crawler.frontier import Frontier
from indexer.alerts.ledger import Ledger
from indexer.alerts.ledger_rows import NewAlert
from indexer.article import Article
from indexer.backends.sqlite import RETENTION_SLICE, SqliteBackend
from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.project import fast_crawl
from tests.harness.site_pages import generated_article

OLD = 2 * RETENTION_SLICE + 100


def test_retention_job_deletes_old_articles_in_slices(project, fixture_site_factory):
    # pages dated by their feed (now), none by their markup: whichever of the crawl and the pass comes
    # first, the crawl's articles are kept and the pass deletes exactly the old ones
    site = fixture_site_factory(0, seed=False)
    for n in (1, 2):
        site.add_article(html=generated_article(n))
    data = project.root / "data"
    data.mkdir()
    now = datetime.now(timezone.utc)
    b = SqliteBackend(data / "index.sqlite3")
    for lo in range(0, OLD, 500):
        b.index([Article(url=f"https://old.example/{i}", title=f"old {i}", text=f"expired words {i}",
                         source="old", published_at=now - timedelta(days=90, minutes=i))
                 for i in range(lo, min(OLD, lo + 500))])
    kept = Article(url="https://old.example/kept", title="kept", text="recent words", source="old",
                   published_at=now - timedelta(days=1))
    b.index([kept])
    b.close()
    ledger = Ledger(data / "alerts.sqlite3")  # a mail sent for an article now past retention, and a recent one
    for n, age in ((1, 60), (2, 1)):
        alerted = Article(url=f"https://old.example/alerted-{n}", title=f"alerted {n}", text=f"page words {n}",
                          source="old", published_at=now - timedelta(days=age))
        matched = (now - timedelta(days=age)).timestamp()
        ledger.enqueue([NewAlert(rule="r", article=alerted, mode="instant", schedule="instant", query="words",
                                 recipients=["desk@example.org"])], now=matched)
        ledger.mark_sent([("r", alerted.story, None)], matched + 1)
    ledger.close()
    with Frontier(data / "crawl.sqlite3") as fr:  # a source crawled daily for 200 days, then removed
        for day in range(200, 0, -1):
            started = now - timedelta(days=day, hours=-1)  # an hour inside the day: clear of the cut
            fr.finish_run(RunSummary("gone", started_at=started, finished_at=started + timedelta(minutes=1),
                                     reason="finished", articles=day))
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool"),
                  "retention_days": 30, "housekeeping_delay_s": 1},
        "crawl": {**fast_crawl(data), "runs_keep_days": 30},
        "http": {"health_port": 0},
        "sources": [site.source("site", schedule={"every": "1h", "jitter": "0s"})],
    })
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        # the housekeeping job's first run, a second after the start: retention, then maintenance
        wait_for(events, seen, lambda s: any(e.get("event") == "runs_forgotten" for e in s), 180)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    passes = [e for e in seen if e.get("event") == "index.retention"]
    assert len(passes) == 1 and passes[0]["deleted"] == OLD
    assert passes[0]["slices"] == -(-passes[0]["deleted"] // RETENTION_SLICE)
    assert next(e for e in seen if e.get("event") == "retention_applied")["deleted"] == passes[0]["deleted"]
    # the deletes' marks are merged out of the full-text segments after the pass
    assert next(e for e in seen if e.get("event") == "maintenance_done")["merge_slices"] >= 1
    assert next(e for e in seen if e.get("event") == "runs_forgotten")["deleted"] == 200 - 30
    assert next(e for e in seen if e.get("event") == "alert_texts_forgotten")["alerts"] == 1
    ledger = Ledger(data / "alerts.sqlite3")
    try:
        texts = {r.article.title: r.article.text for r in ledger.rows()}
        assert texts == {"alerted 1": "", "alerted 2": "page words 2"}
    finally:
        ledger.close()
    with Frontier(data / "crawl.sqlite3") as fr:
        kept_runs = fr.runs("gone", limit=500)
        assert len(kept_runs) == 30 and fr.last_runs()["gone"].articles == 1  # the newest
    b = SqliteBackend(data / "index.sqlite3")
    try:
        assert b.ids("expired") == set() and b.ids("recent") == {kept.id}
        assert b.count(until=now - timedelta(days=30)) == 0
    finally:
        b.close()
