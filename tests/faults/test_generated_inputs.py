"""Fault 5, generated: hypothesis builds malformed feeds and sitemaps (RSS 2.0, RSS 1.0/RDF, Atom,
urlset, Google News, sitemap index), then mangles them — truncation, stray bytes, lying encodings,
BOMs and UTF-16, DOCTYPEs with entities, deep nesting, gzip, hostile links and dates, wrong content
types, 5xx. They are served beside a good source and crawled with the real CLI (``mediawatch crawl``).

Every generated document ends with one final status (logged with its reason when it is an error), the
CLI never crashes nor prints a traceback, and the good source's articles all land. Bounded: a few
examples of ten documents each, no shrinking (each example is a whole crawl)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from tests.harness.generated_documents import FEED_KINDS, document
from tests.harness.project import REPO, cli_env, fast_crawl
from tests.harness.sites import FixtureSite
from tests.harness.stores import index_urls

pytestmark = pytest.mark.timeout(240)

N_DOCS = 10


@pytest.fixture(scope="module")
def sites():
    good, bad = FixtureSite(4), FixtureSite(2, offset=60)
    yield good, bad
    good.stop()
    bad.stop()


# -- the test --------------------------------------------------------------------------------------
_counter = iter(range(10**6))


def crawl_with(good: FixtureSite, bad: FixtureSite, docs: list) -> None:
    n = next(_counter)
    urls = []
    for i, (kind, data, headers, status) in enumerate(docs):
        path = f"/gen/{n}/{i}-{kind}.xml"
        bad.route(path, lambda s=status, h=headers, b=data: (s, h, b))
        urls.append((kind, bad.url(path)))
    root = Path(tempfile.mkdtemp(prefix="mw-gen-"))
    try:
        data_dir = root / "data"
        feeds = [u for k, u in urls if k in FEED_KINDS]
        sitemaps = [u for k, u in urls if k not in FEED_KINDS]
        generated = {"name": "generated", "feeds": feeds, "sitemaps": sitemaps, "discovery": "all",
                     "allow_private_addresses": True, "max_pages_per_run": 80, "max_articles_per_run": 40}
        if not feeds and not sitemaps:
            return
        config = {
            "data_dir": str(data_dir),
            "index": {"sqlite_path": str(data_dir / "index.sqlite3"), "spool_path": str(data_dir / "spool")},
            "mail": {"outbox": str(data_dir / "outbox"), "ledger_path": str(data_dir / "alerts.sqlite3")},
            "crawl": {**fast_crawl(data_dir), "download_timeout": 5},
            "http": {"health_port": None},
            "log": {"format": "json"},
            "sources": [good.source("good"), generated],
        }
        (root / "mediawatch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        proc = subprocess.run([sys.executable, "-m", "scheduler.cli", "--config", str(root / "mediawatch.yaml"),
                               "--log-level", "debug", "crawl"], cwd=REPO, capture_output=True, text=True,
                              timeout=120, env=cli_env())
        events = []
        for line in proc.stderr.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"event": "raw", "line": line})
        context = f"rc={proc.returncode}\nstdout={proc.stdout[-1500:]}\nstderr tail={proc.stderr[-3000:]}"
        assert proc.returncode == 0, context
        assert "Traceback" not in proc.stderr, context
        assert not [e for e in events if e.get("event") in ("crawl_crashed", "crawl_failed", "command_failed",
                                                             "ingest.worker_error")], context
        assert not [e for e in events if e.get("event") == "raw" and e["line"].strip()], context
        good_line = next(line for line in proc.stdout.splitlines() if line.startswith("good "))
        assert good_line.split()[1] == str(len(good.articles)), good_line
        indexed = index_urls(data_dir / "index.sqlite3")
        assert {good.url(a.path) for a in good.articles} <= set(indexed)
        assert len(indexed) == len(set(indexed))
        # each generated document: one final status in the log, an error with its reason
        for kind, url in urls:
            logged = [e for e in events if e.get("url") == url and e.get("event") in ("url_failed", "url_skipped",
                                                                                     "url_done")]
            assert len(logged) == 1, (url, kind, logged, context)
            e = logged[0]
            assert e["status"] in ("listing", "not_modified", "seen") or e["status"].startswith(
                ("error:", "skipped:")), e
            if e["status"].startswith("error:"):
                assert e.get("reason") or e["status"].startswith("error:http_"), e
    finally:
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=6, deadline=None, phases=[Phase.generate], database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_feeds_and_sitemaps(sites, data):
    good, bad = sites
    paths = [a.path for a in bad.articles]
    docs = data.draw(st.lists(document(bad.base, paths), min_size=N_DOCS, max_size=N_DOCS), label="documents")
    crawl_with(good, bad, docs)
