"""`mediawatch run` with no reachable source: one clear error per source, keeps running, exits 0 on SIGTERM."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.faults import refusing_port


@pytest.fixture
def dead():
    """Two ports where nothing listens: connection refused."""
    with refusing_port() as one, refusing_port() as other:
        yield [one, other]


def test_daemon_survives_unreachable_sources(project, dead):
    project.write({
        "data_dir": str(project.root / "data"),
        "crawl": {"state_path": str(project.root / "data" / "crawl.sqlite3"), "download_timeout": 5},
        "http": {"health_port": 0, "failing_after_runs": 1},
        "sources": [
            {"name": f"offline-{i}", "feeds": [f"http://127.0.0.1:{port}/rss.xml"],
             "allow_private_addresses": True, "schedule": {"every": "1h", "jitter": "0s"}}
            for i, port in enumerate(dead)
        ],
        "rules": [{"name": "r", "query": "Lukashenko AND (prison OR jail)", "recipients": ["a@example.org"]}],
    })
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        wait_for(events, seen, lambda s: sum(e.get("event") == "crawl_summary" for e in s) == 2, 90)
        failures = [e for e in seen if e.get("level") in ("warning", "error") and e.get("source")]
        per_source = {e["source"]: e for e in failures}
        assert sorted(per_source) == ["offline-0", "offline-1"]
        assert len(failures) == 2, failures  # one line per source, not a cascade
        for e in failures:
            assert e["status"].startswith("error:") and "refused" in e["reason"].lower()
            assert e["url"].startswith("http://127.0.0.1:")
        # No traceback anywhere, and the daemon is still up; it says it is failing, and why.
        assert not any("Traceback" in json.dumps(e) for e in seen)
        assert proc.poll() is None
        listening = next(e for e in seen if e.get("event") == "health_listening")
        # The summary is logged before the daemon books the failed run: poll, with a deadline.
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(listening["url"], timeout=5).close()
            except urllib.error.HTTPError as err:
                assert err.code == 503
                report = json.load(err)
                break
            assert time.monotonic() < deadline, "/healthz never said failing"
            time.sleep(0.2)
        assert report["status"] == "failing"
        assert any("offline-0, offline-1" in r for r in report["reasons"]), report
        assert report["failing_runs"] == {"offline-0": 1, "offline-1": 1}
        metrics_url = listening["url"].replace("/healthz", "/metrics")
        with urllib.request.urlopen(metrics_url, timeout=5) as resp:
            body = resp.read().decode()
        assert 'mediawatch_urls_total{source="offline-0",status="error:connection_refused"}' in body
        assert "mediawatch_health_status 2.0" in body
        assert 'mediawatch_health_reason{reason="sources_failing"} 1.0' in body
        assert 'mediawatch_health_reason{reason="index_unreachable"} 0.0' in body
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except Exception:
            proc.kill()
            raise
    assert code == 0
