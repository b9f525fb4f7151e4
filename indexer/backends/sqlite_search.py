"""How the embedded index answers a search without reading every match.

The FTS5 table's rowid is a *time key* (:func:`time_key`): the article's ``effective_at`` in whole seconds in
the high bits, its ``seq`` in the low ones. FTS5 walks a match's doclist by rowid in either direction and
takes rowid ranges, so "newest first" is its native order and a date range is a rowid range: the 20 newest
matches cost about 20 steps, not a sort of every match (a common word matches half the index). The key is
monotone in ``effective_at`` only to the second, so the exact order (``effective_at DESC, url ASC``) is
settled among the matches of the buckets down to the one that held the last wanted hit: every match outside
them is strictly older.

A small source or language filter goes the other way: its few rows first, each probed in the FTS index by
rowid, since walking a common word's matches newest first would mostly meet other sources.

``articles_tkey`` covers ``(tkey, effective_at, url, source, language, story_id)``: the walk, the filters,
the exact order, counts and the per-day chart never read an article's row (whose text makes it span
overflow pages); only the hits shown are fetched whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

from indexer.backends.base import as_utc
from indexer.query import And, MatchAll, Node, Not, Or, Prefix, Term, to_fts5

TIE_BITS = 31  # seq in the low bits: unique below 2**31 rows ever written
_TIE_MASK = (1 << TIE_BITS) - 1
_MAX_BUCKET = (1 << 32) - 1  # seconds since 1970 up to 2106; dates outside clamp into the end buckets
KEY_MAX = ((_MAX_BUCKET + 1) << TIE_BITS) - 1  # the largest key (2**63 - 1)
FEW_ROWS = 5000  # a filter with fewer rows than this is read first
STORY = "COALESCE(NULLIF(a.story_id, ''), a.id)"
FTS_JOIN = "articles_fts CROSS JOIN articles a ON a.tkey = articles_fts.rowid"  # CROSS JOIN: FTS is the outer loop
ROWS_JOIN = "articles a CROSS JOIN articles_fts ON articles_fts.rowid = a.tkey"  # rows first, FTS probed by rowid

FTS_ALL = to_fts5(MatchAll())
Run = Callable[[str, list[Any]], list[Any]]
PREFIX_TERMS_MAX = 64  # a prefix with more indexed words than this stays a prefix query
TERMS = "temp.articles_fts_terms"  # the FTS index's words (fts5vocab), per connection


# The sources of the stored articles in order, one index lookup each (the next name after the last), not a scan
# of every article as SELECT DISTINCT would be.
SOURCE_NAMES = ("WITH RECURSIVE s(name) AS (SELECT min(source) FROM articles WHERE source > '' "
                "UNION ALL SELECT (SELECT min(source) FROM articles WHERE source > s.name) FROM s "
                "WHERE s.name IS NOT NULL) SELECT name FROM s WHERE name IS NOT NULL LIMIT ?")


def bucket(at: datetime) -> int:
    return min(max(int(as_utc(at).timestamp() // 1), 0), _MAX_BUCKET)


def time_key(at: datetime, seq: int) -> int:
    """The FTS rowid of an article: monotone in ``effective_at`` to the second, unique by ``seq``."""
    return (bucket(at) << TIE_BITS) | (seq & _TIE_MASK)


def expand_prefixes(node: Node, run: Run, most: int = PREFIX_TERMS_MAX) -> Node:
    """``incl*`` as ``include OR included OR including …``, the words the index holds (up to
    ``most``): the same matches, but FTS5 merges a prefix's doclists whole (every match of every
    word, at each step of a search), where an OR of words is walked lazily, newest first, as one word is.
    bm25 scores each word of the OR apart, so a relevance order keeps the prefix (callers' choice)."""
    if isinstance(node, Prefix):
        words = _indexed_words(node.prefix, run, most)
        if words is None or not words:
            return node
        return Or(tuple(Term(w, node.field) for w in words)) if len(words) > 1 else Term(words[0], node.field)
    if isinstance(node, (And, Or)):
        return type(node)(tuple(expand_prefixes(c, run, most) for c in node.children))
    if isinstance(node, Not):
        return Not(expand_prefixes(node.child, run, most))
    return node


def _indexed_words(prefix: str, run: Run, most: int) -> list[str] | None:
    """The index's words starting with ``prefix``; None when there are too many."""
    if not prefix:
        return None
    run(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TERMS} USING fts5vocab(main, articles_fts, 'row')", [])
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = run(f"SELECT term FROM {TERMS} WHERE term >= ? AND term < ? LIMIT ?",
               [prefix, upper, most + 1])
    words = [r[0] for r in rows if r[0].startswith(prefix)]
    return words if len(rows) <= most else None


class Filters:
    """The non-text part of a search: SQL on ``articles a`` plus the FTS rowid range (inclusive) the dates allow."""

    def __init__(self, since: str | None, until: str | None, since_dt: datetime | None, until_dt: datetime | None,
                 sources: Sequence[str] | None, languages: Sequence[str] | None) -> None:
        clauses: list[str] = []
        self.params: list[Any] = []
        if since is not None:
            clauses.append("a.effective_at >= ?")
            self.params.append(since)
        if until is not None:
            clauses.append("a.effective_at < ?")
            self.params.append(until)
        self.narrow = bool(sources or languages)  # worth a look at how many rows they leave
        for col, values in (("source", sources), ("language", languages)):
            if values:
                clauses.append(f"a.{col} IN ({', '.join('?' * len(values))})")
                self.params.extend(values)
        self.sql = "".join(f" AND {c}" for c in clauses)
        self.lo = bucket(since_dt) << TIE_BITS if since_dt is not None else 0
        self.hi = ((bucket(until_dt) + 1) << TIE_BITS) - 1 if until_dt is not None else KEY_MAX

    @property
    def where(self) -> str:
        return ("WHERE " + self.sql[5:]) if self.sql else ""


class Planner:
    """Reads for one query tree (as an FTS5 MATCH string) and filters, on the backend's ``run``."""

    def __init__(self, run: Run, match: str | None, filters: Filters, few_rows: int = FEW_ROWS) -> None:
        self.run = run
        self.few_rows = few_rows
        self.match = match
        self.f = filters
        self._rows_first: bool | None = None

    # which way round
    def rows_first(self) -> bool:
        """True when the filters leave few rows: read them, probe FTS for each."""
        if self._rows_first is None:
            self._rows_first = False
            if self.f.narrow:
                n = self.run(f"SELECT count(*) FROM (SELECT 1 FROM articles a {self.f.where} LIMIT ?)",
                             [*self.f.params, self.few_rows])[0][0]
                self._rows_first = n < self.few_rows
        return self._rows_first

    def source(self) -> tuple[str, str, list[Any]]:
        """FROM and WHERE (without the word) for every match, and their parameters."""
        if self.match is None:
            return "articles a", self.f.where, list(self.f.params)
        where = "WHERE articles_fts MATCH ? AND articles_fts.rowid >= ? AND articles_fts.rowid <= ?" + self.f.sql
        params = [self.match, self.f.lo, self.f.hi, *self.f.params]
        return (ROWS_JOIN if self.rows_first() else FTS_JOIN), where, params

    # reads
    def count(self) -> int:
        if self.match is not None and not self.f.sql:
            # every FTS row is one article: no join at all
            return int(self.run("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                                [self.match])[0][0])
        frm, where, params = self.source()
        return int(self.run(f"SELECT count(*) FROM {frm} {where}", params)[0][0])

    def per_day(self, width: int) -> list[Any]:
        frm, where, params = self.source()
        return self.run(f"SELECT substr(a.effective_at, 1, {width}) AS day, a.source AS source, count(*) AS n "
                        f"FROM {frm} {where} GROUP BY day, a.source", params)

    def newest(self, limit: int, collapse: bool) -> tuple[list[int], dict[int, int]]:
        """The seqs of the ``limit`` newest matches (with ``collapse``: of the newest copy of the ``limit``
        stories with the newest copies) in order, and with ``collapse`` how many copies matched, by seq."""
        if self.match is None and not self.rows_first():
            # every article matches: walk the FTS index newest first all the same (its kw column holds
            # ALL_TOKEN in every row), rather than order the whole table
            return Planner(self.run, FTS_ALL, self.f, self.few_rows).newest(limit, collapse)
        order = "a.effective_at DESC, a.url ASC"
        frm, where, params = self.source()
        if self.match is not None and not self.rows_first():
            lo = self._last_bucket(limit, collapse)
            if lo is not None:  # only the buckets down to the last wanted hit's can hold the answer
                params[1] = max(params[1], lo)
        if not collapse:
            rows = self.run(f"SELECT a.seq FROM {frm} {where} ORDER BY {order} LIMIT ?", [*params, limit])
            return [r[0] for r in rows], {}
        rows = self.run(
            f"SELECT seq, story FROM (SELECT a.seq AS seq, {STORY} AS story, a.effective_at AS at, a.url AS url,"
            f" ROW_NUMBER() OVER (PARTITION BY {STORY} ORDER BY {order}) AS n FROM {frm} {where})"
            " WHERE n = 1 ORDER BY at DESC, url ASC LIMIT ?", [*params, limit])
        return [r[0] for r in rows], self._copies({r[1]: r[0] for r in rows})

    def _last_bucket(self, limit: int, collapse: bool) -> int | None:
        """The lowest key of the bucket holding the ``limit``-th newest match (or story), None if fewer match."""
        frm, where, params = self.source()
        n = limit * (4 if collapse else 1)
        while True:
            rows = self.run(f"SELECT articles_fts.rowid, {STORY} FROM {frm} {where} "
                            "ORDER BY articles_fts.rowid DESC LIMIT ?", [*params, n])
            if not collapse:
                return (rows[limit - 1][0] >> TIE_BITS) << TIE_BITS if len(rows) >= limit else None
            seen: set[str] = set()
            for key, story in rows:
                seen.add(story)
                if len(seen) == limit:
                    return (key >> TIE_BITS) << TIE_BITS
            if len(rows) < n:
                return None
            n *= 4

    def _copies(self, seq_of: dict[str, int]) -> dict[int, int]:
        """Matching articles (filters included) of each story, by the seq of its shown copy."""
        if not seq_of:
            return {}
        keys = list(seq_of)
        marks = ", ".join("?" * len(keys))
        rows = self.run(f"SELECT a.tkey, {STORY} AS story FROM articles a WHERE (a.story_id IN ({marks})"
                        f" OR a.id IN ({marks})){self.f.sql}", [*keys, *keys, *self.f.params])
        found = self.scores([r[0] for r in rows]) if self.match is not None else {r[0]: 0.0 for r in rows}
        counts: dict[int, int] = {}
        for key, story in rows:
            if key in found and story in seq_of:
                counts[seq_of[story]] = counts.get(seq_of[story], 0) + 1
        return counts

    def scores(self, keys: list[int], score: str = "0.0") -> dict[int, float]:
        """Which of these FTS keys match, with ``score``: ONE evaluation of the words over the keys' range.
        Probing key by key would evaluate them once per key, and a prefix merges all its words' lists
        each time. ``+rowid`` keeps the IN list from being handed to FTS5 as one probe per key."""
        if not keys:
            return {}
        marks = ", ".join("?" * len(keys))
        rows = self.run(f"SELECT articles_fts.rowid, {score} FROM articles_fts WHERE articles_fts MATCH ?"
                        f" AND articles_fts.rowid >= ? AND articles_fts.rowid <= ? AND +articles_fts.rowid IN ({marks})",
                        [self.match, min(keys), max(keys), *keys])
        return {r[0]: float(r[1]) for r in rows}
