"""A data folder written by the previous version (schema 2: FTS rows keyed by seq) still opens: the real
`mediawatch search` upgrades it in place, says so in its log, and answers newest first."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from indexer.article import Article
from indexer.backends.sqlite import SqliteBackend
from tests.harness.old_layouts import downgrade_to_v2

BASE = datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_search_upgrades_a_version_2_index(project):
    data = project.root / "data"
    index = data / "index.sqlite3"
    b = SqliteBackend(index)
    articles = [Article(url=f"https://s{i % 3}.example/{i}", title=f"Budget vote {i}", text=f"budget words {i}",
                        source=f"s{i % 3}", language="en", published_at=BASE + timedelta(hours=i))
                for i in range(30)]
    b.index(articles)
    b.close()
    downgrade_to_v2(index)
    project.write({"data_dir": str(data), "index": {"sqlite_path": str(index)},
                   "crawl": {"state_path": str(data / "crawl.sqlite3")}, "rules_dir": str(project.root / "rules"),
                   "sources": [{"name": "s0", "feeds": ["https://s0.example/rss"]}]})
    result = project.run("search", "budget", "--json", "--all-copies", "--limit", "5")
    assert result.returncode == 0, result.stderr
    assert "index.migrated" in result.stderr + result.stdout
    got = [json.loads(line)["url"] for line in result.stdout.splitlines() if line.startswith("{")]
    assert got == [f"https://s{i % 3}.example/{i}" for i in range(29, 24, -1)]
    again = project.run("search", "budget", "--json", "--all-copies", "--limit", "5", "--source", "s1")
    assert again.returncode == 0, again.stderr
    assert "index.migrated" not in again.stderr + again.stdout
    assert [json.loads(line)["url"] for line in again.stdout.splitlines() if line.startswith("{")] == \
        [f"https://s1.example/{i}" for i in (28, 25, 22, 19, 16)]
