"""Fault 4: the data directory full or read-only, and parts of it replaced by something unusable:
a clear error naming the problem, the daemon stays up (or, at start, refuses to start), and after
recovery no store is corrupted (``PRAGMA integrity_check``), nothing is lost and nothing is doubled.

Tests run as root in CI, where chmod stops nothing. So: a tmpfs of 2 MB mounted on the data directory,
filled up while the daemon runs (ENOSPC on every write), then remounted read-only (EROFS) — root can do
both; a filesystem cannot be remounted read-only under open database files, so the daemon meets the
read-only one when it starts. Where mounting is not allowed, the scenario falls back to the file trick
(a regular file where a directory must be), which fails mkdir/open for root too; the file trick is also
tested on its own, always."""

from __future__ import annotations

import collections
import contextlib
import email
import email.policy
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.faults.conftest import base_config
from tests.harness.daemon import problems
from tests.harness.stores import alerts_pending, index_urls, integrity
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(150)

RULE = {"name": "everything", "query": "source:fixture", "recipients": ["desk@example.org"], "mode": "instant"}
DISK_ERRORS = ("disk is full", "no space left", "readonly database", "read-only file system")


def _mount(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@pytest.fixture
def tiny_fs(tmp_path, daemons):
    """A 2 MB tmpfs at tmp_path/'data', or None when this machine does not let us mount one.
    Every daemon is stopped before the unmount."""
    data = tmp_path / "data"
    data.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and \
        _mount(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(data)])
    try:
        yield data if mounted else None
    finally:
        daemons.close_all()  # nothing may hold the filesystem when it is unmounted
        if mounted:
            _mount(["mount", "-o", "remount,rw", str(data)])
            wait_until(lambda: _mount(["umount", str(data)]), 5, f"umount {data}", poll_s=0.25)


def fill(path: Path) -> Path:
    """Write zeros until the filesystem says ENOSPC."""
    filler = path / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as fh:
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    return filler


def outbox_articles(outbox: Path, urls: set[str]) -> collections.Counter:
    """How many .eml files mention each article URL."""
    count: collections.Counter = collections.Counter()
    for f in outbox.glob("*.eml"):
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",)).get_content()
        for u in urls:
            if u in body:
                count[u] += 1
    return count


def check_stores(data: Path) -> None:
    dbs = sorted(data.rglob("*.sqlite3"))
    assert {p.name for p in dbs} >= {"index.sqlite3", "alerts.sqlite3", "crawl.sqlite3", "spool.sqlite3"}, dbs
    for db in dbs:
        assert integrity(db) == "ok", db
    assert not list((data / "outbox").glob(".tmp-*")), "a half-written .eml was left in the outbox"


def disk_errors(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("level") in ("warning", "error")
            and any(s in str(e).lower() for s in DISK_ERRORS)]


def test_data_dir_full_then_read_only_recovers_intact(tiny_fs, project, daemons, fixture_site_factory):
    """Full while the daemon runs (ENOSPC on every write), then read-only (EROFS) when it starts."""
    if tiny_fs is None:  # no mount here: the same guarantees through the file trick
        return _file_trick_scenario(project, daemons, fixture_site_factory)
    data = tiny_fs
    site = fixture_site_factory(3)
    project.write(base_config(project.root, [site.source("fixture", schedule={"every": "2s", "jitter": "0s"})],
                              rules=[RULE]))
    d = daemons(project)
    d.wait_for(lambda ev: d.summaries("fixture"), 60, "the first crawl")

    def landed(urls: set[str], timeout: float, what: str) -> None:
        def missing() -> set[str]:
            return urls - set(index_urls(data / "index.sqlite3"))

        wait_until(lambda: not d.alive or not missing(), timeout, poll_s=0.3,
                   what=lambda: (f"{what}: {len(missing())} article(s) never indexed; crawls since: "
                                 f"{len(d.summaries('fixture'))}; last events: {d.tail(12)}"))
        assert d.alive, d.tail()

    landed({site.url(a.path) for a in site.articles}, 20, "before any fault")

    # Full: new articles are published while nothing can be written.
    filler = fill(data)
    full_at = len(d.pump())
    site.add_article(), site.add_article()

    def crawls_since_full(ev: list[dict]) -> int:
        return sum(1 for e in ev[full_at:] if e.get("event") in ("crawl_summary", "crawl_failed", "crawl_crashed")
                   and e.get("source") == "fixture")

    # a few crawl cycles (every 2 s) against a full disk, and one says so
    d.wait_for(lambda ev: crawls_since_full(ev) >= 2 and disk_errors(ev[full_at:]), 30,
               "two crawls against the full disk")
    assert d.alive
    errors = disk_errors(d.pump()[full_at:])
    filler.unlink()
    assert errors, f"no error says the disk is full; events: {d.tail(15)}"
    landed({site.url(a.path) for a in site.articles}, 10, "after the disk had space again")

    wait_until(lambda: alerts_pending(data / "alerts.sqlite3") == 0, 20, "every alert written")
    assert d.stop() == 0
    check_stores(data)

    # Read-only: a filesystem cannot be remounted read-only under open database files, so the daemon
    # meets it at start: it must refuse to start with a message that says what and where, and write
    # nothing; once writable again it starts and catches up with what was published meanwhile.
    assert _mount(["mount", "-o", "remount,ro", str(data)]), "remount read-only"
    site.add_article()
    ro = daemons(project)
    try:
        code = ro.proc.wait(60)
    finally:
        ro.stop()
        assert _mount(["mount", "-o", "remount,rw", str(data)])
    failed = ro.named("daemon_start_failed")
    assert code != 0 and len(failed) == 1, ro.tail()
    d = daemons(project)
    landed({site.url(a.path) for a in site.articles}, 20, "after the filesystem was writable again")
    wait_until(lambda: alerts_pending(data / "alerts.sqlite3") == 0, 20, "every alert written")
    assert d.stop() == 0
    expected = {site.url(a.path) for a in site.articles}
    urls = index_urls(data / "index.sqlite3")
    assert sorted(urls) == sorted(expected), "each article exactly once"
    check_stores(data)
    mailed = outbox_articles(data / "outbox", expected)
    assert set(mailed) == expected and set(mailed.values()) == {1}, mailed
    # a clear error: what failed, and where (the message alone, without the traceback)
    error = failed[0]["error"]
    assert str(data) in error and any(s in error.lower() for s in ("read-only", "readonly")), (
        f"start on a read-only data dir says only {error!r}")


