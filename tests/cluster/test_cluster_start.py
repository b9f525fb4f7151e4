"""A daemon started while the cluster's PostgreSQL is down waits for it, saying ``degraded``, and joins
and crawls once it answers: starting is never blocked by a dependency."""

from __future__ import annotations

import pytest

from tests.harness.daemon import Daemon, problems
from tests.harness.project import Project, fast_crawl

pytestmark = pytest.mark.timeout(240)


def test_a_daemon_waits_for_the_engine_then_joins(tmp_path, pg, pg_dsn, es_running, fixture_site_factory):
    site = fixture_site_factory(2)
    project = Project(tmp_path)
    project.write({
        "data_dir": str(tmp_path / "data"),
        "index": {"url": es_running.url, "prefix": f"mw-cluster-start-{tmp_path.name[-8:].lower()}"},
        "crawl": fast_crawl(tmp_path),
        "http": {"health_port": 0},
        "log": {"format": "json"},
        "cluster": {"postgres": pg_dsn, "lease_seconds": 5, "node": "solo"},
        "sources": [site.source("fixture", schedule={"every": "1h", "jitter": "0s"})],
    })
    pg.stop()
    d = Daemon(project)
    try:
        d.wait_for(lambda ev: len(d.named("cluster_engine_unreachable_at_start")) >= 2, 60,
                   "the daemon retrying the engine")
        health = d.health()
        assert d.alive and health["status"] == "degraded" and health["http"] == 200, health
        assert any(r.startswith("cluster engine unreachable at start") for r in health["reasons"]), health
        assert not site.article_hits(), "nothing crawled without the shared state"
        pg.start()
        d.wait_for(lambda ev: d.named("cluster_joined") and d.summaries("fixture"), 90, "joined, and one crawl")
        assert d.summaries("fixture")[0]["articles"] == len(site.articles)
        assert d.stop() == 0
        assert not problems(d.events), problems(d.events)
    finally:
        d.close()
