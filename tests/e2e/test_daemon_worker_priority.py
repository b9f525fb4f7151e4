"""The daemon's extraction processes run below its own priority (`crawl.extraction_niceness`), and the
daemon itself keeps the priority it was started with: every article goes through its main process one at
a time, so that is the process that must not wait for a CPU."""

from __future__ import annotations

import os
from pathlib import Path

from bench.proctree import children_map, process_tree
from tests.harness.daemon import Daemon
from tests.harness.project import fast_crawl
from tests.harness.wait import wait_until

NICENESS = 7


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
    daemon = Daemon(project)
    try:
        # the pages were extracted in the pool: its processes are up, and stay for the next run
        summary = daemon.wait_for(lambda ev: daemon.summaries("fixture"), 90, "crawl_summary")[0]
        assert summary["articles"] == len(site.articles)
        daemon_nice = os.getpriority(os.PRIO_PROCESS, daemon.proc.pid)
        wanted = min(19, daemon_nice + NICENESS)
        # A worker lowers itself in its initializer, so one the pool has only just forked still has the
        # forkserver's priority for a moment: wait until every worker has run it. One that never does keeps
        # the forkserver's priority and fails at the deadline.
        state: dict = {}

        def workers_lowered() -> bool:
            tree, kids = process_tree(daemon.proc.pid), children_map()
            # the forkserver and the workers it forks all show its command line; the workers are its children
            servers = [p for p in tree if "forkserver" in cmdline(p)]
            state["workers"] = {c: priority(c) for s in servers for c in kids.get(s, [])}
            state["tree"] = {p: cmdline(p)[:80] for p in tree}
            return bool(state["workers"]) and set(state["workers"].values()) == {wanted}

        wait_until(workers_lowered, 30, lambda: f"every worker at {wanted}: {state}")
        assert daemon_nice == os.getpriority(os.PRIO_PROCESS, 0)  # the daemon's own: as it was started
        assert daemon.stop(30) == 0
    finally:
        daemon.close()
