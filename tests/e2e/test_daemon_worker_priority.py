"""The daemon's extraction processes run below its own priority (`crawl.extraction_niceness`), and the
daemon itself keeps the priority it was started with: every article goes through its main process one at
a time, so that is the process that must not wait for a CPU."""

from __future__ import annotations

import os
import queue
import signal
import threading
from pathlib import Path

from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.project import fast_crawl
from tests.harness.wait import wait_until

NICENESS = 7


def children_of(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # gone meanwhile
        return ""


def priority(pid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except ProcessLookupError:  # gone meanwhile
        return None


def test_extraction_workers_run_below_the_daemons_priority(project, fixture_site_factory):
    site = fixture_site_factory(3)
    data = project.root / "data"
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"outbox": str(data / "outbox"), "ledger_path": str(data / "alerts.sqlite3")},
        "crawl": {**fast_crawl(data), "extraction_pool": "process", "extraction_workers": 2,
                  "extraction_niceness": NICENESS},
        "http": {"health_port": None},
        "sources": [site.source("fixture", schedule={"every": "1h", "jitter": "0s"})],
    })
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        # the pages were extracted in the pool: its processes are up, and stay for the next run
        wait_for(events, seen, lambda s: any(e.get("event") == "crawl_summary" for e in s), 90)
        summary = next(e for e in seen if e.get("event") == "crawl_summary")
        assert summary["articles"] == len(site.articles)
        daemon_nice = os.getpriority(os.PRIO_PROCESS, proc.pid)
        wanted = min(19, daemon_nice + NICENESS)
        # A worker lowers itself in its initializer, so one the pool has only just forked still has the
        # forkserver's priority for a moment: wait until every worker has run it. One that never does keeps
        # the forkserver's priority and fails at the deadline.
        state: dict = {}

        def workers_lowered() -> bool:
            tree = descendants(proc.pid)
            # the forkserver and the workers it forks all show its command line; the workers are its children
            servers = [p for p in tree if "forkserver" in cmdline(p)]
            state["workers"] = {c: priority(c) for s in servers for c in children_of(s)}
            state["tree"] = {p: cmdline(p)[:80] for p in tree}
            return bool(state["workers"]) and set(state["workers"].values()) == {wanted}

        wait_until(workers_lowered, 30, lambda: f"every worker at {wanted}: {state}")
        assert daemon_nice == os.getpriority(os.PRIO_PROCESS, 0)  # the daemon's own: as it was started
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
