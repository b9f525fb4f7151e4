"""End to end: mediawatch crawls the local site from an empty state into Elasticsearch, alerts on.

One run = a fresh process with a fresh data dir (empty frontier, spool, alert ledger) and a
fresh index prefix on the one Elasticsearch node of this invocation (started with
``tests.harness.elasticsearch.ElasticsearchNode``, outside the measured process tree, and warmed up
with throwaway bulk indexing, as a long-running node is): the
source is the site's sitemap (``--discovery sitemap``, default) or its paged RSS feeds
(``--discovery feeds``), ``--rules`` instant alert rules are on (mails go to the outbox
folder), and the run is what the daemon does for one crawl:

    app = scheduler.app.build(config); app.backend.init()
    crawler.runner.run_crawl_blocking([source], config.crawl, app.ingestor)
    app.ingestor.flush(); app.alerts.send_due()          # everything indexed and alerted

Measured from the crawl's start to the last flush: articles/s (articles in the index /
wall), CPU s/article (mediawatch's process tree: reactor process + extraction pool), peak RSS
(summed over that tree). Elasticsearch's and nginx's CPU are reported apart. After the clock
stops, the stored texts are read back from the index and scored against the ground truth
(``../shared/eval/score.py``'s metric), so F1 compares with news-please's on the same pages.

Beside each run, in the same invocation, the "scrapy + trafilatura" ceiling crawls the same site
(``bench.ceilings``' worker, one fresh process): before the run in even rounds, after it in odd ones.
The machine's speed drifts over minutes, so the ratio of the two rates in one pair is the fair
comparison; its median over the runs is issue 17's floor (``--no-paired-ceiling`` skips it).

Target (issue 8): >= 100 articles/s on 2 cores.

    python -m bench.e2e --pages 3000 --runs 3
    python -m bench.e2e --quick
    python -m bench.e2e --quick --backend sqlite     # no Elasticsearch: the embedded index
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import common, proctree
from bench.ceilings import run_once
from bench.site import SiteServer, load_manifest

TARGET_ARTICLES_PER_S = 100.0

# Rule queries in the index's query language; --rules N cycles through them (N rules total,
# each with its own name, so N percolator queries / matchers). The first ones are the narrow
# kinds users write ("a AND b"); the default 50 rules send about two mails per article.
RULE_TEMPLATES = [
    "{t} AND {u}",
    "({t} OR {u}) AND NOT {v}",
    "title:{t}",
    '"{t}"',
    "{t} OR {u}",
]
TERMS = ["government", "police", "election", "president", "market", "company", "climate", "China",
         "Trump", "minister", "health", "court", "war", "school", "football", "bank", "technology",
         "energy", "Europe", "virus", "protest", "law", "water", "music", "film", "oil", "price", "city",
         "children", "women", "Russia", "Germany", "Japan", "data", "game", "study", "science", "vote"]


def rules(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        t, u, v = TERMS[i % len(TERMS)], TERMS[(i * 7 + 3) % len(TERMS)], TERMS[(i * 13 + 5) % len(TERMS)]
        query = RULE_TEMPLATES[(i // len(TERMS)) % len(RULE_TEMPLATES)].format(t=t, u=u, v=v)
        out.append({"name": f"bench-{i}", "query": query, "recipients": ["analyst@example.org"], "mode": "instant"})
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def worker(manifest_path: str, es_url: str | None, workdir: str, discovery: str, n_rules: int,
           concurrency: int, pool_workers: int, texts_out: str | None, es_pid: int | None = None) -> None:
    """One measured crawl in this process; prints its figures as one JSON line. ``es_pid``: the node's
    CPU is read over the measured span only (the read-back of the texts afterwards costs it more)."""
    from crawler.runner import run_crawl_blocking
    from scheduler import logs
    from scheduler.app import build
    from scheduler.config import Config

    manifest = load_manifest(manifest_path)
    data = Path(workdir)
    pages = len(manifest["pages"])
    source: dict[str, Any] = {
        "name": "bench-site",
        "allow_private_addresses": True,  # the site is on 127.0.0.1
        "max_articles_per_run": pages + 100,
        "max_pages_per_run": pages + len(manifest["feeds"]) + len(manifest["sitemaps"]) + 100,
    }
    if discovery == "feeds":
        source["feeds"] = manifest["feeds"]
    else:
        source["sitemaps"] = [manifest["sitemap_index"]]
    crawl = {"obey_robots": True, "download_delay": 0, "autothrottle": False,
             "concurrent_requests": concurrency, "concurrent_requests_per_host": min(concurrency, 32),
             "state_path": str(data / "crawl.sqlite3")}
    if pool_workers:
        crawl["extraction_workers"] = pool_workers
    index: dict[str, Any] = {"spool_path": str(data / "spool"), "sqlite_path": str(data / "index.sqlite3")}
    if es_url:
        index.update(url=es_url, prefix=f"bench-{uuid.uuid4().hex[:8]}", verify_certs=False)
    raw = {
        "data_dir": str(data),
        "index": index,
        "mail": {"outbox": str(data / "outbox"), "ledger_path": str(data / "alerts.sqlite3")},
        "crawl": crawl,
        "http": {"health_port": None},
        "sources": [source],
        "rules": rules(n_rules),
    }
    config = Config.model_validate(raw)
    logs.configure(config.log.level, config.log.format)  # as the CLI does: structlog's default prints debug too
    app = build(config)
    app.backend.init()
    meter = proctree.Meter()
    phases = {}
    es_cpu0 = proctree.cpu_seconds_tree(es_pid) if es_pid else None
    main_cpu0 = time.process_time()
    with meter:
        t = time.perf_counter()
        summaries = run_crawl_blocking(config.sources, config.crawl, app.ingestor, progress=None)
        phases["crawl_s"] = time.perf_counter() - t
        t = time.perf_counter()
        app.ingestor.flush()
        phases["flush_s"] = time.perf_counter() - t
        t = time.perf_counter()
        app.alerts.send_due()
        phases["send_due_s"] = time.perf_counter() - t
        meter.stop()
        main_cpu = time.process_time() - main_cpu0
    es_cpu = proctree.cpu_seconds_tree(es_pid) - es_cpu0 if es_pid else None
    app.backend.refresh()
    indexed = app.backend.count()
    alerts = app.alerts.status()
    outbox = len(list((data / "outbox").glob("*.eml"))) if (data / "outbox").exists() else 0
    texts, stories = {}, set()
    for doc_id in app.backend.ids():
        art = app.backend.get(doc_id)
        if art is not None:
            texts[art.url] = art.text
            stories.add(art.story_id)
    if texts_out:
        Path(texts_out).write_text(json.dumps(texts), encoding="utf-8")
    cost = app.backend.stories.counters
    if es_url and hasattr(app.backend, "destroy"):
        try:
            app.backend.destroy()  # next run starts from an empty index again
        except Exception:
            pass
    app.close()
    out = proctree.figures(indexed, meter.wall, meter.cpu, meter.rss.peak_mb)
    out.update({k: round(v, 3) for k, v in phases.items()})
    # this process alone (reactor, ingest and alert threads), beside the tree's figure (extraction pool too):
    # the share that cannot run on the pool's cores
    out["main_cpu_s_per_article"] = round(main_cpu / max(indexed, 1), 5)
    out.update(summaries=_plain(summaries), alerts=_plain(alerts), outbox_mails=outbox, stories=len(stories),
               story_cpu_us_per_article=round(cost["cpu_s"] / max(cost["articles"], 1) * 1e6, 1))
    if es_cpu is not None:
        out["es_cpu_s_per_article"] = round(es_cpu / max(indexed, 1), 5)
    print(json.dumps(out, default=str), flush=True)


COLUMNS = [("articles", "articles", "{:d}"), ("articles_per_s", "articles/s", "{:.1f}"),
           ("cpu_s_per_article", "CPU ms/art", "{:.2f}"), ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
           ("es_cpu_s_per_article", "ES CPU ms/art", "{:.2f}"), ("outbox_mails", "alert mails", "{:d}"),
           ("stories", "stories", "{:d}"), ("story_cpu_us_per_article", "story µs/art", "{:.0f}"),
           ("f1", "F1", "{:.3f}"), ("paired_ceiling_ratio", "÷ ceiling", "{:.2f}")]


def runner_ready() -> str | None:
    """None when mediawatch's crawl runner can be imported, else why not."""
    try:
        from crawler.runner import run_crawl_blocking  # noqa: F401
        from scheduler.app import build  # noqa: F401
    except Exception as err:  # ImportError, or a half-written module
        return f"{type(err).__name__}: {err}"
    return None


