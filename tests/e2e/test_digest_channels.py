"""The daemon sends a daily digest rule's period to its mail recipients and, as one message, to its JSON
webhook (a real receiver on 127.0.0.1): once each, whatever the daemon's passes after the period's end."""

from __future__ import annotations

import math
import queue
import signal
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.daemon_log import read_events, wait_event
from tests.harness.project import fast_crawl
from tests.harness.webhooks import WebhookReceiver

pytestmark = pytest.mark.timeout(300)

WORD = "harbourmaster"
# the daemon's start, crawl and match, with room for a loaded machine's pace
MARGIN_S = 30
SHIPS = [["trawler", "ferry", "tug", "schooner"], ["tanker", "yacht", "barge", "cutter"]]


def _page(title: str, n: int) -> str:
    """An article of its own (copies of one story would be one entry of the digest)."""
    paras = "".join(f"<p>Paragraph {i}: the {WORD} logged the {SHIPS[n][i % 4]} number {i * 7 + n} at berth {i}, "
                    f"noting its cargo of {SHIPS[n][(i + 1) % 4]} parts and the pilot who brought it in.</p>"
                    for i in range(8))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{paras}</article></body></html>")


def test_a_daily_digest_goes_to_its_channel_once(project, fixture_site, smtp_server):
    site, data = fixture_site, project.root / "data"
    for n in range(2):
        title = f"The {WORD}'s report, part {n + 1}"
        site.add_article(title=title, html=_page(title, n))
    hook = WebhookReceiver()
    hook.up()
    # The period ends MARGIN_S from now, to the second (daily_at takes HH:MM:SS): time for the daemon to
    # start, crawl and match before it; the digest is due once it has passed. A whole minute would wait
    # out up to 60 s more for nothing.
    now = datetime.now(timezone.utc)
    boundary = datetime.fromtimestamp(math.ceil((now + timedelta(seconds=MARGIN_S)).timestamp()), timezone.utc)
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool"),
                  "bulk_interval_s": 0.5},
        # a pass every second: the digest goes out as soon as the period ends, and the passes after it
        # must send nothing more
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3"),
                 "smtp": {"host": smtp_server.host, "port": smtp_server.port, "tls": "none", "timeout_s": 5},
                 "sweep_interval_s": 1},
        "crawl": fast_crawl(data), "http": {"port": 0},
        "sources": [site.source("fixture", schedule={"every": "1h", "jitter": "0s"})],
        "rules": [{"name": "harbour-daily", "query": WORD, "mode": "daily", "timezone": "UTC",
                   "daily_at": boundary.strftime("%H:%M:%S"), "recipients": ["desk@example.org"],
                   "notify": [hook.url("json", "/digest/${HOOK_KEY}")]}],
    })
    proc = project.popen("run", HOOK_KEY="s3cret")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        wait_event(events, seen, lambda e: e.get("event") == "crawl_summary", 60)
        assert datetime.now(timezone.utc) < boundary, "the crawl outlasted the period: the test proves nothing"
        assert not hook.requests and not smtp_server.messages  # a digest waits for its period's end
        wait = (boundary - datetime.now(timezone.utc)).total_seconds() + 90
        (got,) = hook.wait_for(1, path="/digest/s3cret", timeout=wait)
        assert got.body["title"] == "harbour-daily: 2 new articles (daily digest)"
        assert f"until {boundary.strftime('%Y-%m-%d %H:%M')} UTC" in got.body["message"]
        for n in (1, 2):
            assert f". The {WORD}'s report, part {n}" in got.body["message"]
        (mail,) = smtp_server.wait_for(1, timeout=60)
        assert "harbour-daily: 2 new articles (daily digest)" in mail.subject
        wait_event(events, seen, lambda e: e.get("event") == "alerts.digest_delivered", 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except Exception:
            proc.kill()
            raise
        finally:
            hook.close()
    assert code == 0
    # the lanes' last passes at shutdown sent nothing more
    assert len(hook.requests) == 1 and len(smtp_server.messages) == 1
