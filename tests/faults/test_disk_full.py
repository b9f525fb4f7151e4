"""A full disk under the index and the spool: nothing is marked done that is not stored.

The index and the spool live on a small tmpfs the test mounts (its own filesystem, filled to the
last byte); the frontier lives on another. A crawl while it is full must leave every URL to be
fetched again; once there is room, the next crawl stores them all.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from crawler.runner import run_crawl_blocking
from crawler.sources import Source
from indexer.backends.sqlite import SqliteBackend
from indexer.ingest import Ingestor
from indexer.spool import Spool
from tests.harness.crawling import fast_crawl_settings
from tests.harness.stores import index_urls


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "4m"):
    where.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(fs: Path) -> Path:
    """Write until the filesystem says ENOSPC; return the filler, to delete for room."""
    filler = fs / f"filler-{uuid.uuid4().hex}"
    # Unbuffered: a buffered file keeps what a failed write could not store and raises ENOSPC
    # again when it is closed.
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                os.fsync(fh.fileno())
        except OSError as err:
            assert err.errno == errno.ENOSPC
    # the last partial block too
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as fh:
        while True:
            fh.write(b"\0")
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_full_disk_under_index_and_spool_loses_nothing(fixture_site, tmp_path):
    site = fixture_site
    with small_filesystem(tmp_path / "full") as fs:
        backend = SqliteBackend(fs / "index.sqlite3")
        backend.init()
        spool = Spool(fs / "spool")
        ingestor = Ingestor(backend, spool, retry_attempts=0, retry_backoff_s=0.0, probe_interval_s=0.05)
        cfg = fast_crawl_settings(tmp_path / "state")  # the frontier: another filesystem, with room
        src = Source(**site.source(feeds=[site.rss_url]))
        filler = fill(fs)

        s1 = run_crawl_blocking([src], cfg, ingestor)["fixture"]
        assert sorted(site.article_hits()) == sorted(a.path for a in site.articles)
        assert ingestor.counters["unstored"] >= 1
        assert ingestor.health()["storage"] == "failing"
        assert backend.count() + spool.depth() == 0
        # fetched and extracted, but not stored: the run counts them as ingest errors, not as articles found
        assert s1.counts.get("new", 0) == 0 and s1.articles == 0
        assert s1.counts["error:ingest"] == len(site.articles)
        assert s1.errors >= len(site.articles)
        assert {e["status"] for e in s1.error_samples} == {"error:ingest"}

        filler.unlink()
        site.reset_log()
        s2 = run_crawl_blocking([src], cfg, ingestor)["fixture"]
        # nothing was marked done: every article is fetched again, and now stored
        assert sorted(site.article_hits()) == sorted(a.path for a in site.articles)
        assert s2.counts["new"] == len(site.articles)
        ingestor.drain()
        assert backend.count() == len(site.articles)
        assert ingestor.health()["storage"] == "ok"
        ingestor.close()
        backend.close()
        spool.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_the_daemon_says_failing_while_it_cannot_store(tmp_path, project, daemons, fixture_site_factory):
    import json
    import urllib.error
    import urllib.request

    from tests.faults.conftest import base_config

    site = fixture_site_factory(3)
    with small_filesystem(tmp_path / "full") as fs:
        cfg = base_config(project.root, [site.source("fixture", schedule={"every": "2s", "jitter": "0s"})],
                          index={"sqlite_path": str(fs / "index.sqlite3"), "spool_path": str(fs / "spool"),
                                 "retry_attempts": 0, "retry_backoff_s": 0})
        project.write(cfg)
        d = daemons(project)
        try:
            d.wait_for(lambda ev: d.summaries("fixture"), 60, "the first crawl")
            assert d.health()["status"] == "ok"
            fill(fs)  # full while it runs; the next crawl finds a new article
            site.add_article()
            d.wait_for(lambda ev: d.named("ingest.articles_unstored"), 30, "the unstored batch")
            # the run that found it says so: an ingest error, not an article found
            unstored = d.wait_for(lambda ev: [s for s in d.summaries("fixture") if s["counts"].get("error:ingest")],
                                  30, "the run that could not store")[0]
            assert unstored["articles"] == 0 and unstored["errors"] >= 1, unstored
            listening = d.wait_for(lambda ev: [e for e in ev if e.get("event") == "health_listening"], 30)[0]
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(listening["url"], timeout=5)
            assert answer.value.code == 503
            report = json.load(answer.value)
            assert report["status"] == "failing"
            assert any(r.startswith("storage:") for r in report["reasons"]), report
        finally:
            d.close()  # nothing may hold the filesystem when it is unmounted


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_daemon_started_on_a_full_disk_says_failing_then_starts(project, daemons, fixture_site_factory, tmp_path):
    from tests.faults.conftest import base_config

    site = fixture_site_factory(2)
    with small_filesystem(tmp_path / "full") as fs:
        data = fs / "data"
        cfg = base_config(project.root, [site.source("fixture", schedule={"every": "2s", "jitter": "0s"})])
        cfg["data_dir"] = str(data)
        for section, key, name in (("index", "sqlite_path", "index.sqlite3"), ("index", "spool_path", "spool"),
                                   ("mail", "outbox", "outbox"), ("mail", "ledger_path", "alerts.sqlite3"),
                                   ("crawl", "state_path", "crawl.sqlite3")):
            cfg[section][key] = str(data / name)
        project.write(cfg)
        d = daemons(project)
        try:
            d.wait_for(lambda ev: d.summaries("fixture"), 60, "the first crawl")
            assert d.stop() == 0
            filler = fill(fs)  # full before the daemon starts again
            added = site.add_article()
            d = daemons(project)
            d.wait_for(lambda ev: d.named("storage_full_at_start"), 60, "the full disk noticed at start")
            report = d.health()
            assert d.alive and report["http"] == 503 and report["status"] == "failing", report
            assert any("no space left" in r for r in report["reasons"]), report
            filler.unlink()  # room again: the daemon opens its stores and crawls what it missed
            d.wait_for(lambda ev: d.named("daemon_started"), 60, "daemon_started once there is room")
            d.wait_for(lambda ev: any(s["articles"] for s in d.summaries("fixture")), 60, "the new article")
            assert site.url(added.path) in index_urls(data / "index.sqlite3")
            assert d.health()["status"] == "ok"
            assert d.stop() == 0
        finally:
            d.close()  # nothing may hold the filesystem when it is unmounted


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_a_crawl_state_on_a_full_disk_fails_the_runs_and_says_where(tmp_path, project, daemons, fixture_site_factory):
    """Every run fails at its start (the crawl state cannot record it): each is a failed run naming the
    file, and the sources' health says failing, as for any source failing run after run."""
    from tests.faults.conftest import base_config

    site = fixture_site_factory(3)
    with small_filesystem(tmp_path / "full") as fs:
        cfg = base_config(project.root, [site.source("fixture", schedule={"every": "2s", "jitter": "0s"})],
                          crawl={"state_path": str(fs / "crawl.sqlite3")})
        cfg["http"]["failing_after_runs"] = 2
        project.write(cfg)
        d = daemons(project)
        try:
            d.wait_for(lambda ev: d.summaries("fixture"), 60, "the first crawl")
            filler = fill(fs)
            d.wait_for(lambda ev: len([s for s in d.summaries("fixture") if s["failed"]]) >= 2, 60, "two failed runs")
            failed = [s for s in d.summaries("fixture") if s["failed"]]
            assert all(f"crawl state at {fs / 'crawl.sqlite3'}" in s["reason"] for s in failed), failed
            d.wait_for(lambda ev: d.health()["status"] == "failing", 30, "health failing")
            filler.unlink()
            d.wait_for(lambda ev: not d.summaries("fixture")[-1]["failed"], 60, "a run once there is room")
        finally:
            d.close()  # nothing may hold the filesystem when it is unmounted
