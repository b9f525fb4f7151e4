"""The tree as Elasticsearch query DSL, run on the ``*_folded`` fields (our tokens, ``whitespace`` analyzer)."""

from __future__ import annotations

from typing import Any

from indexer.query.folding import DEFAULT_FIELDS
from indexer.query.tree import And, FieldTerm, MatchAll, Node, Not, Or, Phrase, Prefix, Term

def es_field(name: str) -> str:
    """The ES field our queries run on (client-side folded copy)."""
    return f"{name}_folded"


def _es_fields(fieldname: str | None) -> tuple[str, ...]:
    return tuple(es_field(f) for f in ((fieldname,) if fieldname else DEFAULT_FIELDS))


def _es_any(clauses: list[dict]) -> dict:
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def to_es(node: Node) -> dict:
    """Elasticsearch query DSL for the tree (runs on the ``*_folded`` fields)."""
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Term):
        return _es_any([{"term": {f: node.token}} for f in _es_fields(node.field)])
    if isinstance(node, Prefix):
        return _es_any([{"prefix": {f: {"value": node.prefix}}} for f in _es_fields(node.field)])
    if isinstance(node, Phrase):
        if node.slop:
            return _es_any([
                {"span_near": {"clauses": [{"span_term": {f: tok}} for tok in node.tokens],
                               "slop": node.slop, "in_order": False}}
                for f in _es_fields(node.field)
            ])
        return _es_any([
            {"match_phrase": {f: {"query": " ".join(node.tokens), "analyzer": "whitespace"}}}
            for f in _es_fields(node.field)
        ])
    if isinstance(node, FieldTerm):
        kind = "prefix" if node.prefix else "term"
        return {kind: {es_field(node.field): {"value": node.value}}}
    if isinstance(node, And):
        must = [to_es(c) for c in node.children if not isinstance(c, Not)]
        must_not = [to_es(c.child) for c in node.children if isinstance(c, Not)]
        body: dict[str, Any] = {}
        if must:
            body["must"] = must
        if must_not:
            body["must_not"] = must_not
        return {"bool": body}
    if isinstance(node, Or):
        return {"bool": {"should": [to_es(c) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [to_es(node.child)]}}
    raise TypeError(f"not a query node: {node!r}")

