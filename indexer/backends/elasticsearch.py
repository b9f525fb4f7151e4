"""Elasticsearch backend: articles written in bulk with idempotent ids, old ones deleted, the node's
state reported. Reading (search, counts, stories) is :mod:`es_search`; the indices' layout is
:mod:`es_layout`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Iterator

import structlog
from elasticsearch import ApiError, Elasticsearch, OrjsonSerializer, helpers

from indexer.article import Article, utcnow
from indexer.backends.base import Backend, BackendError, BackendUnavailable, IndexResult, effective_at
from indexer.backends.es_layout import RETRYABLE, TEMPLATE_VERSION, IndexLayout, ApiErrors
from indexer.backends.es_search import IndexSearch, iso
from indexer.config import IndexConfig
from indexer.query import TEXT_QUERY_FIELDS, article_folded, article_keywords, es_field
from indexer.stories import Stories

log = structlog.get_logger(__name__)

MIN_BULK_PART = 50  # smaller batches go out as one request: a second one would cost more than it overlaps
BULK_PART = 250  # documents per request: small enough that the client encodes one while the node indexes others
# all the bulk helper and _bulk() read of a response: a tenth of its bytes to decode
BULK_RESPONSE_FIELDS = "errors,items.*._id,items.*.status,items.*.error"


class ElasticsearchBackend(IndexSearch, IndexLayout, Backend):
    name = "elasticsearch"

    def __init__(self, cfg: IndexConfig, client: Elasticsearch | None = None) -> None:
        if not cfg.url:
            raise ValueError("IndexConfig.url is required for Elasticsearch")
        self.cfg = cfg
        p = cfg.prefix
        self.read_alias = f"{p}-articles"
        self.write_alias = f"{p}-articles-write"
        self.template = f"{p}-articles"
        self.settings_component = f"{p}-articles-settings"
        self.mappings_component = f"{p}-articles-mappings"
        self.policy = f"{p}-articles"
        self.pattern = f"{p}-articles-*"
        self.es = client or self._client(cfg)
        self.caps: dict[str, bool] | None = None
        self._multi_index: bool | None = None  # read alias spans more than one index?
        self._pool: ThreadPoolExecutor | None = None
        self.stories = Stories(timedelta(days=cfg.story_window_days))

    @staticmethod
    def _client(cfg: IndexConfig) -> Elasticsearch:
        kwargs: dict[str, Any] = {
            "request_timeout": cfg.request_timeout_s,
            "max_retries": 0,  # the ingestor owns retries and the spool
            "retry_on_timeout": False,
            "verify_certs": cfg.verify_certs,
        }
        if cfg.ca_file:
            kwargs["ca_certs"] = cfg.ca_file
        if cfg.api_key is not None:
            kwargs["api_key"] = cfg.api_key.get_secret_value()
        elif cfg.username:
            kwargs["basic_auth"] = (cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        if not cfg.verify_certs:
            kwargs["ssl_show_warn"] = False
        kwargs["serializer"] = OrjsonSerializer()  # bulk bodies are mostly article text: much faster to encode
        return Elasticsearch(cfg.url, **kwargs)

    # ------------------------------------------------------------------ writing
    @staticmethod
    def document(article: Article) -> dict[str, Any]:
        doc = article.to_dict()
        doc["effective_at"] = iso(effective_at(article))
        for name, folded in zip(TEXT_QUERY_FIELDS, article_folded(article)):
            doc[es_field(name)] = folded
        for name, values in article_keywords(article).items():
            doc[es_field(name)] = values
        return doc

    def _locate(self, ids: list[str]) -> dict[str, str]:
        """Concrete index of each id already stored in an older (non-write) index."""
        if self._multi_index is None:
            self._multi_index = len(self._indices()) > 1
        if not self._multi_index or not ids:
            return {}
        with ApiErrors("locate"):
            got = self.es.search(index=self.read_alias, query={"ids": {"values": ids}}, size=len(ids),
                                 source=False, track_total_hits=False)
        return {h["_id"]: h["_index"] for h in got["hits"]["hits"]}

    def _write(self, articles: list[Article]) -> IndexResult:
        result = IndexResult()
        located = self._locate(list({a.id for a in articles}))
        write_index = self._write_index() if located else None

        def actions(part: list[Article]) -> Iterator[dict[str, Any]]:
            for a in part:
                target = located.get(a.id)
                yield {"_op_type": "index", "_index": target if target and target != write_index else self.write_alias,
                       "_id": a.id, "_source": self.document(a)}

        parts = self._partition(articles)
        with ApiErrors("bulk"):
            if len(parts) == 1:
                outcomes = [self._bulk(actions(parts[0]))]
            else:
                # Documents are built here, one part after the other, while the pool sends the parts
                # already built: built in the pool, all parts would share the GIL and be ready only
                # together, leaving the node idle at the start of every batch.
                futures = [self._bulk_pool().submit(self._bulk, iter(list(actions(part)))) for part in parts]
                outcomes = [f.result() for f in futures]
        for indexed, deferred, failed in outcomes:
            result.indexed += indexed
            result.deferred += deferred
            result.failed += failed
        if result.failed:
            log.warning("index.rejected", count=len(result.failed), first=result.failed[0][1][:300])
        return result

    def _partition(self, articles: list[Article]) -> list[list[Article]]:
        """Split a batch into requests of about ``BULK_PART`` documents (at least ``bulk_concurrency`` of
        them), sent by ``bulk_concurrency`` threads. A single-shard index takes one write thread per
        request: with one request more in flight than the node has write threads, the node always has the
        next one queued while the client encodes another. An id always lands in the same part, so two
        versions of one article in a batch still arrive in order."""
        n = max(1, -(-len(articles) // BULK_PART), min(self.cfg.bulk_concurrency, len(articles) // MIN_BULK_PART))
        if n == 1:
            return [articles]
        parts: list[list[Article]] = [[] for _ in range(n)]
        for a in articles:
            parts[int(a.id[:8], 16) % n].append(a)
        return [p for p in parts if p]

    def _bulk_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.cfg.bulk_concurrency, thread_name_prefix="es-bulk")
        return self._pool

    def _bulk(self, actions: Iterator[dict[str, Any]]) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """One bulk request stream: (indexed ids, ids to retry later, (id, reason) rejected for good)."""
        indexed: list[str] = []
        deferred: list[str] = []
        failed: list[tuple[str, str]] = []
        refresh = {"true": True, "false": False}.get(self.cfg.refresh, self.cfg.refresh)
        for ok, item in helpers.streaming_bulk(
            self.es, actions, chunk_size=self.cfg.bulk_size, max_chunk_bytes=50 * 1024 * 1024,
            raise_on_error=False, raise_on_exception=True, max_retries=3, initial_backoff=0.5,
            max_backoff=5, refresh=refresh, filter_path=BULK_RESPONSE_FIELDS,
        ):
            info = next(iter(item.values()))
            doc_id = info.get("_id")
            if ok:
                indexed.append(doc_id)
                continue
            status = info.get("status")
            err = info.get("error")
            reason = f"{err.get('type')}: {err.get('reason')}" if isinstance(err, dict) else str(err)
            if isinstance(err, dict) and err.get("caused_by"):
                reason += f" ({err['caused_by'].get('type')}: {err['caused_by'].get('reason')})"
            if status in RETRYABLE:
                deferred.append(doc_id)
            else:
                failed.append((doc_id, reason))
        return indexed, deferred, failed

    def refresh(self) -> None:
        with ApiErrors("refresh"):
            self.es.indices.refresh(index=self.read_alias)

    # ------------------------------------------------------------------ housekeeping
    def delete_older_than(self, days: int) -> int:
        if days < 0:
            raise ValueError("days must be >= 0")
        cutoff = iso(utcnow() - timedelta(days=days))
        query = {"range": {"effective_at": {"lt": cutoff}}}
        n = None
        if (self.caps or {}).get("delete_by_query", True):
            with ApiErrors("delete_by_query"):
                try:
                    got = self.es.delete_by_query(index=self.read_alias, query=query, conflicts="proceed",
                                                  refresh=True, slices="auto")
                    n = int(got.get("deleted", 0))
                except ApiError as err:
                    if err.meta.status not in (400, 404, 405) or "no handler" not in str(err):
                        raise
                    # the minimal distribution has no reindex module: scroll + bulk delete instead
                    if self.caps is not None:
                        self.caps["delete_by_query"] = False
        if n is None:
            n = self._delete_by_scan(query)
        if n:
            log.info("index.retention", deleted=n, days=days, backend="elasticsearch")
        try:
            self._drop_empty_indices()
        except BackendError as err:  # housekeeping only
            log.warning("index.drop_empty_failed", error=str(err))
        return n

    def _delete_by_scan(self, query: dict[str, Any]) -> int:
        n = 0
        with ApiErrors("delete"):
            victims = ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]}
                       for h in helpers.scan(self.es, index=self.read_alias, query={"query": query},
                                             _source=False, size=1000))
            for ok, item in helpers.streaming_bulk(self.es, victims, chunk_size=1000, raise_on_error=False,
                                                   raise_on_exception=True, refresh=True):
                info = next(iter(item.values()))
                if ok and info.get("result") == "deleted":
                    n += 1
        return n

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": "elasticsearch", "url": self.cfg.url, "read_alias": self.read_alias,
                               "write_alias": self.write_alias}
        try:
            with ApiErrors("status"):
                health = self.es.cluster.health(index=self.read_alias, timeout="5s")
                out["health"] = health.get("status")
                out["cluster"] = health.get("cluster_name")
                out["count"] = int(self.es.count(index=self.read_alias)["count"])
                out["template_version"] = self._template_version()
                out["code_template_version"] = TEMPLATE_VERSION
                rows = self.es.cat.indices(index=self.read_alias, format="json",
                                           h="index,health,docs.count,store.size")
                out["indices"] = sorted((dict(r) for r in rows), key=lambda r: r["index"])
                out["write_index"] = self._write_index()
                out["capabilities"] = self.caps or self.probe()
        except BackendUnavailable as err:
            out["health"] = "unreachable"
            out["error"] = str(err)
        except BackendError as err:
            out["health"] = "red"
            out["error"] = str(err)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.es.close()
