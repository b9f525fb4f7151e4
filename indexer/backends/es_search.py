"""Reading the article indices on Elasticsearch: search, counts, the per-day chart and single articles
through our query translation (:mod:`indexer.query.es`), and the story state the writer looks up before a
batch goes in (:mod:`indexer.stories`).

``IndexSearch`` is the reading half of ``ElasticsearchBackend``: it expects the backend's client
(``es``) and its read alias (``read_alias``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from elasticsearch import helpers

from indexer.article import Article, STORY_STATE_FIELDS, parse_optional_iso, utcnow
from indexer.backends.base import Hit, Node, Sort, as_utc, finite_limit, snippet_of, to_node
from indexer.backends.es_layout import ApiErrors
from indexer.query import Terms, to_es
from indexer.signatures import decode
from indexer.stories import Known

SOURCE_EXCLUDES = ["*_folded", *STORY_STATE_FIELDS]
STORY_STATE_SOURCE = ["story_id", "version", "content_hash", "story_sig", "story_keys", "effective_at",
                      "published_at", "published_at_source", "modified_at"]
MAX_CANDIDATES = 1000  # per lookup: a batch of distinct stories finds a handful
SOURCES_PER_DAY = 1000  # terms buckets per day in counts_per_day: above any real source list, so counts equal SQLite's
# Newest first, Elasticsearch still visits every match: a daemon writes oldest first, so within a segment each
# match is newer than the last and the date sort can skip none. A search first confined to the last day, then
# to the last 32 (when the day held an eighth of what is asked), reads a day's or a month's matches; the whole
# range only when they hold too few.
NEWEST_WINDOWS = (timedelta(days=1), timedelta(days=32))


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value else None


class IndexSearch:
    es: Any
    read_alias: str

    @staticmethod
    def _filters(since, until, sources, languages) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        rng: dict[str, Any] = {}
        if since is not None:
            rng["gte"] = iso(since)
        if until is not None:
            rng["lt"] = iso(until)
        if rng:
            out.append({"range": {"effective_at": rng}})
        if sources:
            out.append({"terms": {"source": list(sources)}})
        if languages:
            out.append({"terms": {"language": list(languages)}})
        return out

    def _query(self, node: Node | None, since, until, sources, languages) -> dict[str, Any]:
        filters = self._filters(since, until, sources, languages)
        main = to_es(node) if node is not None else {"match_all": {}}
        if not filters:
            return main
        return {"bool": {"must": [main], "filter": filters}}

    def search(self, query=None, *, since=None, until=None, sources=None, languages=None,
               limit: int = 20, sort: Sort = "published_at", collapse: bool = False) -> list[Hit]:
        node = to_node(query)
        limit = finite_limit(limit)
        sorts = {
            "published_at": [{"effective_at": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
            "indexed_at": [{"indexed_at": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
            "relevance": ["_score", {"effective_at": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
        }.get(sort)
        if sorts is None:
            raise ValueError(f"unknown sort {sort!r}")
        extra: dict[str, Any] = {}
        if collapse:
            extra["collapse"] = {"field": "story_id"}  # one hit per story
        query = self._query(node, since, until, sources, languages)

        def run(q: dict[str, Any]) -> list[dict[str, Any]]:
            with ApiErrors("search"):
                return self.es.search(index=self.read_alias, query=q, size=limit, sort=sorts, track_scores=True,
                                      track_total_hits=False, source_excludes=SOURCE_EXCLUDES, **extra)["hits"]["hits"]

        found = self._newest(run, node, since, until, sources, languages, limit) if sort == "published_at" else None
        if found is None:
            found = run(query)
        copies = self._copies(query, [h["_source"].get("story_id") for h in found]) if collapse else {}
        terms = Terms.of(node)
        hits = []
        for h in found:
            article = Article.from_dict(h["_source"])
            hits.append(Hit(article, float(h.get("_score") or 0.0), snippet_of(terms, article),
                            copies=copies.get(article.story_id, 1)))
        return hits

    def _newest(self, run, node: Node | None, since, until, sources, languages,
                limit: int) -> list[dict[str, Any]] | None:
        """The newest ``limit`` matches (stories) from a window back from ``until`` (or now), or None when the
        windows hold fewer. Whatever a window leaves out is older than all it holds, so they are the answer."""
        end = as_utc(until) or utcnow()
        for span in NEWEST_WINDOWS:
            if since is not None and end - span <= as_utc(since):
                return None
            found = run(self._query(node, end - span, until, sources, languages))
            if len(found) >= limit:
                return found
            if len(found) * 8 < limit:
                # a window 32 times as wide would likely hold too few as well: few matches (cheap to sort over
                # the whole range), or an index no longer written
                return None
        return None

    def _copies(self, query: dict[str, Any], story_ids: list[str | None]) -> dict[str, int]:
        """How many matches each shown story has: one aggregation, where inner hits ran a search per story."""
        wanted = sorted({s for s in story_ids if s is not None})
        if not wanted:
            return {}
        with ApiErrors("search"):
            got = self.es.search(index=self.read_alias, size=0, track_total_hits=False,
                                 query={"bool": {"filter": [query, {"terms": {"story_id": wanted}}]}},
                                 aggs={"copies": {"terms": {"field": "story_id", "size": len(wanted)}}})
        return {b["key"]: int(b["doc_count"]) for b in got["aggregations"]["copies"]["buckets"]}

    def count(self, query=None, *, since=None, until=None, sources=None, languages=None) -> int:
        node = to_node(query)
        with ApiErrors("count"):
            got = self.es.count(index=self.read_alias, query=self._query(node, since, until, sources, languages))
        return int(got["count"])

    def counts_per_day(self, query=None, *, since=None, until=None, sources=None,
                       languages=None, hourly: bool = False) -> dict[tuple[str, str], int]:
        node = to_node(query)
        aggs = {"days": {
            "date_histogram": {"field": "effective_at", "calendar_interval": "hour" if hourly else "day",
                               "time_zone": "UTC", "min_doc_count": 1,
                               "format": "yyyy-MM-dd'T'HH" if hourly else "yyyy-MM-dd"},
            "aggs": {"sources": {"terms": {"field": "source", "size": SOURCES_PER_DAY, "missing": ""}}},
        }}
        with ApiErrors("aggregate"):
            got = self.es.search(index=self.read_alias, query=self._query(node, since, until, sources, languages),
                                 size=0, aggs=aggs, track_total_hits=False)
        out: dict[tuple[str, str], int] = {}
        for day in got["aggregations"]["days"]["buckets"]:
            for src in day["sources"]["buckets"]:
                out[(day["key_as_string"], src["key"])] = int(src["doc_count"])
        return out

    def source_names(self, limit: int = 500) -> list[str]:
        with ApiErrors("aggregate"):
            names = {"terms": {"field": "source", "size": limit, "order": {"_key": "asc"}}}
            got = self.es.search(index=self.read_alias, size=0, track_total_hits=False, aggs={"sources": names})
        return [b["key"] for b in got["aggregations"]["sources"]["buckets"] if b["key"]]

    def ids(self, query=None, *, since=None, until=None, sources=None, languages=None) -> set[str]:
        node = to_node(query)
        with ApiErrors("scan"):
            return {h["_id"] for h in helpers.scan(
                self.es, index=self.read_alias, query={"query": self._query(node, since, until, sources, languages)},
                _source=False, size=1000)}

    def get(self, id: str) -> Article | None:
        with ApiErrors("get"):
            got = self.es.search(index=self.read_alias, query={"ids": {"values": [id]}}, size=1,
                                 track_total_hits=False, source_excludes=SOURCE_EXCLUDES)
        hits = got["hits"]["hits"]
        return Article.from_dict(hits[0]["_source"]) if hits else None

    def ids_indexed_since(self, t: datetime, *, limit: int = 10000) -> list[str]:
        with ApiErrors("search"):
            got = self.es.search(index=self.read_alias, query={"range": {"indexed_at": {"gte": iso(t)}}},
                                 size=min(limit, 10000), sort=[{"indexed_at": "asc"}, {"url": "asc"}],
                                 source=False, track_total_hits=False)
        return [h["_id"] for h in got["hits"]["hits"]]

    # ------------------------------------------------------------------ stories
    @staticmethod
    def _known(doc_id: str, src: dict[str, Any]) -> Known:
        return Known(id=doc_id, story_id=src.get("story_id") or "", version=src.get("version") or 1,
                     content_hash=src.get("content_hash") or "", sig=decode(src.get("story_sig") or ""),
                     keys=frozenset(src.get("story_keys") or ()), at=parse_optional_iso(src.get("effective_at")),
                     published_at=parse_optional_iso(src.get("published_at")),
                     published_at_source=src.get("published_at_source") or "",
                     modified_at=parse_optional_iso(src.get("modified_at")))

    def _state_search(self, query: dict[str, Any], size: int) -> list[Known]:
        with ApiErrors("stories"):
            got = self.es.search(index=self.read_alias, query=query, size=size, source_includes=STORY_STATE_SOURCE,
                                 track_total_hits=False)
        return [self._known(h["_id"], h["_source"]) for h in got["hits"]["hits"]]

    def story_state(self, ids: list[str]) -> dict[str, Known]:
        out: dict[str, Known] = {}
        for i in range(0, len(ids), 1000):
            part = ids[i:i + 1000]
            out.update((k.id, k) for k in self._state_search({"ids": {"values": part}}, len(part)))
        return out

    def story_candidates(self, keys: list[str], since: datetime, until: datetime) -> list[Known]:
        out: dict[str, Known] = {}
        window = {"range": {"effective_at": {"gte": iso(since), "lte": iso(until)}}}
        for i in range(0, len(keys), 8000):  # under the terms query's default limit of 65,536 values
            query = {"bool": {"filter": [{"terms": {"story_keys": keys[i:i + 8000]}}, window]}}
            out.update((k.id, k) for k in self._state_search(query, MAX_CANDIDATES))
        return list(out.values())

    def story_articles(self, story_ids: list[str], limit: int = 50) -> dict[str, list[Article]]:
        out: dict[str, list[Article]] = {s: [] for s in story_ids}
        if not story_ids:
            return out
        with ApiErrors("stories"):
            got = self.es.search(index=self.read_alias, query={"terms": {"story_id": story_ids}},
                                 size=min(10_000, limit * len(story_ids)),
                                 sort=[{"indexed_at": "asc"}, {"url": "asc"}],
                                 source_excludes=SOURCE_EXCLUDES, track_total_hits=False)
        for h in got["hits"]["hits"]:
            article = Article.from_dict(h["_source"])
            if len(out.setdefault(article.story_id, [])) < limit:
                out[article.story_id].append(article)
        return out
