"""A million articles in one index (issue 20, item 6): ingest rate as the index grows, 20-query p95,
size on disk per article, and a retention pass timed while ingest goes on.

Articles come from the aeb-dev ground-truth bodies (91 real news pages), varied so that no two are equal:
paragraphs rotated and one dropped, a per-article token (``vq<hex>``, a word that occurs once in the whole
index), 100 source names per real host, publication dates spread evenly over the last ``--days`` days and
ingested oldest first, as a daemon that has run for a year would have written them. They go through the
real backend (``indexer.backends``) in batches of ``IndexConfig.bulk_size``.

The query set (newest first, 20 hits, as ``mediawatch search`` asks) mixes words found in one dev page
(rare: about 1% of the index), one article's own token, the most common words, phrases, boolean and prefix
queries, a source filter and a month's date range. Each query runs once cold and ``--repeat`` times warm;
the p95 is over the 20 per-query medians, and the cold p95 is printed beside it.

The retention pass deletes the oldest ``--retention-share`` of the index (9%: a year kept of 400 days) on the same backend object the ingest thread writes through, as the daemon's retention job
shares ``app.backend`` with its Ingestor; the ingest rate during the pass and its longest pause are
printed.

The base of the index (all but the last ``--measure`` articles) is written without story grouping
(:class:`BulkStories`: each article its own story, no candidates looked up), but signed like every article,
so the index holds the story band rows (42 per article) that a daemon's index of that size holds: a base
without them made the measured writes land in a band table a tenth of its real size, and look cheaper
than they are. The last ``--measure`` articles go through the real ``Backend.index()`` with stories, and
the ingest figures are theirs. Those articles reach ``index()`` already signed for stories, as the daemon's do: the daemon's
extraction workers sign each article (``crawler.offload``), so the bench makes and signs its batches in a
process pool of its own (``--sign-workers``, the daemon's default of 2 extraction workers), ahead of the
writer, and the pool's CPU is printed apart from the writer's (``--sign-workers 0``: the writer signs, as
for an article that arrives unsigned). ``--keep DIR`` keeps the SQLite file; ``--reuse`` takes a kept one as the base (give the build's
``--articles``: it spaces the dates) and measures the rest on it with the code of this run. A node the bench
starts goes with its data: an Elasticsearch index is kept by building it on a node of one's own (``--es-url``,
``--es-prefix``, ``--skip-retention``); ``--reuse --measure 0`` on it then runs the 20 queries alone.

    .venv/bin/python -m bench.scale_index --articles 1000000          # SQLite, then a node it starts
    .venv/bin/python -m bench.scale_index --articles 50000 --skip-es  # smoke run
    .venv/bin/python -m bench.scale_index --articles 1000000 --skip-sqlite --skip-retention \
        --es-url http://127.0.0.1:9200 --es-prefix mwscale1m [--reuse --measure 0]   # a node you keep
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.article import Article  # noqa: E402
from indexer.backends.base import Backend  # noqa: E402
from indexer.config import IndexConfig  # noqa: E402
from indexer.query import parse  # noqa: E402
from indexer.stories import Prepared, Stories, new_story_id  # noqa: E402
from scheduler.app import settle_collector  # noqa: E402

from bench import common, proctree  # noqa: E402
from bench.scale_corpus import Corpus, SignedBatches  # noqa: E402

TARGET_INGEST = 1000.0
TARGET_P95_MS = 200.0


class BulkStories(Stories):
    """The base build's stories: every article its own, nothing looked up (its signature and band keys,
    made in the signing pool, are written as they are)."""

    def prepare(self, articles: list[Article], store) -> Prepared:
        for a in articles:
            a.story_id = new_story_id(a)
        return Prepared(list(articles), [])


def bulk_base(backend: Backend, source: SignedBatches, last: int, batch: int) -> None:
    real = backend.stories
    backend.stories = BulkStories(real.window)
    started = time.perf_counter()
    done = 0
    try:
        for docs in source.batches(0, last, batch):
            res = backend.index(docs)
            if res.failed or res.deferred:
                raise RuntimeError(f"backend refused articles: {res.failed[:1]}")
            done += len(docs)
            if done % 100_000 < batch:
                print(f"  {backend.name}: base {done:,} articles, {time.perf_counter() - started:,.0f} s, "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        backend.stories = real


def ingest(backend: Backend, source: SignedBatches, first: int, last: int, batch: int, every: int,
           deadline: float | None) -> tuple[int, float, list[dict[str, Any]]]:
    """Index articles first..last-1; a line per ``every`` articles; stop early past ``deadline``.

    Only ``backend.index()`` is timed (wall and this process's CPU): making the articles is the bench's
    work, not the index's. On a shared machine the CPU figure is the steadier one: 1 / CPU s per article
    is the rate one free core would give. After the last batch, SQLite's WAL is copied into the file
    within the timing: the pages the measured writes left in the WAL are theirs to write."""
    windows: list[dict[str, Any]] = []
    done, total = first, 0.0
    wall = cpu = wait = written = 0.0
    n0 = first
    for docs in source.batches(first, last, batch):
        t0, c0, w0, b0 = time.perf_counter(), time.process_time(), proctree.cpu_wait_s(), proctree.written_bytes()
        res = backend.index(docs)
        stop = deadline is not None and time.perf_counter() > deadline
        if done + len(docs) == last or stop:
            wal_checkpoint(backend)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        wait += proctree.cpu_wait_s() - w0
        written += proctree.written_bytes() - b0
        if res.failed or getattr(res, "deferred", None):
            raise RuntimeError(f"backend refused articles: {res.failed[:1]}")
        if res.unchanged:  # already stored: not written, so not what this bench measures
            raise RuntimeError(f"{len(res.unchanged)} articles of the batch at {done:,} were already stored")
        done += len(docs)
        if done - n0 >= every or done == last or stop:
            total += wall
            row = {"at": done, "per_s": round((done - n0) / wall, 1),
                   "cpu_ms_per_article": round(1000 * cpu / (done - n0), 3),
                   "cpu_wait_ms_per_article": round(1000 * wait / (done - n0), 3),
                   "written_kib_per_article": round(written / 1024 / (done - n0), 1)}
            windows.append(row)
            print(f"  {backend.name}: {done:>9,} articles, {row['per_s']:>7,.0f} art/s over the last "
                  f"{done - n0:,} (CPU {row['cpu_ms_per_article']:.2f} ms/article in this process: "
                  f"{1000 / row['cpu_ms_per_article']:,.0f} art/s per free core; the writer waited "
                  f"{row['cpu_wait_ms_per_article']:.2f} ms/article for a CPU; wrote "
                  f"{row['written_kib_per_article']:,.1f} KiB/article to disk), "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            wall = cpu = wait = written = 0.0
            n0 = done
            if stop:
                print(f"  {backend.name}: time budget reached at {done:,} articles", flush=True)
                break
    return done, total, windows


def wal_checkpoint(backend: Backend) -> None:
    from indexer.backends.sqlite import SqliteBackend

    if isinstance(backend, SqliteBackend):
        backend.db.execute("PRAGMA wal_checkpoint(PASSIVE)")


def time_queries(backend: Backend, queries, repeat: int) -> dict[str, Any]:
    rows = []
    for label, q, filters in queries:
        node = parse(q) if q else None
        times = []
        hits = 0
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            hits = len(backend.search(node, limit=20, sort="published_at", **filters))
            times.append(1000 * (time.perf_counter() - t0))
        rows.append({"query": label, "hits": hits, "cold_ms": round(times[0], 1),
                     "warm_ms": round(statistics.median(times[1:]), 1)})
        print(f"    {label[:52]:<52} {hits:>3} hits  cold {times[0]:>8.1f} ms  warm {rows[-1]['warm_ms']:>8.1f} ms",
              flush=True)
    return {"queries": rows, "p95_ms": p95([r["warm_ms"] for r in rows]),
            "p95_cold_ms": p95([r["cold_ms"] for r in rows]), "max_ms": max(r["warm_ms"] for r in rows)}


def p95(values: list[float]) -> float:
    vals = sorted(values)
    return round(vals[min(len(vals) - 1, int(round(0.95 * len(vals) + 0.5)) - 1)], 1)


def retention_under_ingest(backend: Backend, corpus: Corpus, days: int, batch: int, start_id: int,
                           settle_s: float) -> dict[str, Any]:
    """Delete older than ``days`` on the backend while another thread keeps indexing fresh articles."""
    stop = threading.Event()
    stamps: list[tuple[float, int]] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = start_id
        try:
            while not stop.is_set():
                now = datetime.now(timezone.utc)
                docs = [corpus.article(j, published=now) for j in range(i, i + batch)]
                backend.index(docs)
                i += batch
                stamps.append((time.perf_counter(), len(docs)))
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    thread = threading.Thread(target=writer, name="ingest", daemon=True)
    thread.start()
    time.sleep(settle_s)  # a baseline rate before the pass: the writer's own pace, nothing to wait for
    t0 = time.perf_counter()
    deleted = backend.delete_older_than(days)
    t1 = time.perf_counter()
    time.sleep(settle_s)
    stop.set()
    thread.join()
    if errors:
        raise errors[0]

    def rate(lo: float, hi: float) -> float | None:
        n = sum(k for t, k in stamps if lo <= t < hi)
        return round(n / (hi - lo), 1) if hi > lo else None

    times = [t0 - settle_s] + [t for t, _k in stamps]
    during = [t for t in times if t0 <= t <= t1 + 1e-9]
    edges = [t0, *during, t1]
    longest = max(b - a for a, b in zip(edges, edges[1:]))
    return {"deleted": deleted, "pass_s": round(t1 - t0, 2), "ingest_before_per_s": rate(t0 - settle_s, t0),
            "ingest_during_per_s": rate(t0, t1), "ingest_after_per_s": rate(t1, t1 + settle_s),
            "longest_ingest_pause_s": round(longest, 2), "written": sum(k for _t, k in stamps)}


def sqlite_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def es_store_bytes(url: str, index: str) -> int:
    with urllib.request.urlopen(f"{url}/{index}/_stats/store", timeout=60) as resp:
        return int(json.load(resp)["_all"]["primaries"]["store"]["size_in_bytes"])


def run_backend(name: str, backend: Backend, corpus: Corpus, args, size_of) -> dict[str, Any]:
    backend.init()
    now = datetime.now(timezone.utc)
    base = max(0, corpus.n - args.measure)
    t0 = time.perf_counter()
    if args.reuse:
        # the kept file's articles are the base; the measured ones continue its numbering
        held = backend.count()
        base = corpus.first_unused(backend, held)
        corpus.n = base + args.measure
        print(f"  {name}: reusing {held:,} articles, new ones numbered from {base:,}", flush=True)
    source = SignedBatches(corpus, args.sign_workers)  # after --reuse set corpus.n: the pool gets a copy
    try:
        if not args.reuse:
            bulk_base(backend, source, base, args.batch)
            print(f"  {name}: base of {base:,} articles (signed, not grouped) in "
                  f"{time.perf_counter() - t0:,.0f} s", flush=True)
            source.sign_cpu_s = 0.0  # the measured articles' signing alone
        deadline = time.perf_counter() + 60 * args.max_minutes if args.max_minutes else None
        stories0 = dict(backend.stories.counters)
        n, elapsed, windows = ingest(backend, source, base, corpus.n, args.batch, args.every, deadline)
    finally:
        source.close()
    signed = backend.stories.counters["articles"] - stories0["articles"]
    stories_ms = round(1000 * (backend.stories.counters["cpu_s"] - stories0["cpu_s"]) / signed, 3) if signed else None
    sign_ms = round(1000 * source.sign_cpu_s / (n - base), 3) if args.sign_workers and n > base else None
    if stories_ms is not None:
        print(f"  {name}: story grouping took {stories_ms} ms CPU per article of that in the writer"
              + (f", signing {sign_ms} ms in the pool's {args.sign_workers} workers" if sign_ms is not None else ""),
              flush=True)
    t0 = time.perf_counter()
    backend.refresh()
    elapsed += time.perf_counter() - t0
    size = size_of()
    if elapsed and n > base:  # (--reuse --measure 0: the queries alone)
        print(f"  {name}: {n - base:,} articles through index() in {elapsed:,.0f} s ({(n - base) / elapsed:,.0f} art/s)",
              flush=True)
    print(f"  {name}: {n:,} articles, {size / 2**30:.2f} GiB on disk, {size / n / 1024:.1f} KiB per article",
          flush=True)
    print(f"  {name}: 20 queries, newest first, 20 hits each (cold, then median of {args.repeat} warm):", flush=True)
    q = time_queries(backend, corpus.queries(n, now), args.repeat)
    print(f"  {name}: query p95 {q['p95_ms']:.1f} ms warm, {q['p95_cold_ms']:.1f} ms cold, max {q['max_ms']:.1f} ms",
          flush=True)
    row = {"system": name, "articles": n, "measured_articles": n - base, "stories_cpu_ms_per_article": stories_ms,
           "sign_workers": args.sign_workers, "sign_cpu_ms_per_article": sign_ms,
           "ingest_s": round(elapsed, 1), "articles_per_s": round((n - base) / elapsed, 1) if elapsed and n > base else None,
           "last_window_per_s": windows[-1]["per_s"] if windows else None,
           "last_window_cpu_ms_per_article": windows[-1]["cpu_ms_per_article"] if windows else None,
           "bytes_per_article": round(size / n), "disk_gib": round(size / 2**30, 2),
           "query_p95_ms": q["p95_ms"], "query_p95_cold_ms": q["p95_cold_ms"], "query_max_ms": q["max_ms"],
           "windows": windows, "queries": q["queries"]}
    if args.skip_retention:
        return row
    # the oldest --retention-share of what was indexed, whatever size the run reached
    cutoff = corpus.start + corpus.step * (args.retention_share * n)
    days = max(1, (now - cutoff).days)
    # fresh ids each run: a reused index already holds the last run's, which would be "unchanged"
    ret = retention_under_ingest(backend, corpus, days, args.live_batch, corpus.n + 1 + random.randrange(10**9),
                                 args.settle)
    ret["days"] = days
    print(f"  {name}: retention pass (older than {days} days) deleted {ret['deleted']:,} in {ret['pass_s']:.1f} s; ingest "
          f"{ret['ingest_before_per_s']} art/s before, {ret['ingest_during_per_s']} during, "
          f"{ret['ingest_after_per_s']} after; longest ingest pause {ret['longest_ingest_pause_s']:.1f} s", flush=True)
    return {**row, **{f"retention_{k}": v for k, v in ret.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=IndexConfig().bulk_size, help="articles per index() call")
    ap.add_argument("--live-batch", type=int, default=200,
                    help="articles per index() call of the writer during the retention pass (a daemon's "
                         "Ingestor flushes every 2 s, far below bulk_size at crawl rates)")
    ap.add_argument("--every", type=int, default=100_000, help="print the ingest rate per this many articles")
    ap.add_argument("--days", type=int, default=400, help="publication dates spread over this many days")
    ap.add_argument("--retention-share", type=float, default=0.09,
                    help="the retention pass deletes about this share, the oldest (9%%: a year kept of 400 days)")
    ap.add_argument("--repeat", type=int, default=3, help="warm runs per query")
    ap.add_argument("--settle", type=float, default=10.0, help="seconds of ingest measured before/after retention")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop ingest (per backend) after this long")
    ap.add_argument("--measure", type=int, default=100_000,
                    help="the last this many articles go through index() with stories; the rest is the base")
    ap.add_argument("--sign-workers", type=int, default=2,
                    help="processes that make and sign the measured articles, as the daemon's extraction workers "
                         "sign them (0: the writer signs)")
    ap.add_argument("--dir", help="where the SQLite file goes (default: a temp dir, removed)")
    ap.add_argument("--keep", help="keep the SQLite file in this folder (scale.sqlite3)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: the kept file is the base; --measure more through index(), then the rest")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-es", action="store_true")
    ap.add_argument("--es-heap", default="2g")
    ap.add_argument("--es-url", help="a running node instead of one the bench starts (with --reuse: its index)")
    ap.add_argument("--es-prefix", help="the index prefix on --es-url")
    ap.add_argument("--skip-retention", action="store_true", help="no retention pass (an index still being written)")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    common.quiet_logs()
    common.exit_on_sigterm()
    started = time.time()
    corpus = Corpus(args.articles, args.days, datetime.now(timezone.utc))
    sample = [corpus.article(i) for i in range(0, 2000)]
    mean_kib = statistics.mean(len(a.text) + len(a.title) + len(a.description) for a in sample) / 1024
    print(f"{args.articles:,} articles from {len(corpus.items)} dev pages, mean {mean_kib:.1f} KiB of text, "
          f"batches of {args.batch}, load average {os.getloadavg()[0]:.1f}", flush=True)
    del sample
    # As the daemon does once its app is built: what lives as long as the process (here the modules and the
    # corpus) is kept out of the cyclic collector's walks, and its young generation is collected as seldom.
    settle_collector()
    rows = []
    if not args.skip_sqlite:
        from indexer.backends.sqlite import SqliteBackend

        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            folder = Path(args.keep) if args.keep else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "scale.sqlite3"
            backend = SqliteBackend(path)
            try:
                rows.append(run_backend("sqlite", backend, corpus, args, lambda: sqlite_size(path)))
            finally:
                backend.close()
    if not args.skip_es:
        from indexer.backends.elasticsearch import ElasticsearchBackend

        node = common.es_node(args.es_heap) if not args.es_url else None
        url = args.es_url or node.url
        try:
            if node is not None:
                print(f"  elasticsearch {node.label()} at {node.url}, heap {args.es_heap}", flush=True)
            prefix = args.es_prefix or f"mwscale-{uuid.uuid4().hex[:6]}"
            print(f"  elasticsearch index prefix {prefix}", flush=True)
            backend = ElasticsearchBackend(IndexConfig(url=url, prefix=prefix, bulk_size=args.batch))
            try:
                rows.append(run_backend("elasticsearch", backend, corpus, args,
                                        lambda: es_store_bytes(url, backend.read_alias)))
            finally:
                backend.close()
        finally:
            if node is not None:
                node.cleanup()
    targets = []
    for row in rows:
        if row["system"] == "sqlite":
            targets += [
                # sustained: over every measured article, FTS5's merges included (the windows show them apart)
                common.target(f"SQLite ingest art/s, the last {row['measured_articles']:,} up to {row['articles']:,}",
                              row["articles_per_s"], ">=", TARGET_INGEST),
                common.target("SQLite 20-query p95 ms", row["query_p95_ms"], "<=", TARGET_P95_MS),
            ]
        else:
            targets.append(common.target("Elasticsearch 20-query p95 ms (beside SQLite's)", row["query_p95_ms"],
                                         "<=", TARGET_P95_MS))
    common.emit(common.result("scale_index", rows, targets=targets, params={
        "articles": args.articles, "batch": args.batch, "days": args.days, "retention_share": args.retention_share,
        "sign_workers": args.sign_workers,
        "mean_text_kib": round(mean_kib, 2), "elapsed_s": round(time.time() - started)}), args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
