"""The tree as an SQLite FTS5 ``MATCH`` expression: only quoted tokens we built, fully parenthesised."""

from __future__ import annotations

from indexer.query.folding import TEXT_QUERY_FIELDS, kw_token
from indexer.query.tree import And, FieldTerm, MatchAll, Node, Not, Or, Phrase, Prefix, Term

ALL_TOKEN = "zzall"  # present in every row's kw column, so pure negation has something to subtract from
FTS_TEXT_COLUMNS = TEXT_QUERY_FIELDS
FTS_KW_COLUMN = "kw"


def _fq(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _fcols(fieldname: str | None) -> str:
    cols = (fieldname,) if fieldname else FTS_TEXT_COLUMNS
    return "{" + " ".join(cols) + "}"


_FTS_ALL = f"{FTS_KW_COLUMN} : {_fq(ALL_TOKEN)}"


def to_fts5(node: Node) -> str:
    """A safe FTS5 MATCH expression for the tree: only quoted tokens we produced, fully parenthesised."""
    if isinstance(node, MatchAll):
        return _FTS_ALL
    if isinstance(node, Term):
        return f"({_fcols(node.field)} : {_fq(node.token)})"
    if isinstance(node, Prefix):
        return f"({_fcols(node.field)} : {_fq(node.prefix)} *)"
    if isinstance(node, Phrase):
        if node.slop:
            near = max(0, node.slop + len(node.tokens) - 2)
            return f"({_fcols(node.field)} : NEAR({' '.join(_fq(t) for t in node.tokens)}, {near}))"
        return f"({_fcols(node.field)} : {_fq(' '.join(node.tokens))})"
    if isinstance(node, FieldTerm):
        return f"({FTS_KW_COLUMN} : {_fq(kw_token(node.field, node.value))}{' *' if node.prefix else ''})"
    if isinstance(node, And):
        pos = [to_fts5(c) for c in node.children if not isinstance(c, Not)]
        neg = [to_fts5(c.child) for c in node.children if isinstance(c, Not)]
        left = "(" + " AND ".join(pos) + ")" if pos else _FTS_ALL
        if not neg:
            return left
        return f"({left} NOT ({' OR '.join(neg)}))"
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(c) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"({_FTS_ALL} NOT {to_fts5(node.child)})"
    raise TypeError(f"not a query node: {node!r}")

