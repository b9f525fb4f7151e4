"""Parity: the in-process matcher and the SQLite/FTS5 backend find the same (rule, article) pairs."""

from __future__ import annotations

from indexer.alerts.matching import ActiveRule, InProcessMatcher, parse_cached
from indexer.backends.sqlite import SqliteBackend
from tests.unit.alerts.parity_corpus import corpus_articles, parity_rules


def test_same_rules_same_corpus_same_matches_sqlite(tmp_path):
    articles = corpus_articles()
    rules = parity_rules()
    backend = SqliteBackend(tmp_path / "index.sqlite3")
    backend.init()
    try:
        backend.index(articles)  # stamps indexed_at
        in_memory: dict[str, set[str]] = {r.name: set() for r in rules}
        for m in InProcessMatcher([ActiveRule(r, 0.0) for r in rules]).match(articles):
            in_memory[m.rule.name].add(m.article.id)
        mismatches = []
        for rule in rules:
            via_backend = backend.ids(parse_cached(rule.query), sources=rule.sources or None,
                                      languages=rule.languages or None)
            if via_backend != in_memory[rule.name]:
                mismatches.append((rule.name, rule.query, len(via_backend), len(in_memory[rule.name])))
        assert not mismatches, mismatches[:10]
        assert sum(len(v) for v in in_memory.values()) > 200  # the rules do match things
    finally:
        backend.close()
