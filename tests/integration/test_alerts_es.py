"""Alerting on a real Elasticsearch node: percolator detection and fallback, cross-backend parity,
``alerts test``, and the whole chain ingestor → ES → alert engine → SMTP.

The test node is the minimal ``integ-test-zip`` distribution, which has no ``percolator`` module: the engine
must detect that and fall back to the in-process matcher. Where the cluster does have the module, the
percolator parity test runs as well.
"""

from __future__ import annotations

import time
import uuid

import pytest

from indexer.alerts.engine import AlertEngine
from indexer.alerts.matching import (
    ActiveRule, InProcessMatcher, PercolatorMatcher, build_matcher, parse_cached, percolator_supported,
)
from indexer.alerts.rule_hits import rule_hits
from indexer.alerts.rules import Rule
from indexer.backends.elasticsearch import ElasticsearchBackend
from indexer.backends.sqlite import SqliteBackend
from indexer.config import IndexConfig, MailConfig
from tests.harness.smtp import smtp_server  # noqa: F401  (fixture)
from tests.unit.alerts.parity_corpus import corpus_articles, parity_rules


@pytest.fixture
def es_backend(es_url):
    backend = ElasticsearchBackend(IndexConfig(url=es_url, prefix=f"mwt-alerts-{uuid.uuid4().hex[:8]}"))
    backend.init()
    try:
        yield backend
    finally:
        try:
            backend.es.options(ignore_status=404).indices.delete(index=f"{backend.cfg.prefix}-alert-rules")
            backend.destroy()
        finally:
            backend.close()


def test_percolator_detection_and_fallback(es_backend):
    supported = percolator_supported(es_backend.es, f"{es_backend.cfg.prefix}-probe")
    matcher = build_matcher([ActiveRule(Rule(name="r", query="minsk"), 0.0)], backend=es_backend)
    if supported:
        assert isinstance(matcher, PercolatorMatcher)
    else:  # the minimal distribution: no percolator module
        assert isinstance(matcher, InProcessMatcher)
        assert not es_backend.es.indices.exists(index=f"{es_backend.cfg.prefix}-alert-rules")
    assert isinstance(build_matcher([], backend=es_backend, use_percolator=False), InProcessMatcher)


def _in_memory(rules, articles) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {r.name: set() for r in rules}
    for m in InProcessMatcher([ActiveRule(r, 0.0) for r in rules]).match(articles):
        out[m.rule.name].add(m.article.id)
    return out


def test_parity_in_memory_sqlite_elasticsearch(es_backend, tmp_path):
    """Same rules, same corpus → the same (rule, article) pairs in memory, on SQLite and on Elasticsearch."""
    articles = corpus_articles()
    rules = parity_rules()
    sqlite = SqliteBackend(tmp_path / "index.sqlite3")
    sqlite.init()
    try:
        es_backend.index(articles)
        es_backend.refresh()
        sqlite.index(articles)
        memory = _in_memory(rules, articles)
        diffs = []
        for rule in rules:
            node = parse_cached(rule.query)
            kw = {"sources": rule.sources or None, "languages": rule.languages or None}
            es_ids, sq_ids = es_backend.ids(node, **kw), sqlite.ids(node, **kw)
            if not (es_ids == sq_ids == memory[rule.name]):
                diffs.append((rule.name, rule.query, len(memory[rule.name]), len(sq_ids), len(es_ids)))
        assert not diffs, diffs[:10]
        assert sum(map(len, memory.values())) > 200
    finally:
        sqlite.close()


def test_alerts_test_command_on_elasticsearch(es_backend):
    articles = corpus_articles()
    es_backend.index(articles)
    es_backend.refresh()
    rule = Rule(name="games", query="game* AND NOT football", sources=["dw", "wsj", "bbc"])
    hits = rule_hits(rule, es_backend, limit=50)
    expected = {m.article.id for m in InProcessMatcher([ActiveRule(rule, 0.0)]).match(articles)}
    assert {h.article.id for h in hits} == expected and hits
    assert all(h.article.source in ("dw", "wsj", "bbc") for h in hits)
    assert any("*game" in h.snippet.text.lower() for h in hits)
    assert rule_hits("game* AND NOT football", es_backend, limit=5)


def test_ingest_to_es_to_smtp(es_backend, smtp_server, tmp_path):
    """The daemon's chain: Ingestor → Elasticsearch → on_indexed → SMTP, exactly once, fast."""
    from indexer.ingest import Ingestor
    from indexer.spool import Spool

    cfg = MailConfig(from_addr="alerts@mediawatch.test", smtp=smtp_server.smtp_config(),
                     ledger_path=str(tmp_path / "alerts.sqlite3"), timezone="UTC")
    rules = [Rule(name="games", query="game* AND NOT football", recipients=["desk@example.org"])]
    engine = AlertEngine(cfg, rules, backend=es_backend)
    assert engine.status()["matcher"] in ("InProcessMatcher", "PercolatorMatcher")
    ingestor = Ingestor(es_backend, Spool(tmp_path / "spool"), batch_size=50, on_indexed=engine.on_indexed,
                        background=False)
    articles = corpus_articles()
    expected = {m.article.id for m in InProcessMatcher([ActiveRule(rules[0], 0.0)]).match(articles)}
    t0 = time.time()
    for a in articles:
        ingestor.submit(a)
    ingestor.flush()
    got = smtp_server.wait_for(len(expected), timeout=30)
    assert {m.message["X-Mediawatch-Article"] for m in got} == expected
    assert max(m.received_at for m in got) - t0 < 30
    # a re-crawl re-indexes the same URLs: nothing new is sent
    for a in corpus_articles():
        ingestor.submit(a)
    ingestor.flush()
    assert engine.send_due() == 0
    assert len(smtp_server.messages) == len(expected)
    ingestor.close()
    engine.close()
