"""Bulk indexing throughput of real-size articles into Elasticsearch and SQLite (issue 5).

Articles are built from the aeb-dev ground-truth bodies (real news pages, ~4.5 kB of text on average),
rotated and varied so every document is distinct. Each run indexes into a fresh index / file through the
backend's own ``index()`` (folding + bulk helpers), in batches of ``--batch``; the median of ``--runs`` runs
is printed.

    .venv/bin/python bench/indexing.py                          # node at $MEDIAWATCH_ES_URL or :19200
    .venv/bin/python bench/indexing.py --start-node --docs 10000
    .venv/bin/python bench/indexing.py --skip-es
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.article import Article  # noqa: E402
from indexer.backends.elasticsearch import ElasticsearchBackend  # noqa: E402
from indexer.backends.sqlite import SqliteBackend  # noqa: E402
from indexer.config import IndexConfig  # noqa: E402

GROUND_TRUTH = Path("/work/shared/eval/aeb-dev/ground-truth.json")


def build_articles(n: int) -> list[Article]:
    data = json.loads(GROUND_TRUTH.read_text())
    items = [data[k] for k in sorted(data)]
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        item = items[i % len(items)]
        paras = [p for p in item["articleBody"].split("\n") if p.strip()]
        k = (i // len(items)) % max(1, len(paras))
        body = "\n".join(paras[k:] + paras[:k])  # rotate paragraphs: distinct but real-size text
        first = paras[0][:100]
        host = (urlparse(item["url"]).hostname or "x").removeprefix("www.")
        out.append(Article(
            url=f"{item['url']}?v={i}", title=f"{first} ({i})", text=body, description=" ".join(body.split()[:30]),
            source=host, language="en", authors=[f"Author {i % 50}"], tags=["bench", f"t{i % 20}"],
            published_at=base + timedelta(minutes=i),
        ))
    return out


def clone(articles: list[Article]) -> list[Article]:
    return [Article(**{k: getattr(a, k) for k in a.__dataclass_fields__}) for a in articles]


def run_es(url: str, articles: list[Article], batch: int) -> tuple[float, int]:
    cfg = IndexConfig(url=url, prefix=f"mwbench-{uuid.uuid4().hex[:8]}", bulk_size=batch)
    b = ElasticsearchBackend(cfg)
    b.init()
    try:
        docs = clone(articles)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(docs), batch):
            res = b.index(docs[i:i + batch])
            assert not res.failed and not res.deferred, res.failed[:1]
        b.refresh()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        count = b.count()
        print(f"    (client side: {1000 * cpu / len(docs):.2f} CPU-ms/doc = {len(docs) / cpu:,.0f} docs/s per core)")
    finally:
        b.destroy()
        b.close()
    return len(articles) / elapsed, count


def run_sqlite(articles: list[Article], batch: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        b = SqliteBackend(Path(tmp) / "bench.sqlite3")
        b.init()
        docs = clone(articles)
        t0 = time.perf_counter()
        for i in range(0, len(docs), batch):
            b.index(docs[i:i + batch])
        elapsed = time.perf_counter() - t0
        count = b.count()
        b.close()
    return len(articles) / elapsed, count


def _bench_node():
    """A throwaway node from the test harness, but with the full JIT (the harness uses C1 only for fast
    start-up, which costs indexing throughput)."""
    import subprocess

    from tests.harness import elasticsearch as harness

    class BenchNode(harness.ElasticsearchNode):
        def start(self, timeout: float = 180) -> None:
            user = harness._es_user()
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ES_JAVA_HOME": harness.java_home(),
                   "ES_PATH_CONF": str(self.workdir / "config"), "ES_TMPDIR": str(self.workdir / "tmp"),
                   "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}"}
            log = open(self.workdir / "stdout.log", "ab")
            self.proc = subprocess.Popen([str(self.home / "bin" / "elasticsearch")], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, user=user.pw_uid if user else None,
                                         group=user.pw_gid if user else None, start_new_session=True)
            self._wait_ready(timeout)

    node = BenchNode(heap="1g")
    node.start()
    return node


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get("MEDIAWATCH_ES_URL", "http://127.0.0.1:19200"))
    ap.add_argument("--start-node", action="store_true", help="start a throwaway node with the test harness")
    ap.add_argument("--skip-es", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args(argv)

    articles = build_articles(args.docs)
    size = statistics.mean(len(a.text) + len(a.title) + len(a.description) for a in articles)
    print(f"{len(articles)} articles, mean {size / 1024:.1f} KiB of text, batches of {args.batch}, "
          f"median of {args.runs} runs")
    node = None
    results: dict[str, float] = {}
    try:
        if not args.skip_es:
            url = args.url
            if args.start_node:
                node = _bench_node()
                url = node.url
            rates = []
            for r in range(args.runs):
                rate, count = run_es(url, articles, args.batch)
                assert count == len(articles), count
                rates.append(rate)
                print(f"  elasticsearch run {r + 1}: {rate:,.0f} docs/s")
            results["elasticsearch"] = statistics.median(rates)
        if not args.skip_sqlite:
            rates = []
            for r in range(args.runs):
                rate, count = run_sqlite(articles, args.batch)
                assert count == len(articles), count
                rates.append(rate)
                print(f"  sqlite run {r + 1}: {rate:,.0f} docs/s")
            results["sqlite"] = statistics.median(rates)
    finally:
        if node is not None:
            node.cleanup()
    for name, rate in results.items():
        print(f"{name:>13}: {rate:,.0f} docs/s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
