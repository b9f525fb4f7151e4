"""Issue 5 §3: stop the real Elasticsearch node mid-crawl, keep crawling, start it again:
every article is indexed exactly once, in order, and the crawler never waits on the outage."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from indexer.article import Article
from indexer.backends.elasticsearch import ElasticsearchBackend
from indexer.config import IndexConfig
from indexer.ingest import Ingestor
from indexer.spool import Spool
from tests.harness.wait import wait_until

N = 600
BASE = datetime(2024, 7, 1, tzinfo=timezone.utc)


def art(i: int) -> Article:
    return Article(url=f"https://outage.example/{i}", title=f"Story {i}", text=f"Body of story {i} " * 40,
                   source="outage", language="en", published_at=BASE + timedelta(seconds=i))


def test_node_down_mid_crawl_every_article_indexed_exactly_once(es_node, tmp_path):
    cfg = IndexConfig(url=es_node.url, prefix=f"mwt-out-{uuid.uuid4().hex[:8]}", request_timeout_s=5)
    backend = ElasticsearchBackend(cfg)
    backend.init()
    spool = Spool(tmp_path / "spool")
    landed: list[str] = []
    lock = threading.Lock()

    def on_indexed(batch: list[Article]) -> None:
        with lock:
            landed.extend(a.id for a in batch)

    ing = Ingestor(backend, spool, batch_size=50, batch_interval_s=0.3, on_indexed=on_indexed,
                   retry_attempts=2, retry_backoff_s=0.1, probe_interval_s=0.5, probe_max_s=2.0)
    submit_times: list[float] = []
    progress = {"n": 0}

    def crawl() -> None:
        for i in range(N):
            t0 = time.perf_counter()
            ing.submit(art(i))  # must neither raise nor block on the outage
            submit_times.append(time.perf_counter() - t0)
            progress["n"] = i + 1
            if i % 10 == 0:
                ing.maybe_flush()
            time.sleep(0.02)  # a crawl's pace, so that the outage falls in the middle of it

    crawler = threading.Thread(target=crawl)
    spooled_during_outage = 0
    try:
        crawler.start()
        wait_until(lambda: progress["n"] >= 150, 60, "150 articles submitted")
        es_node.stop()  # mid-crawl
        stopped_at = progress["n"]
        wait_until(lambda: progress["n"] >= stopped_at + 200, 60, "200 articles submitted during the outage")
        ing.maybe_flush()
        spooled_during_outage = wait_until(spool.depth, 30, "articles spooled during the outage", poll_s=0.1)
        assert spooled_during_outage > 0, "nothing spooled while the node was down"
        es_node.start()
        crawler.join(120)
        assert not crawler.is_alive()
        ing.flush(timeout=60)
        wait_until(lambda: ing.maybe_flush() or (not spool.depth() and len(landed) >= N), 60,
                   "the spool replayed and every article indexed", poll_s=0.2)
        ing.close()

        assert spool.depth() == 0
        assert spool.quarantined() == []
        backend.refresh()
        assert backend.count() == N
        assert backend.ids() == {art(i).id for i in range(N)}
        counts = Counter(landed)
        assert set(counts) == {art(i).id for i in range(N)}
        assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1][:5]
        assert max(submit_times) < 0.5, max(submit_times)
        assert ing.stats()["spooled"] >= spooled_during_outage
    finally:
        if es_node.proc is None:
            es_node.start()
        try:
            backend.destroy()
        finally:
            backend.close()
            spool.close()
