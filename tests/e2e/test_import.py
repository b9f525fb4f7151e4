"""`mediawatch import` of the shipped WARC through the real CLI: indexed once, alerts only with --alert."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import fast_crawl

WARC = Path(__file__).resolve().parents[1] / "fixtures" / "articles.warc.gz"


def import_config(project) -> dict:
    data = project.root / "data"
    return {
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3"),
                 "outbox": str(project.root / "outbox")},
        "crawl": fast_crawl(data),
        "http": {"health_port": None},
        "rules": [{"name": "pier", "query": "pier", "recipients": ["a@example.org"], "mode": "instant"}],
    }


def urls(project) -> list[str]:
    result = project.run("search", "*", "--json", "--limit", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line)["url"] for line in result.stdout.splitlines()]


def outbox(project) -> list[Path]:
    return sorted((project.root / "outbox").glob("*.eml"))


def test_import_then_reimport_indexes_each_article_once_without_alerts(project):
    project.write(import_config(project))
    result = project.run("import", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 14 article(s)" in result.stdout, result.stdout
    assert "import_progress" in result.stderr and "eta_s" in result.stderr
    first = urls(project)
    assert len(first) == len(set(first)) == 14
    assert "https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510" in first

    result = project.run("import", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 0 article(s)" in result.stdout and "seen=14" in result.stdout, result.stdout
    assert sorted(urls(project)) == sorted(first)
    assert outbox(project) == []


def test_import_with_alert_mails_the_matches(project):
    project.write(import_config(project))
    result = project.run("import", "--alert", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(outbox(project)) == 12  # the twelve archived stories mention the pier


def test_missing_path_is_a_usage_error(project):
    project.write(import_config(project))
    result = project.run("import", str(project.root / "nope.warc.gz"))
    assert result.returncode == 2
    assert "nope.warc.gz" in result.stderr
