"""The web app's server time: the search page with its coverage chart, and a rule preview over 7 days,
on an index of N articles made from the aeb-dev bodies (varied), the embedded SQLite one and an
Elasticsearch node, served by `mediawatch web` over HTTP on 127.0.0.1 (times are measured by the client:
server time plus loopback). The index is written through ``Backend.index()`` without story grouping
(``bench.scale_index.BulkStories``: every article its own story), which would otherwise cost more than the
index itself to build.

    python -m bench.web                     # 200,000 articles, SQLite then Elasticsearch
    python -m bench.web --docs 20000 --backend sqlite --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from bench import common

QUERIES = ["*", "police", "government AND (court OR judge)", "elect*", '"prime minister"', "climate NOT sport"]
SOURCES = [f"outlet-{i}" for i in range(8)]


def build_index(backend, docs: int, seed: int = 7) -> float:
    from indexer.article import Article

    from bench.scale_index import BulkStories

    truth = json.loads((common.AEB_DEV / "ground-truth.json").read_text("utf-8"))
    bodies = [v["articleBody"] for v in truth.values() if len(v.get("articleBody") or "") > 400]
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    backend.init()
    backend.stories = BulkStories(backend.stories.window)
    started = time.perf_counter()
    batch: list[Article] = []
    for i in range(docs):
        words = bodies[i % len(bodies)].split()
        rng.shuffle(words)  # varied: same vocabulary, other documents
        text = " ".join(words[:400])
        batch.append(Article(url=f"https://{SOURCES[i % 8]}.example/{i}", title=" ".join(words[:9]), text=text,
                             source=SOURCES[i % 8], language="en",
                             published_at=now - timedelta(minutes=rng.randrange(60 * 24 * 90))))
        if len(batch) == 2000:
            backend.index(batch)
            batch = []
    if batch:
        backend.index(batch)
    backend.refresh()
    return time.perf_counter() - started


def _listening(proc: subprocess.Popen) -> str:
    for line in proc.stderr:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event") == "web_listening":
            return event["url"].rstrip("/")
    raise RuntimeError("mediawatch web did not start")


def _timed(opener, request) -> float:
    started = time.perf_counter()
    with opener.open(request, timeout=60) as resp:
        resp.read()
    return time.perf_counter() - started


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(root: Path, index: dict, runs: int) -> dict:
    config = root / "mediawatch.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(root), "index": index,
        "crawl": {"state_path": str(root / "crawl.sqlite3")}, "rules_dir": str(root / "rules"),
        "sources": [{"name": s, "feeds": [f"https://{s}.example/rss"]} for s in SOURCES]}))
    proc = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "--config", str(config), "web", "--port", "0"],
                            cwd=common.REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        base = _listening(proc)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        opener.open(base + "/rules/new", timeout=60).read()
        csrf = re.search(r'name="csrf" value="([^"]+)"', opener.open(base + "/rules/new").read().decode()).group(1)
        search: list[float] = []
        per_query = {}
        for q in QUERIES:
            url = base + "/?" + urllib.parse.urlencode({"q": q})
            _timed(opener, url)  # warm: the first read of a query pays the page cache
            times = [_timed(opener, url) for _ in range(runs)]
            per_query[q] = round(pct(times, 95) * 1000, 1)
            search += times
        previews = []
        for q in QUERIES[1:]:
            body = urllib.parse.urlencode({"csrf": csrf, "name": "bench", "query": q, "mode": "instant",
                                           "days": "7", "action": "preview", "enabled": "on"}).encode()
            previews.append(_timed(opener, urllib.request.Request(base + "/rules/submit", data=body)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"search_p50_ms": round(pct(search, 50) * 1000, 1), "search_p95_ms": round(pct(search, 95) * 1000, 1),
            "preview_max_ms": round(max(previews) * 1000, 1), "search_p95_ms_by_query": per_query}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=10, help="requests per query")
    ap.add_argument("--backend", choices=["sqlite", "elasticsearch", "both"], default="both")
    ap.add_argument("--es-heap", default="2g")
    ap.add_argument("--es-url", help="a running node instead of one the bench starts")
    ap.add_argument("--quick", action="store_true", help="5,000 articles, 3 requests per query")
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args()
    if args.quick:
        args.docs, args.runs = 5000, 3
    common.quiet_logs()
    rows, targets = [], []
    if args.backend in ("sqlite", "both"):
        from indexer.backends.sqlite import SqliteBackend

        with tempfile.TemporaryDirectory(prefix="mw-bench-web-") as tmp:
            root = Path(tmp)
            backend = SqliteBackend(root / "index.sqlite3")
            try:
                index_s = build_index(backend, args.docs)
            finally:
                backend.close()
            rows.append({"system": f"mediawatch web, SQLite, {args.docs} articles", "docs": args.docs,
                         "index_build_s": round(index_s, 1),
                         **measure(root, {"sqlite_path": str(root / "index.sqlite3")}, args.runs)})
    if args.backend in ("elasticsearch", "both"):
        from indexer.backends.elasticsearch import ElasticsearchBackend
        from indexer.config import IndexConfig

        node = common.es_node(args.es_heap) if not args.es_url else None
        try:
            with tempfile.TemporaryDirectory(prefix="mw-bench-web-") as tmp:
                index = {"url": args.es_url or node.url, "prefix": f"mwbenchweb-{random.randrange(16**6):06x}"}
                backend = ElasticsearchBackend(IndexConfig(**index))
                try:
                    index_s = build_index(backend, args.docs)
                finally:
                    backend.close()
                rows.append({"system": f"mediawatch web, Elasticsearch, {args.docs} articles", "docs": args.docs,
                             "index_build_s": round(index_s, 1), **measure(Path(tmp), index, args.runs)})
        finally:
            if node is not None:
                node.cleanup()
    for row in rows:
        name = "SQLite" if "SQLite" in row["system"] else "Elasticsearch"
        targets += [common.target(f"search page with chart, p95 ms ({name})", row["search_p95_ms"], "<=", 300),
                    common.target(f"rule preview over 7 days, ms ({name})", row["preview_max_ms"], "<=", 1000)]
    out = common.result("web", rows, params={"docs": args.docs, "runs": args.runs}, targets=targets)
    print(json.dumps(rows, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
