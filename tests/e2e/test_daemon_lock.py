"""One writer per data folder: a second daemon exits 2 naming the first one's PID, a writing
command refuses beside the daemon, a reading one works; a SIGKILLed holder leaves no stale lock."""

from __future__ import annotations

import queue
import signal
import threading

from tests.e2e.daemon_log import read_events, wait_for


def test_second_writer_refused_readers_work(project):
    data = project.root / "data"
    project.write({
        "data_dir": str(data),
        "http": {"health_port": 0},
        "sources": [{"name": "nowhere", "feeds": ["http://127.0.0.1:9/rss.xml"], "allow_private_addresses": True,
                     "schedule": {"every": "1h", "jitter": "0s"}}],
    })
    first = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(first.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        wait_for(events, seen, lambda s: any(e.get("event") == "daemon_started" for e in s), 60)

        second = project.run("run", timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"PID {first.pid}" in second.stderr and "mediawatch run" in second.stderr

        crawl = project.run("crawl", timeout=60)
        assert crawl.returncode == 2 and f"PID {first.pid}" in crawl.stderr

        search = project.run("search", "anything", timeout=60)
        assert search.returncode == 0, search.stderr
        listing = project.run("sources", "list", timeout=60)
        assert listing.returncode == 0 and "nowhere" in listing.stdout
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    # The kernel dropped the dead holder's lock: the folder is writable again at once.
    again = project.run("index", "init", timeout=60)
    assert again.returncode == 0, again.stderr
