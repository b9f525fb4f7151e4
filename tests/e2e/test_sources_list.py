"""`mediawatch sources list` computes each source's next run from its schedule and its last run as the
daemon does (its jobs live in memory, so there is no job store to read it from): an interval source's
next slot at its own phase, a cron source's next time, "at daemon start" for one that never ran ("due now"
while a daemon holds the data folder)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from scheduler.crawlqueue import EPOCH, phase_s
from scheduler.lock import DataDirLock
from tests.harness.project import fast_crawl


def row(output: str, name: str) -> list[str]:
    return next(line for line in output.splitlines() if line.startswith(name + " ")).split()


def write_config(project, sources: list[dict]) -> Path:
    data = project.root / "data"
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"outbox": str(data / "outbox"), "ledger_path": str(data / "alerts.sqlite3")},
        "crawl": fast_crawl(data),
        "http": {"health_port": None},
        "sources": sources,
    })
    return data


def test_next_run_from_the_schedule(project, fixture_site):
    data = write_config(project, [
        fixture_site.source("every-2h", schedule={"every": "2h"}),
        fixture_site.source("nightly", schedule={"cron": "30 3 * * *"}),
        fixture_site.source("never-run", schedule={"every": "15m"}),
        fixture_site.source("off", enabled=False),
    ])
    assert project.run("crawl", "every-2h", "nightly").returncode == 0

    result = project.run("sources", "list")
    assert result.returncode == 0, result.stderr[-2000:]
    # name, schedule (two words), last run (date, time) or "never", articles, errors, next run
    crawled = row(result.stdout, "every-2h")
    last = datetime.fromisoformat(f"{crawled[3]}T{crawled[4]}+00:00")
    nxt = datetime.fromisoformat(f"{crawled[7]}T{crawled[8]}+00:00")
    # the first slot of its phase after the run began (the listing shows when it finished)
    assert last - timedelta(minutes=1) < nxt <= last + timedelta(hours=2)
    assert (nxt - EPOCH).total_seconds() % 7200 == phase_s("every-2h", 7200)
    assert int(crawled[5]) == len(fixture_site.articles)

    nightly = row(result.stdout, "nightly")
    at = datetime.fromisoformat(f"{nightly[-2]}T{nightly[-1]}+00:00")
    now = datetime.now(timezone.utc)
    assert (at.hour, at.minute) == (3, 30) and now < at <= now + timedelta(days=1)

    assert row(result.stdout, "never-run")[-3:] == ["at", "daemon", "start"]
    assert row(result.stdout, "off")[-1] == "-"

    # beside a running daemon (the data folder held by `run`), a slot that has come is queued or under way
    with DataDirLock(data) as lock:
        lock.acquire("run")
        beside = project.run("sources", "list")
    assert row(beside.stdout, "never-run")[-2:] == ["due", "now"], beside.stdout
    assert row(beside.stdout, "nightly")[-2:] == nightly[-2:]


def test_no_sources_says_how_to_add_one(project):
    data = project.root / "data"
    project.write({"data_dir": str(data), "index": {"sqlite_path": str(data / "index.sqlite3")},
                   "http": {"health_port": None}})
    result = project.run("sources", "list")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("no sources configured: add one with `mediawatch sources add")


def test_a_sources_recent_runs_newest_first_with_a_failed_url(project, fixture_site):
    data = write_config(project, [fixture_site.source("site"), fixture_site.source("idle")])
    assert project.run("crawl", "site").returncode == 0
    added, gone = fixture_site.add_article(), fixture_site.add_article()
    fixture_site.route(gone.path, lambda: (404, {"Content-Type": "text/html"}, b"gone"))
    assert project.run("crawl", "site").returncode == 0

    with DataDirLock(data) as lock:  # beside a running daemon, as every reading command
        lock.acquire("run")
        result = project.run("sources", "runs", "site")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["started", "(UTC)", "took"]
    runs = [line.split() for line in lines[1:] if not line.startswith(" ")]
    assert len(runs) == 2 and all(r[-1] == "finished" for r in runs)
    assert datetime.fromisoformat(f"{runs[0][0]}T{runs[0][1]}") >= datetime.fromisoformat(f"{runs[1][0]}T{runs[1][1]}")
    assert int(runs[1][4]) == len(fixture_site.articles) - 2 and runs[1][5] == "0"
    assert (runs[0][4], runs[0][5]) == ("1", "1")  # the new article; the other answered 404
    assert "e.g. error:http_404" in result.stdout and gone.path in result.stdout and added.path not in result.stdout
    assert project.run("sources", "runs", "site", "--limit", "1").stdout.count("finished") == 1

    idle = project.run("sources", "runs", "idle")
    assert idle.returncode == 0 and "no runs recorded for idle yet" in idle.stdout
    unknown = project.run("sources", "runs", "nope")
    assert unknown.returncode == 2 and "unknown source 'nope' (known: idle, site)" in unknown.stderr
