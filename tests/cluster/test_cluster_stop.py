"""A daemon stopped while the cluster's PostgreSQL is down, with its alert sweep waiting for the engine,
stops cleanly: exit 0, and no job reported as failed (the sweep is let finish, never cancelled under
the scheduler's feet)."""

from __future__ import annotations

import pytest

from tests.harness.daemon import Daemon, problems
from tests.harness.project import Project, fast_crawl

pytestmark = pytest.mark.timeout(240)


def _sweep_held(events: list[dict]) -> bool:
    # APScheduler's own word that the previous sweep is still running: it is waiting for the engine
    return any("send_alerts" in str(e.get("event")) and "maximum number of running instances" in str(e.get("event"))
               for e in events)


def test_a_daemon_stopped_while_the_engine_is_down_exits_cleanly(tmp_path, pg, pg_dsn, es_running,
                                                                 fixture_site_factory):
    site = fixture_site_factory(2)
    project = Project(tmp_path)
    project.write({
        "data_dir": str(tmp_path / "data"),
        "index": {"url": es_running.url, "prefix": f"mw-cluster-stop-{tmp_path.name[-8:].lower()}"},
        "mail": {"sweep_interval_s": 0.2},
        "crawl": fast_crawl(tmp_path),
        "http": {"health_port": 0},
        "log": {"format": "json"},
        "cluster": {"postgres": pg_dsn, "lease_seconds": 5, "node": "solo"},
        "sources": [site.source("fixture", schedule={"every": "1h", "jitter": "0s"})],
    })
    d = Daemon(project)
    try:
        d.wait_for(lambda ev: d.named("cluster_joined") and d.summaries("fixture"), 90, "joined, and one crawl")
        pg.stop()
        try:
            d.wait_for(_sweep_held, 60, "the alert sweep waiting for the engine")
            assert d.stop(timeout=30) == 0, d.tail()  # bounded: the gate's and the lanes' waits
        finally:
            pg.start()
        assert d.named("daemon_stopped"), d.tail()
        assert not [e for e in d.pump() if "Error running job" in str(e.get("event"))], d.tail()
        assert not problems(d.events), problems(d.events)
    finally:
        d.close()
