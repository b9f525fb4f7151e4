"""The article indices' layout on Elasticsearch: the composable template, the rollover indices behind the
read and write aliases, the ILM policy, and upgrades of a layout an older version made.

``IndexLayout`` is the layout half of ``ElasticsearchBackend`` (which reads and writes documents): it
expects the backend's client (``es``), config (``cfg``) and the names it derives from the prefix.

Layout (``p`` = ``IndexConfig.prefix``):

* component templates ``p-articles-settings`` and ``p-articles-mappings``, index template ``p-articles``
  (pattern ``p-articles-*``, ``_meta.version`` = :data:`TEMPLATE_VERSION`, ``dynamic: strict``, every new
  index joins the read alias);
* indices ``p-articles-000001``, ``-000002`` … behind the read alias ``p-articles`` and the write alias
  ``p-articles-write`` (``is_write_index``);
* rollover by ILM policy ``p-articles`` when the cluster has ILM, else by ``init()`` / ``maintenance()``
  calling ``_rollover`` with the configured conditions.

Mapping: derived from ``indexer.article.FIELDS``. Text fields are ``text`` (standard analyzer, or
standard + asciifolding when the cluster has ``analysis-common``; unindexed with ``index_original_text: false``)
so ``text:word`` works in Kibana's search bar, plus ``<field>_folded``
(``whitespace`` analyzer over OUR tokens, see :mod:`indexer.query`) which our queries use. Keyword fields
are ``keyword``; the searchable ones also get ``<field>_folded`` (folded whole values). ``effective_at`` =
published_at or indexed_at. ``*_folded`` stay in ``_source`` and reads leave them out: an ``excludes``
filter costs Elasticsearch CPU on every document read, and makes it keep a second, unfiltered copy
(``_recovery_source``) that took more disk than the folded fields it hides. Capabilities are probed, never
assumed: the minimal distribution has no analysis-common, no ILM, and answers ``GET /`` with 405.
"""

from __future__ import annotations

from typing import Any

import structlog
from elasticsearch import ApiError
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError

from indexer.article import FIELDS
from indexer.backends.base import BackendError, BackendUnavailable
from indexer.query import KEYWORD_QUERY_FIELDS, MAX_KEYWORD, TEXT_QUERY_FIELDS, es_field

log = structlog.get_logger(__name__)

# 2: *_folded no longer excluded from _source; 3: original_url, story_keys, story_sig; 4: the original text
# fields indexed by default (``_meta.original_text`` says which way a layout was made)
TEMPLATE_VERSION = 4
RETRYABLE = {429, 500, 502, 503, 504}


