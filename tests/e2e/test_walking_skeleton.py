"""The thin path through all four stages, per backend, through the real CLI:
fixture site feed → fetch → extract → index (SQLite or Elasticsearch) → rule → one email."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.harness.project import fast_crawl

RULE = "Lukashenko AND (prison OR jail)"


def skeleton_config(project, site, smtp, index: dict) -> dict:
    return {
        "data_dir": str(project.root / "data"),
        "index": {"sqlite_path": str(project.root / "data" / "index.sqlite3"),
                  "spool_path": str(project.root / "data" / "spool"), "bulk_interval_s": 0.5, **index},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(project.root / "data" / "alerts.sqlite3"),
                 "smtp": {"host": smtp.host, "port": smtp.port, "tls": "none", "timeout_s": 5}},
        "crawl": fast_crawl(project.root / "data"),
        "http": {"health_port": None},
        "sources": [site.source("fixture")],
        "rules": [{"name": "lukashenko", "query": RULE, "recipients": ["analyst@example.org"], "mode": "instant"}],
    }


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend_index(request) -> dict:
    if request.param == "sqlite":
        return {}
    es_url = request.getfixturevalue("es_url")
    return {"url": es_url, "prefix": f"mw-e2e-{uuid.uuid4().hex[:8]}"}


def test_crawl_index_search_alert(project, fixture_site, smtp_server, backend_index):
    site = fixture_site
    project.write(skeleton_config(project, site, smtp_server, backend_index))

    result = project.run("crawl", "fixture")
    assert result.returncode == 0, result.stderr[-3000:]

    # Every article of the feed was fetched once, and each one landed in the index.
    expected = len(site.articles)
    assert sorted(site.article_hits()) == sorted(a.path for a in site.articles)
    result = project.run("search", "*", "--json", "--all-copies", "--limit", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(hits) == expected
    assert all(h["title"] and h["text"] and h["url"].startswith(site.base) for h in hits)
    assert all(h["source"] == "fixture" and h["indexed_at"] for h in hits)

    # The seed: title, date and url extracted.
    result = project.run("search", 'title:"jailed rivals"', "--json")
    seed = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(seed) == 1, result.stdout
    assert seed[0]["title"] == "Lukashenko hold talks with jailed rivals"
    assert seed[0]["published_at"].startswith("2020-10-10")
    assert "Minsk prison" in seed[0]["text"]

    # The rule matches the seed article only, and sends exactly one email.
    mails = smtp_server.wait_for(1, timeout=20)
    assert len(mails) == 1
    mail = mails[0]
    assert mail.rcpt_tos == ["analyst@example.org"]
    assert "Lukashenko hold talks with jailed rivals" in mail.subject
    assert seed[0]["url"] in mail.part("plain")

    # A second crawl finds nothing new and mails nothing more.
    result = project.run("crawl", "fixture")
    assert result.returncode == 0, result.stderr[-3000:]
    result = project.run("search", "*", "--json", "--all-copies", "--limit", "100")
    assert len(result.stdout.splitlines()) == expected
    assert len(smtp_server.messages) == 1
