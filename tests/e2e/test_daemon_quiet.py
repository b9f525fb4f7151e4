"""A source that stops publishing is reported quiet: a log event, a metric, one operator email."""

from __future__ import annotations

import queue
import signal
import threading
import urllib.request

from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.project import fast_crawl


def test_quiet_source_reported_once(project, fixture_site_factory, smtp_server):
    site = fixture_site_factory(2)
    data = project.root / "data"
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"ledger_path": str(data / "alerts.sqlite3"), "operators": ["ops@example.org"],
                 "smtp": {"host": smtp_server.host, "port": smtp_server.port, "tls": "none", "timeout_s": 5}},
        "crawl": {**fast_crawl(data), "quiet_after_intervals": 2, "quiet_min": "1s"},
        "http": {"health_port": 0},
        "sources": [site.source("sleepy", schedule={"every": "2s", "jitter": "0s"})],
    })
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        wait_for(events, seen, lambda s: any(e.get("event") == "source_quiet" for e in s), 60)
        mails = smtp_server.wait_for(1, timeout=20)
        assert mails[0].rcpt_tos == ["ops@example.org"]
        assert "sleepy" in mails[0].subject and "quiet" in mails[0].subject
        # Still quiet on the next cycles: logged again, but mailed once per quiet spell.
        wait_for(events, seen, lambda s: sum(e.get("event") == "source_quiet" for e in s) >= 3, 30)
        assert len(smtp_server.messages) == 1
        url = next(e for e in seen if e.get("event") == "health_listening")["url"].replace("/healthz", "/metrics")
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert 'mediawatch_source_quiet{source="sleepy"} 1.0' in resp.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
