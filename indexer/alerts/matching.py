"""Which enabled rules does a freshly indexed batch match?

``Matcher.match(batch) -> list[Match]`` honours, for every rule:

1. its query (the tree of ``indexer.query``; one semantics on every path),
2. its filters: ``sources`` and ``languages`` (exact values, like the backends' ``sources``/``languages``),
3. its start: only articles with ``indexed_at >= since`` (when this version of the rule was first seen,
   or 0 with backfill; an article without ``indexed_at`` counts as indexed now).

Two implementations:

:class:`InProcessMatcher` — every backend. ``indexer.query.MatcherSet`` files each compiled rule under an
anchor (a token, prefix or keyword value the rule cannot match without — a presearcher in the spirit of
Lucene Monitor/Luwak); each article is tokenised once (``ArticleTokens``) and only the rules whose anchor
occurs in it are evaluated exactly. Parsed trees are cached by query string, so editing one rule file does
not re-parse 10,000 queries.

:class:`PercolatorMatcher` — Elasticsearch with the ``percolator`` module: rules are stored as
percolator queries (``to_es(tree)`` plus the filters and the ``indexed_at`` start, all as ES filters) in
their own index ``<prefix>-alert-rules`` (article mapping copied from the article index, so the folded
fields analyse identically), and each batch is percolated in one request. :func:`build_matcher` probes
support by creating that index with a ``percolator`` field; a cluster without the module (e.g. the
minimal ``integ-test-zip`` distribution the test suite runs) answers ``No handler for type [percolator]``
and we fall back to :class:`InProcessMatcher` — identical semantics, the parity tests prove it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterable, Sequence

import structlog
from indexer.article import Article
from indexer.alerts.rules import Rule
from indexer.query import ArticleTokens, MatcherSet, Node, Terms, parse, to_es

log = structlog.get_logger(__name__)


@lru_cache(maxsize=100_000)
def parse_cached(query: str) -> Node:
    """``indexer.query.parse`` memoised (trees are frozen, so sharing them is safe)."""
    return parse(query)


@dataclass(frozen=True)
class ActiveRule:
    rule: Rule
    since: float  # epoch seconds; articles indexed before are not alerted


@dataclass(frozen=True)
class Match:
    rule: Rule
    article: Article


def _value_set(values: Iterable[str]) -> frozenset[str] | None:
    out = frozenset(v for v in values if v)
    return out or None


def _indexed_ts(article: Article, now: float) -> float:
    return article.indexed_at.timestamp() if article.indexed_at is not None else now


@dataclass(frozen=True)
class _Compiled:
    active: ActiveRule
    sources: frozenset[str] | None
    languages: frozenset[str] | None

    def admits(self, article: Article, indexed: float) -> bool:
        if indexed < self.active.since:
            return False
        if self.sources is not None and article.source not in self.sources:
            return False
        if self.languages is not None and article.language not in self.languages:
            return False
        return True


class InProcessMatcher:
    """Presearcher + exact matcher over ``indexer.query`` trees; no backend needed."""

    def __init__(self, active: Sequence[ActiveRule] = ()) -> None:
        self._compiled: dict[str, _Compiled] = {}
        self._set = MatcherSet()
        self.update(active)

    def update(self, active: Sequence[ActiveRule]) -> None:
        compiled = {
            a.rule.name: _Compiled(a, _value_set(a.rule.sources), _value_set(a.rule.languages)) for a in active
        }
        matcher_set = MatcherSet((a.rule.name, parse_cached(a.rule.query)) for a in active)
        self._compiled, self._set = compiled, matcher_set

    def __len__(self) -> int:
        return len(self._compiled)

    def match(self, batch: Sequence[Article], now: float | None = None) -> list[Match]:
        now = datetime.now(timezone.utc).timestamp() if now is None else now
        out: list[Match] = []
        compiled, matcher_set = self._compiled, self._set
        for article in batch:
            indexed = _indexed_ts(article, now)
            tokens = ArticleTokens.from_article(article)
            for name in matcher_set.match(tokens):
                c = compiled[name]
                if c.admits(article, indexed):
                    out.append(Match(c.active.rule, article))
        return out

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------------- percolator

class PercolatorUnsupported(RuntimeError):
    pass


def rule_es_query(active: ActiveRule) -> dict:
    """The rule as one ES query: its tree, its filters and its start, so ES applies all three."""
    rule = active.rule
    filters: list[dict] = []
    sources = _value_set(rule.sources)
    if sources:
        filters.append({"terms": {"source": sorted(sources)}})
    languages = _value_set(rule.languages)
    if languages:
        filters.append({"terms": {"language": sorted(languages)}})
    if active.since > 0:
        since = datetime.fromtimestamp(active.since, timezone.utc).isoformat()
        filters.append({"range": {"indexed_at": {"gte": since}}})
    return {"bool": {"must": [to_es(parse_cached(rule.query))], "filter": filters}}


class PercolatorMatcher:
    """Rules as percolator queries in ``index``; ``doc_of(article) -> dict`` must produce exactly what the
    article index stores (the backend's document builder: folded fields included)."""

    def __init__(self, client: Any, index: str, article_mappings: dict, doc_of: Any,
                 settings: dict | None = None, active: Sequence[ActiveRule] = ()) -> None:
        self.client, self.index, self.doc_of = client, index, doc_of
        self._rules: dict[str, ActiveRule] = {}
        ensure_percolator_index(client, index, article_mappings, settings)
        self.update(active)

    def update(self, active: Sequence[ActiveRule]) -> None:
        from elasticsearch import helpers

        wanted = {a.rule.name: a for a in active}
        actions: list[dict] = []
        for name, a in wanted.items():
            old = self._rules.get(name)
            if old is None or old != a:
                actions.append({"_op_type": "index", "_index": self.index, "_id": name,
                                "_source": {"query": rule_es_query(a), "mw_rule": name,
                                            "mw_fingerprint": a.rule.fingerprint}})
        # remove rules that disappeared (also ones left from an earlier run)
        existing = {h["_id"] for h in helpers.scan(self.client, index=self.index, query={"query": {"match_all": {}}},
                                                   _source=False)}
        actions += [{"_op_type": "delete", "_index": self.index, "_id": n} for n in existing - set(wanted)]
        if actions:
            helpers.bulk(self.client, actions, refresh="wait_for")
        self._rules = wanted

    def match(self, batch: Sequence[Article], now: float | None = None) -> list[Match]:
        if not batch or not self._rules:
            return []
        now = datetime.now(timezone.utc).timestamp() if now is None else now
        docs = []
        for article in batch:
            doc = dict(self.doc_of(article))
            if article.indexed_at is None:
                doc["indexed_at"] = datetime.fromtimestamp(now, timezone.utc).isoformat()
            docs.append(doc)
        out: list[Match] = []
        search_after = None
        while True:
            body: dict[str, Any] = {
                "query": {"percolate": {"field": "query", "documents": docs}},
                "size": 1000, "sort": [{"mw_rule": "asc"}], "_source": ["mw_rule"],
            }
            if search_after is not None:
                body["search_after"] = search_after
            resp = self.client.search(index=self.index, body=body)
            hits = resp["hits"]["hits"]
            for hit in hits:
                active = self._rules.get(hit["_source"]["mw_rule"])
                if active is None:
                    continue
                for slot in hit.get("fields", {}).get("_percolator_document_slot", []):
                    out.append(Match(active.rule, batch[slot]))
            if len(hits) < 1000:
                break
            search_after = hits[-1]["sort"]
        return out

    def close(self) -> None:
        pass


def ensure_percolator_index(client: Any, index: str, article_mappings: dict, settings: dict | None = None) -> None:
    """Create the rules index with a percolator field; PercolatorUnsupported if the cluster lacks it."""
    from elasticsearch import BadRequestError

    if client.indices.exists(index=index):
        props = client.indices.get_mapping(index=index)[index]["mappings"].get("properties", {})
        if props.get("query", {}).get("type") != "percolator":
            raise PercolatorUnsupported(f"{index} exists without a percolator field")
        return
    properties = dict(article_mappings.get("properties", {}))
    properties.update({"query": {"type": "percolator"}, "mw_rule": {"type": "keyword"},
                       "mw_fingerprint": {"type": "keyword"}})
    body: dict[str, Any] = {"mappings": {**{k: v for k, v in article_mappings.items() if k != "properties"},
                                         "properties": properties}}
    if settings:
        body["settings"] = settings
    try:
        client.indices.create(index=index, **body)
    except BadRequestError as err:
        text = str(err)
        if "percolator" in text:
            raise PercolatorUnsupported(text) from None
        if "resource_already_exists" in text:
            return
        raise


def percolator_supported(client: Any, index: str) -> bool:
    """Probe: can this cluster map a ``percolator`` field? (Creates and deletes ``index``.)"""
    try:
        ensure_percolator_index(client, index, {"properties": {}})
    except PercolatorUnsupported:
        return False
    client.indices.delete(index=index, ignore_unavailable=True)
    return True


def _es_parts(backend: Any) -> tuple[Any, str, dict, dict | None, Any] | None:
    """(client, rules index, article mappings, analysis settings, doc builder) of an ES backend, or None."""
    client = getattr(backend, "es", None)
    doc_of = getattr(backend, "document", None)
    if client is None or not hasattr(client, "indices") or doc_of is None:
        return None
    prefix = getattr(getattr(backend, "cfg", None), "prefix", None) or "mediawatch"
    mappings: dict = {"properties": {}}
    settings = None
    if hasattr(backend, "mappings"):
        if getattr(backend, "caps", None) is None and hasattr(backend, "probe"):
            backend.probe()
        mappings = backend.mappings()
        analysis = backend.settings().get("index", {}).get("analysis") if hasattr(backend, "settings") else None
        settings = {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1",
                              **({"analysis": analysis} if analysis else {})}}
    return client, f"{prefix}-alert-rules", mappings, settings, doc_of