def _file_trick_scenario(project, daemons, fixture_site_factory) -> None:
    """The outbox folder replaced by a regular file while the daemon runs (alerts cannot be written:
    a clear error, they stay pending), then restored (delivered once). And a spool folder that is a
    file at start: the daemon refuses to start with a message naming it; restored, it starts."""
    data = project.root / "data"
    site = fixture_site_factory(3)
    project.write(base_config(project.root, [site.source("fixture", schedule={"every": "2s", "jitter": "0s"})],
                              rules=[RULE]))
    outbox = data / "outbox"
    data.mkdir(parents=True, exist_ok=True)
    outbox.write_text("not a folder\n")
    d = daemons(project)
    d.wait_for(lambda ev: d.named("alerts.send_failed"), 60, "a failed alert")
    failed = d.named("alerts.send_failed")
    assert all(str(outbox) in e["error"] for e in failed), failed
    health = d.health()
    assert d.alive and health["status"] == "degraded" and health["http"] == 200, health
    assert any(r.startswith("deliveries failing") for r in health["reasons"]), health
    outbox.unlink()
    # the sweep retries the pending alerts once their backoff is over
    wait_until(lambda: alerts_pending(data / "alerts.sqlite3") == 0, 20, "the pending alerts written")
    assert d.stop() == 0
    assert not problems(d.events), problems(d.events)
    expected = {site.url(a.path) for a in site.articles}
    mailed = outbox_articles(outbox, expected)
    assert set(mailed) == expected and set(mailed.values()) == {1}, mailed

    spool = data / "spool"
    shutil.rmtree(spool)
    spool.write_text("not a folder\n")
    d2 = daemons(project)
    code = d2.proc.wait(60)
    d2.stop()
    assert code != 0
    failed = d2.named("daemon_start_failed")
    assert len(failed) == 1 and str(spool) in failed[0]["error"], d2.tail()
    spool.unlink()
    d3 = daemons(project)
    d3.wait_for(lambda ev: d3.named("daemon_started"), 60, "a start after the spool folder is back")
    assert d3.stop() == 0
    assert sorted(index_urls(data / "index.sqlite3")) == sorted(expected)
    check_stores(data)


def test_unusable_outbox_and_spool_folders(project, daemons, fixture_site_factory):
    _file_trick_scenario(project, daemons, fixture_site_factory)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")
def test_search_in_a_read_only_data_folder_names_the_index(tiny_fs, project):
    """SQLite cannot open an index whose folder it may not write its -wal and -shm files into: the CLI
    says which file, and why, in one line."""
    from tests.harness.project import WARC, import_config

    project.write(import_config(project))  # its data folder is tiny_fs
    assert project.run("import", str(WARC)).returncode == 0
    assert _mount(["mount", "-o", "remount,ro", str(tiny_fs)]), "remount read-only"
    result = project.run("search", "pier")
    assert result.returncode == 1
    index = tiny_fs / "index.sqlite3"
    assert f"mediawatch: the index at {index} did not answer: cannot open it (unable to open database file; " \
           "SQLite writes a -wal and a -shm file beside it, so its folder must be writable)" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_emptied_alert_ledger_stops_the_daemon_rather_than_mail_everything_again(project, daemons):
    """A ledger truncated to 0 bytes from outside looks new to SQLite: taken as new, a backfill rule would
    mail again every story the index holds. The daemon refuses to start, naming the file."""
    from tests.harness.project import WARC

    rule = {"name": "pier", "query": "pier", "recipients": ["a@example.org"], "mode": "instant", "backfill": True}
    project.write(base_config(project.root, [], rules=[rule]))
    assert project.run("import", "--alert", str(WARC)).returncode == 0
    outbox = project.root / "data" / "outbox"
    mailed = sorted(outbox.glob("*.eml"))
    assert len(mailed) == 12
    ledger = project.root / "data" / "alerts.sqlite3"
    for leftover in (ledger.with_name(ledger.name + "-wal"), ledger.with_name(ledger.name + "-shm")):
        leftover.unlink(missing_ok=True)
    ledger.write_bytes(b"")

    d = daemons(project)
    wait_until(lambda: not d.alive, 60, "the daemon to refuse to start")
    assert d.stop() == 1  # its log read to the end
    (failed,) = d.named("daemon_start_failed")
    assert f"the alert ledger {ledger} is empty (0 bytes)" in failed["error"], failed
    assert sorted(outbox.glob("*.eml")) == mailed  # nothing mailed again
