"""Elasticsearch specifics against the real node: layout, capabilities, upgrades, rollover, rejections, auth."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import structlog.testing
from elasticsearch import ApiError, Elasticsearch

from indexer.article import Article
from indexer.backends.elasticsearch import TEMPLATE_VERSION, ElasticsearchBackend
from indexer.config import IndexConfig
from indexer.ingest import Ingestor
from indexer.query import tokenize
from indexer.spool import Spool

BASE = datetime(2024, 6, 1, tzinfo=timezone.utc)


def art(i: int, **kw) -> Article:
    kw.setdefault("published_at", BASE + timedelta(minutes=i))
    kw.setdefault("title", f"Headline {i} café")
    return Article(url=f"https://es.example/{i}", text=f"body {i}", **kw)


@pytest.fixture
def make(es_url):
    made: list[ElasticsearchBackend] = []

    def _make(**kw) -> ElasticsearchBackend:
        kw.setdefault("prefix", f"mwt-es-{uuid.uuid4().hex[:8]}")
        kw.setdefault("refresh", "wait_for")
        # Elasticsearch's own default: under wait_for every index() waits for the next scheduled refresh,
        # and the daemon's 5 s interval made each wait for most of it (a new index's first is 5 s away)
        kw.setdefault("refresh_interval", "1s")
        b = ElasticsearchBackend(IndexConfig(url=es_url, **kw))
        made.append(b)
        return b

    yield _make
    for b in made:
        try:
            b.destroy()
        finally:
            b.close()


def test_layout_template_aliases_and_strict_mapping(make):
    b = make()
    done = b.init()
    assert done["template"] == "created" and "created" in done["index"]
    es = b.es
    # the probe's answer is what the node has installed (the minimal distribution has neither)
    modules = {m["name"] for node in es.nodes.info(metric="plugins")["nodes"].values() for m in node["modules"]}
    assert done["capabilities"] == {"asciifolding": "analysis-common" in modules, "ilm": "x-pack-ilm" in modules}
    tpl = es.indices.get_index_template(name=b.template)["index_templates"][0]["index_template"]
    assert tpl["_meta"]["version"] == TEMPLATE_VERSION
    assert tpl["composed_of"] == [b.settings_component, b.mappings_component]
    aliases = es.indices.get_alias(name=b.write_alias)
    (index_name, info), = aliases.items()
    assert index_name.endswith("-articles-000001")
    assert info["aliases"][b.write_alias]["is_write_index"] is True
    assert b.read_alias in es.indices.get_alias(index=index_name)[index_name]["aliases"]
    mapping = es.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["title_folded"]["analyzer"] == "whitespace"
    assert mapping["properties"]["source"]["type"] == "keyword"
    assert mapping["properties"]["indexed_at"]["type"] == "date"
    with pytest.raises(ApiError) as info:
        es.index(index=b.write_alias, document={"title": "x", "surprise": 1})
    assert "strict" in str(info.value)
    again = b.init()
    assert again["template"] == "unchanged" and "index" not in again


def test_init_upgrades_an_older_template(make):
    b = make()
    b.init()
    b.es.indices.put_index_template(name=b.template, index_patterns=[b.pattern],
                                    composed_of=[b.settings_component, b.mappings_component],
                                    priority=200, meta={"version": 0})
    done = b.init()
    assert done["template"] == "upgraded from 0"
    assert done["mapping_upgrade"] == "mappings updated in place"
    assert b.status()["template_version"] == TEMPLATE_VERSION


def test_folding_without_asciifolding_filter(make):
    b = make()
    b.init()
    b.index([art(1), art(2, title="Łukaszenka w Mińsku"), art(3, title="STRASSE")])
    assert b.count("cafe") == 1 and b.count("CAFÉ") == 1
    assert b.count("lukaszenka AND minsku") == 1
    assert b.count("straße") == 1


def test_rollover_fallback_and_upsert_across_indices(make):
    b = make(rollover_max_docs=3)
    b.init()
    b.index([art(i) for i in range(4)])
    if not b.caps["ilm"]:
        r = b.maintenance()["rollover"]
        assert r["rolled_over"] and r["new_index"].endswith("-000002")
    else:  # pragma: no cover - with ILM the policy rolls over on its own schedule
        b.rollover(force=True)
    b.index([art(10)])
    changed = art(1)
    changed.title = "Headline 1 rewritten"
    b.index([changed])  # lives in 000001: must be overwritten there, not duplicated in 000002
    b.refresh()
    assert b.count() == 5
    assert b.count("rewritten") == 1
    assert b.get(changed.id).title == "Headline 1 rewritten"
    st = b.status()
    assert [i["index"][-6:] for i in st["indices"]] == ["000001", "000002"]
    assert st["write_index"].endswith("000002")
    assert b.delete_older_than(1) == 5
    b.maintenance()
    assert [i["index"][-6:] for i in b.status()["indices"]] == ["000002"]  # empty old index dropped


def test_rejection_quarantined_rest_goes_in(make, tmp_path):
    b = make()
    b.init()
    spool = Spool(tmp_path / "spool")
    landed: list[Article] = []
    ing = Ingestor(b, spool, batch_size=10, batch_interval_s=60, on_indexed=landed.extend, background=False)
    bad = art(2, word_count=10**12)
    for a in (art(1), bad, art(3)):
        ing.submit(a)
    ing.flush()
    assert [a.url for a in landed] == [art(1).url, art(3).url]
    (q,) = spool.quarantined()
    assert q.id == bad.id and "parsing_exception" in q.reason and "word_count" in q.reason
    assert b.count() == 2


def test_credentials_are_used_but_never_shown(es_url, caplog):
    secret = "hunter2-" + uuid.uuid4().hex
    cfg = IndexConfig(url=es_url, username="elastic", password=secret, prefix=f"mwt-auth-{uuid.uuid4().hex[:6]}")
    b = ElasticsearchBackend(cfg)
    assert b.es._headers["authorization"].startswith("Basic ")
    key = IndexConfig(url=es_url, api_key="a2V5OnNlY3JldA==")
    assert ElasticsearchBackend(key).es._headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    caplog.set_level(logging.DEBUG)
    try:
        with structlog.testing.capture_logs() as events:
            b.init()
            st = b.status()
    finally:
        b.destroy()
        b.close()
    assert any(e["event"] == "index.init" for e in events)
    assert secret not in repr(cfg) and secret not in str(st) and secret not in caplog.text
    assert secret not in repr(events)
    assert ElasticsearchBackend(IndexConfig(url="https://127.0.0.1:1")).es.transport.node_pool.get().config.verify_certs


def test_unreachable_cluster_is_reported_not_raised():
    b = ElasticsearchBackend(IndexConfig(url="http://127.0.0.1:9", request_timeout_s=2))
    st = b.status()
    assert st["health"] == "unreachable"
    from indexer.backends.base import BackendUnavailable

    with pytest.raises(BackendUnavailable):
        b.index([art(1)])


def test_a_large_batch_goes_as_concurrent_requests_and_loses_nothing(make):
    b = make(bulk_concurrency=3)
    b.init()
    batch = [art(i) for i in range(300)]
    batch[150] = art(150, word_count=10**12)  # rejected in whichever part it lands
    newer = art(7, title="Headline 7 second version")
    batch.append(newer)  # same id as batch[7]: must land after it, so the newer title wins
    parts = b._partition(batch)
    assert len(parts) == 3 and sorted(a.url for p in parts for a in p) == sorted(a.url for a in batch)
    got = b.index(batch)
    assert len(got.indexed) == 300 and not got.deferred
    assert [doc_id for doc_id, _ in got.failed] == [batch[150].id]
    b.refresh()
    assert b.count() == 299
    assert b.get(newer.id).title == "Headline 7 second version"


def test_bulk_requests_really_overlap(make, monkeypatch):
    b = make(bulk_concurrency=2)
    b.init()
    active, peak = 0, 0
    lock, both_in_flight = threading.Lock(), threading.Event()
    original = b._bulk

    def counting(actions):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            if active == 2:
                both_in_flight.set()
        try:
            first = next(actions)
            # each part holds its request until the other one is in flight too; run one after the
            # other, the first gives up waiting and the peak stays 1
            both_in_flight.wait(10)
            return original(iter([first, *actions]))
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(b, "_bulk", counting)
    got = b.index([art(i) for i in range(200)])
    assert len(got.indexed) == 200 and peak == 2


def test_folded_copies_are_stored_whole_but_never_read_back(make, monkeypatch):
    b = make()
    b.init()
    b.index([art(1, title="Łukaszenka spoke"), art(2)])
    stored = b.es.search(index=b.read_alias, query={"ids": {"values": [art(1).id]}})["hits"]["hits"][0]["_source"]
    # no _source excludes: a filtered source makes the node keep a second, unfiltered recovery copy
    assert stored["title_folded"] == "lukaszenka spoke" and stored["title"] == "Łukaszenka spoke"
    read: list[dict] = []
    search = b.es.search

    def recording(*args, **kwargs):
        got = search(*args, **kwargs)
        read.extend(h.get("_source") or {} for h in got["hits"]["hits"])
        return got

    monkeypatch.setattr(b.es, "search", recording)
    assert b.get(art(1).id).title == "Łukaszenka spoke"
    assert [h.article.url for h in b.search("lukaszenka")] == [art(1).url]
    assert len(read) == 2 and not [k for doc in read for k in doc if k.endswith("_folded")]


def test_the_node_splits_folded_copies_into_exactly_our_tokens(make):
    b = make()
    b.init()
    text = "Łukaszenka's  talks -- in Minsk… 北京 " + "y" * 230 + "\n\n(AFP) 3.14 don\u2019t"
    a = Article(url="https://es.example/tokens", text=text, title="A  title, with: punctuation!")
    b.index([a])
    stored = b.es.get(index=b.read_alias, id=a.id)["_source"]
    for field, value in (("text", text), ("title", "A  title, with: punctuation!")):
        got = b.es.indices.analyze(index=b.read_alias, field=f"{field}_folded", text=stored[f"{field}_folded"])
        assert [t["token"] for t in got["tokens"]] == tokenize(value)