def warm_up(es_url: str, docs: int = 32000) -> None:
    """Index ``docs`` throwaway articles first: production nodes run warm, and a fresh JVM spends its
    first minute compiling the indexing path (about 10 CPU ms per article in a cold e2e run, 2 warm)."""
    from bench.indexing import build_articles, run_es

    common.quiet_logs()
    t0 = time.perf_counter()
    articles = build_articles(min(docs, 8000))
    for _ in range(max(1, docs // len(articles))):
        run_es(es_url, articles, 2000, None)
    print(f"elasticsearch warmed up with {docs} documents in {time.perf_counter() - t0:.0f}s", file=sys.stderr,
          flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(ap)
    ap.add_argument("--backend", choices=["elasticsearch", "sqlite"], default="elasticsearch")
    ap.add_argument("--discovery", choices=["sitemap", "feeds"], default="sitemap")
    ap.add_argument("--rules", type=int, default=50, help="instant alert rules (default 50)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--pool-workers", type=int, default=0, help="extraction workers (default: mediawatch's)")
    ap.add_argument("--es-heap", default="1g")
    ap.add_argument("--no-paired-ceiling", dest="paired_ceiling", action="store_false",
                    help="skip the Scrapy + trafilatura run beside each e2e run")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    ap.add_argument("--es-url", help=argparse.SUPPRESS)
    ap.add_argument("--es-pid", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--texts-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.manifest, args.es_url, args.workdir, args.discovery, args.rules, args.concurrency,
               args.pool_workers, args.texts_out, args.es_pid)
        return 0
    common.apply_quick(args)
    common.exit_on_sigterm()
    params = {"pages": args.pages, "runs": args.runs, "backend": args.backend, "discovery": args.discovery,
              "rules": args.rules, "concurrency": args.concurrency}
    why = runner_ready()
    if why:
        print(f"e2e not run: mediawatch's crawl runner is not importable ({why})", file=sys.stderr)
        payload = common.result("e2e", [], params=params, notes=[f"not run: {why}"])
        payload["status"] = "not run"
        common.emit(payload, args.json_out)
        return 0

    logdir = Path(tempfile.mkdtemp(prefix="mediawatch-bench-e2e-"))
    node = None
    server = SiteServer(args.pages, server=args.server, keep=args.keep)
    try:
        with server as site:
            print(f"site: {len(site.pages)} articles, {site.server} at {site.base_url}; logs in {logdir}",
                  file=sys.stderr, flush=True)
            es_url, es_version = None, None
            if args.backend == "elasticsearch":
                t0 = time.perf_counter()
                node = common.es_node(args.es_heap)
                es_url, es_version = node.url, node.label()
                print(f"elasticsearch {es_version} at {es_url} (started in {time.perf_counter() - t0:.0f}s)",
                      file=sys.stderr, flush=True)
                if not args.quick:
                    warm_up(es_url)
            results = []
            texts_file = logdir / "texts.json"

            def pair() -> dict[str, Any]:
                return run_once("trafilatura", site.root / "site.json", args.concurrency, logdir / "ceiling.log")

            for i in range(args.runs):
                work = logdir / f"run-{i}"
                work.mkdir()
                argv_ = [sys.executable, "-m", "bench.e2e", "--worker", "--manifest", str(site.root / "site.json"),
                         "--workdir", str(work), "--discovery", args.discovery, "--rules", str(args.rules),
                         "--concurrency", str(args.concurrency), "--pool-workers", str(args.pool_workers)]
                if es_url:
                    argv_ += ["--es-url", es_url, "--es-pid", str(node.proc.pid)]
                if i == 0:
                    argv_ += ["--texts-out", str(texts_file)]
                # The ceiling's run beside this one, before it in even rounds and after it in odd ones: the
                # machine's speed drifts over minutes, and a pair shares the moment (the ratio's median is
                # the figure; the ceilings script's own runs come minutes apart).
                ceiling = pair() if args.paired_ceiling and i % 2 == 0 else None
                web_cpu0 = proctree.cpu_seconds_tree(server.pid) if server.pid else None
                res, peak = proctree.run_worker(argv_, cwd=common.REPO, log_path=logdir / f"run-{i}.log")
                if web_cpu0 is not None:
                    res["server_cpu_s_per_article"] = round(
                        (proctree.cpu_seconds_tree(server.pid) - web_cpu0) / max(res["articles"], 1), 5)
                res["peak_rss_tree_mb"] = round(peak, 1)  # the whole worker process, imports included
                if args.paired_ceiling and ceiling is None:
                    ceiling = pair()
                if ceiling is not None:
                    res["paired_ceiling_articles_per_s"] = ceiling["articles_per_s"]
                    res["paired_ceiling_ratio"] = round(res["articles_per_s"] / ceiling["articles_per_s"], 3)
                    print(f"  scrapy + trafilatura beside run {i + 1} ({'before' if i % 2 == 0 else 'after'} it): "
                          f"{ceiling['articles_per_s']:.1f}/s; e2e ÷ ceiling {res['paired_ceiling_ratio']:.2f}",
                          file=sys.stderr, flush=True)
                results.append(res)
                print(f"  mediawatch e2e run {i + 1}/{args.runs}: {res['articles']} articles indexed in "
                      f"{res['wall_s']:.1f}s = {res['articles_per_s']:.1f}/s, "
                      f"{(res['cpu_s_per_article'] or 0) * 1000:.2f} ms CPU/article "
                      f"({res['main_cpu_s_per_article'] * 1000:.2f} in the main process), peak RSS {res['peak_rss_mb']:.0f} MB, "
                      f"{res['outbox_mails']} alert mails, {res['stories']} stories at "
                      f"{res['story_cpu_us_per_article']:.0f} CPU µs/article", file=sys.stderr, flush=True)
                shutil.rmtree(work, ignore_errors=True)
            scores = common.score_texts(site.expected_texts(), json.loads(texts_file.read_text())) \
                if texts_file.exists() else {}
            label = f"mediawatch e2e ({args.backend}, {args.discovery}, {args.rules} rules)"
            for r in results:  # keep the per-run summaries short in the JSON
                r["summaries"] = {k: {kk: vv for kk, vv in (v.items() if isinstance(v, dict) else [])
                                      if not isinstance(vv, (list, dict))}
                                  for k, v in (r.get("summaries") or {}).items()}
            row = common.combine_runs(label, results, **scores)
    finally:
        if node is not None:
            node.cleanup()
    disp = [dict(row, cpu_s_per_article=(row.get("cpu_s_per_article") or 0) * 1000,
                 es_cpu_s_per_article=(row.get("es_cpu_s_per_article") or 0) * 1000)]
    common.print_rows(f"End to end ({args.pages} pages, median of {args.runs} run(s), {site.server}"
                      + (f", Elasticsearch {es_version}" if es_version else "") + ")", disp, COLUMNS)
    tgt = common.target("e2e articles/s (2 cores)", row.get("articles_per_s"), ">=", TARGET_ARTICLES_PER_S)
    print(f"target: >= {TARGET_ARTICLES_PER_S:g} articles/s -> "
          f"{'MET' if tgt['met'] else 'NOT MET'} ({row.get('articles_per_s')})")
    params.update(server=site.server, es_version=es_version)
    notes = [f"site served by {site.server}"] + ([server.note] if server.note else [])
    payload = common.result("e2e", [row], params=params, targets=[tgt], notes=notes)
    if not args.keep:
        shutil.rmtree(logdir, ignore_errors=True)
    common.emit(payload, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