def build_matcher(active: Sequence[ActiveRule], backend: Any = None, use_percolator: bool | None = None):
    """The percolator on an ES cluster that has it (unless ``use_percolator`` is False), else in-process."""
    if backend is not None and use_percolator is not False:
        parts = _es_parts(backend)
        if parts is not None:
            client, index, mappings, settings, doc_of = parts
            try:
                matcher = PercolatorMatcher(client, index, mappings, doc_of, settings, active)
                log.info("alerts.matcher", matcher="percolator", index=index)
                return matcher
            except PercolatorUnsupported as err:
                if use_percolator:
                    raise
                log.info("alerts.matcher", matcher="in_process", reason=f"cluster has no percolator: {str(err)[:200]}")
        elif use_percolator:
            raise PercolatorUnsupported("backend is not Elasticsearch")
    return InProcessMatcher(active)


# ----------------------------------------------------------------------------------------- helpers

def highlight_terms(query: str) -> Terms:
    """The terms to highlight for a query: its non-negated words, prefixes and phrases (folded)."""
    return Terms.of(parse_cached(query))


def search_rule(backend: Any, rule: Rule, limit: int = 20, since: Any = None) -> list[tuple[Article, float | None]]:
    """The rule's matches in the index now (its filters applied, and ``since`` when given), as (article, score)."""
    node = parse_cached(rule.query)
    hits = backend.search(node, since=since, sources=list(rule.sources) or None,
                          languages=list(rule.languages) or None, limit=limit)
    return [(h.article, getattr(h, "score", None)) for h in hits]