class ApiErrors:
    """Map client exceptions to BackendUnavailable (retry later) / BackendError (won't fix itself)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, BackendError):
            return False
        if isinstance(exc, ApiError):
            status = getattr(exc.meta, "status", None) or getattr(exc, "status_code", None)
            if status in RETRYABLE:
                raise BackendUnavailable(f"{self.what}: HTTP {status}: {_reason(exc)}") from exc
            raise BackendError(f"{self.what}: HTTP {status}: {_reason(exc)}") from exc
        if isinstance(exc, (TransportError, TransportConnectionError, ConnectionError, TimeoutError)):
            raise BackendUnavailable(f"{self.what}: {type(exc).__name__}: {exc}") from exc
        return False


def _reason(exc: ApiError) -> str:
    try:
        err = exc.body.get("error") if isinstance(exc.body, dict) else exc.body
        if isinstance(err, dict):
            return f"{err.get('type')}: {err.get('reason')}"
        return str(err)[:300]
    except Exception:  # pragma: no cover
        return str(exc)[:300]


class IndexLayout:
    es: Any
    cfg: Any
    caps: dict[str, bool] | None

    def probe(self) -> dict[str, bool]:
        """What this cluster can do (the minimal distribution lacks analysis-common and ILM)."""
        caps = {"asciifolding": False, "ilm": False}
        with ApiErrors("probe"):
            try:
                self.es.indices.analyze(tokenizer="standard", filter=["lowercase", "asciifolding"], text="Café")
                caps["asciifolding"] = True
            except ApiError as err:
                if err.meta.status in RETRYABLE:
                    raise
            try:  # (not GET _ilm/status: its 405 makes the client put the node on a timeout)
                self.es.ilm.get_lifecycle(name=self.policy)
                caps["ilm"] = True
            except ApiError as err:
                if err.meta.status in RETRYABLE:
                    raise
                caps["ilm"] = err.meta.status == 404 and "no handler" not in str(err)
        self.caps = caps
        return caps

    def mappings(self) -> dict[str, Any]:
        caps = self.caps or {}
        text_analyzer = "mw_folding" if caps.get("asciifolding") else "standard"
        props: dict[str, Any] = {}
        for name, kind in FIELDS.items():
            if kind == "text":
                props[name] = (
                    {"type": "text", "analyzer": text_analyzer} if self.cfg.index_original_text
                    else {"type": "text", "index": False}
                )
            elif kind == "keyword":
                props[name] = {"type": "keyword", "ignore_above": MAX_KEYWORD}
            elif kind == "date":
                props[name] = {"type": "date"}
            elif kind == "integer":
                props[name] = {"type": "integer"}
            elif kind == "stored":
                props[name] = {"type": "keyword", "index": False, "doc_values": False}
            else:  # pragma: no cover - a new kind must be mapped here
                raise ValueError(f"no ES mapping for kind {kind!r} of {name}")
        for name in TEXT_QUERY_FIELDS:
            props[es_field(name)] = {"type": "text", "analyzer": "whitespace", "search_analyzer": text_analyzer,
                                     "index_options": "positions"}
        for name in KEYWORD_QUERY_FIELDS:
            props[es_field(name)] = {"type": "keyword", "ignore_above": MAX_KEYWORD}
        props["effective_at"] = {"type": "date"}
        return {"dynamic": "strict", "_meta": self._meta(), "properties": props}

    def _meta(self) -> dict[str, Any]:
        return {"version": TEMPLATE_VERSION, "managed_by": "mediawatch",
                "original_text": self.cfg.index_original_text}

    def settings(self) -> dict[str, Any]:
        caps = self.caps or {}
        index: dict[str, Any] = {
            "number_of_shards": self.cfg.shards,
            "auto_expand_replicas": self.cfg.replicas,
            "refresh_interval": self.cfg.refresh_interval,
            "mapping": {"total_fields": {"limit": 200}},
        }
        if caps.get("asciifolding"):
            index["analysis"] = {"analyzer": {"mw_folding": {
                "type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}
        if caps.get("ilm"):
            index["lifecycle"] = {"name": self.policy, "rollover_alias": self.write_alias}
        return {"index": index}

    def rollover_conditions(self) -> dict[str, Any]:
        cond: dict[str, Any] = {"max_age": self.cfg.rollover_max_age,
                                "max_primary_shard_size": self.cfg.rollover_max_primary_size}
        if self.cfg.rollover_max_docs:
            cond["max_docs"] = self.cfg.rollover_max_docs
        return cond

    def init(self) -> dict[str, Any]:
        done: dict[str, Any] = {"backend": "elasticsearch", "template_version": TEMPLATE_VERSION}
        with ApiErrors("init"):
            caps = self.probe()
            done["capabilities"] = caps
            if caps["ilm"]:
                self.es.ilm.put_lifecycle(name=self.policy, policy={
                    "_meta": {"version": TEMPLATE_VERSION},
                    "phases": {"hot": {"actions": {"rollover": self.rollover_conditions()}}},
                })
                done["ilm_policy"] = self.policy
            previous_meta = self._template_meta()
            previous = None if previous_meta is None else previous_meta.get("version")
            # a layout made before the flag existed (v3 and older) had the original text unindexed by default
            changed_text = previous_meta is not None and \
                previous_meta.get("original_text", False) != self.cfg.index_original_text
            meta = self._meta()
            self.es.cluster.put_component_template(
                name=self.settings_component, template={"settings": self.settings()}, meta=meta)
            self.es.cluster.put_component_template(
                name=self.mappings_component, template={"mappings": self.mappings()}, meta=meta)
            self.es.indices.put_index_template(
                name=self.template,
                index_patterns=[self.pattern],
                composed_of=[self.settings_component, self.mappings_component],
                template={"aliases": {self.read_alias: {}}},
                priority=200,
                meta=meta,
            )
            if previous is None:
                done["template"] = "created"
            elif previous != TEMPLATE_VERSION:
                done["template"] = f"upgraded from {previous}"
            elif changed_text:
                done["template"] = "original text " + ("indexed" if self.cfg.index_original_text else "unindexed")
            else:
                done["template"] = "unchanged"
            if not self.es.indices.exists_alias(name=self.write_alias):
                first = f"{self.cfg.prefix}-articles-000001"
                try:
                    self.es.indices.create(index=first, aliases={
                        self.write_alias: {"is_write_index": True}, self.read_alias: {}})
                    done["index"] = f"created {first}"
                except ApiError as err:
                    if "resource_already_exists" not in str(err):
                        raise
                    done["index"] = f"{first} exists"
            elif previous is not None and (previous != TEMPLATE_VERSION or changed_text):
                done["mapping_upgrade"] = self._upgrade_mappings()
            if not caps["ilm"]:
                done["rollover"] = self.rollover()
        self._multi_index = None
        log.info("index.init", **{k: v for k, v in done.items() if k != "capabilities"}, **caps)
        return done

    def _template_meta(self) -> dict[str, Any] | None:
        try:
            got = self.es.indices.get_index_template(name=self.template)
        except ApiError as err:
            if err.meta.status == 404:
                return None
            raise
        for item in got.get("index_templates", []):
            return item["index_template"].get("_meta") or {}
        return None

    def _template_version(self) -> int | None:
        meta = self._template_meta()
        return None if meta is None else meta.get("version")

    def _upgrade_mappings(self) -> str:
        """Additive mapping changes go onto the live indices; anything else rolls over to a fresh index."""
        mapping = self.mappings()
        try:
            self.es.indices.put_mapping(index=self.read_alias, properties=mapping["properties"],
                                        meta=mapping["_meta"], dynamic="strict")
            return "mappings updated in place"
        except ApiError as err:
            if err.meta.status in RETRYABLE:
                raise
            self.es.indices.rollover(alias=self.write_alias)
            self._multi_index = None
            return f"incompatible mapping ({_reason(err)}): rolled over"

    def rollover(self, force: bool = False) -> dict[str, Any]:
        """Roll the write alias over when a condition is met (or always, with force)."""
        with ApiErrors("rollover"):
            kwargs: dict[str, Any] = {} if force else {"conditions": self.rollover_conditions()}
            got = self.es.indices.rollover(alias=self.write_alias, **kwargs)
        self._multi_index = None
        out = {"rolled_over": bool(got.get("rolled_over")), "old_index": got.get("old_index"),
               "new_index": got.get("new_index")}
        if out["rolled_over"]:
            log.info("index.rollover", old=out["old_index"], new=out["new_index"])
        return out

    def maintenance(self) -> dict[str, Any]:
        if self.caps is None:
            self.probe()
        done: dict[str, Any] = {}
        if not (self.caps or {}).get("ilm"):
            done["rollover"] = self.rollover()
        done["dropped_empty_indices"] = self._drop_empty_indices()
        return done

    def _indices(self) -> dict[str, dict[str, Any]]:
        with ApiErrors("aliases"):
            try:
                got = self.es.indices.get_alias(name=self.read_alias)
            except ApiError as err:
                if err.meta.status == 404:
                    return {}
                raise
        return dict(got.body if hasattr(got, "body") else got)

    def _drop_empty_indices(self) -> list[str]:
        dropped = []
        indices = self._indices()
        if len(indices) < 2:
            return dropped
        with ApiErrors("drop empty"):
            write_index = self._write_index()
            counts = self.es.cat.indices(index=self.read_alias, format="json", h="index,docs.count")
            for row in counts:
                name = row["index"]
                if name == write_index or write_index is None:
                    continue
                if row.get("docs.count") in ("0", 0):
                    self.es.indices.delete(index=name)
                    dropped.append(name)
        self._multi_index = None
        return dropped

    def destroy(self) -> None:
        """Delete every index, alias, template and policy of this prefix (tests, `index reset`)."""
        with ApiErrors("destroy"):
            # explicit names: clusters with action.destructive_requires_name refuse wildcard deletes
            names = list(self.es.options(ignore_status=404).indices.get(index=self.pattern, expand_wildcards="all"))
            for i in range(0, len(names), 50):
                self.es.options(ignore_status=404).indices.delete(index=",".join(names[i:i + 50]))
            self.es.options(ignore_status=404).indices.delete_index_template(name=self.template)
            for name in (self.settings_component, self.mappings_component):
                self.es.options(ignore_status=404).cluster.delete_component_template(name=name)
            if (self.caps or {}).get("ilm"):
                self.es.options(ignore_status=404).ilm.delete_lifecycle(name=self.policy)

    def _write_index(self) -> str | None:
        with ApiErrors("aliases"):
            try:
                got = self.es.indices.get_alias(name=self.write_alias)
            except ApiError as err:
                if err.meta.status == 404:
                    return None
                raise
        for name, info in dict(got).items():
            if info.get("aliases", {}).get(self.write_alias, {}).get("is_write_index"):
                return name
        return None
