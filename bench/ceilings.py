"""Two ceilings on the local site: what plain Scrapy can do on this machine.

* ``scrapy fetch-only``: a bare SitemapSpider that fetches every article and does nothing with it;
* ``scrapy + trafilatura``: the same spider calling ``trafilatura.extract`` in its callback
  (on the reactor thread, the naive design), its texts scored against the ground truth.

Both: 32 concurrent requests, no delay, no autothrottle, no robots.txt, telnet off. Each run is a
fresh process (a reactor starts once per process); figures are medians over ``--runs``:
articles/s (articles / crawl wall time), CPU s/article (user+system of the crawl process tree
during the crawl), peak RSS (summed RSS of the process tree, sampled every 0.2 s).

    python -m bench.ceilings --pages 3000 --runs 3
    python -m bench.ceilings --quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import common, proctree
from bench.site import SiteServer, load_manifest

SYSTEMS = {"fetch": "scrapy fetch-only", "trafilatura": "scrapy + trafilatura"}


def worker(kind: str, manifest_path: str, concurrency: int, texts_out: str | None) -> None:
    """One measured crawl in this process; prints its figures as a JSON line."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiders import SitemapSpider

    manifest = load_manifest(manifest_path)
    extract = None
    if kind == "trafilatura":
        import trafilatura

        extract = trafilatura.extract
    stats = {"articles": 0, "responses": 0, "empty": 0, "bytes": 0}
    texts: dict[str, str] = {}

    class Ceiling(SitemapSpider):
        name = f"ceiling-{kind}"
        sitemap_urls = [manifest["sitemap_index"]]

        def parse(self, response: scrapy.http.Response):
            stats["responses"] += 1
            stats["bytes"] += len(response.body)
            if extract is None:
                stats["articles"] += 1
                return
            text = extract(response.text, url=response.url)
            if text:
                stats["articles"] += 1
                if texts_out is not None:
                    texts[response.url] = text
            else:
                stats["empty"] += 1

    settings = {
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "USER_AGENT": "mediawatch-bench (ceiling)",
    }
    process = CrawlerProcess(settings)
    process.crawl(Ceiling)
    cpu0 = proctree.cpu_seconds_tree()
    t0 = time.perf_counter()
    process.start()
    wall = time.perf_counter() - t0
    cpu = proctree.cpu_seconds_tree() - cpu0
    if texts_out is not None:
        Path(texts_out).write_text(json.dumps(texts), encoding="utf-8")
    out = proctree.figures(stats["articles"], wall, cpu, None)
    out.update(responses=stats["responses"], empty=stats["empty"], mb_fetched=round(stats["bytes"] / 2**20, 1))
    print(json.dumps(out), flush=True)


def run_once(kind: str, manifest: Path, concurrency: int, log_path: Path, texts_out: Path | None = None) -> dict:
    """One ceiling crawl in a fresh process: its figures (and its texts in ``texts_out``)."""
    argv = [sys.executable, "-m", "bench.ceilings", "--worker", kind, "--manifest", str(manifest),
            "--concurrency", str(concurrency)]
    if texts_out is not None:
        argv += ["--texts-out", str(texts_out)]
    res, peak = proctree.run_worker(argv, cwd=common.REPO, log_path=log_path)
    res["peak_rss_mb"] = round(peak, 1)
    return res


def measure(site_server: SiteServer, kinds: list[str], runs: int, concurrency: int, logdir: Path) -> list[dict]:
    site = site_server.site
    assert site is not None
    manifest = site.root / "site.json"
    rows = []
    for kind in kinds:
        results = []
        texts_file = logdir / f"texts-{kind}.json"
        for i in range(runs):
            texts_out = texts_file if kind == "trafilatura" and i == 0 else None
            res = run_once(kind, manifest, concurrency, logdir / f"{kind}.log", texts_out)
            peak = res["peak_rss_mb"]
            results.append(res)
            print(f"  {SYSTEMS[kind]} run {i + 1}/{runs}: {res['articles']} articles in {res['wall_s']:.1f}s = "
                  f"{res['articles_per_s']:.1f}/s, {res['cpu_s_per_article'] * 1000:.2f} ms CPU/article, "
                  f"peak RSS {peak:.0f} MB", file=sys.stderr, flush=True)
        extra = {}
        if kind == "trafilatura" and texts_file.exists():
            extra = common.score_texts(site.expected_texts(), json.loads(texts_file.read_text()))
        rows.append(common.combine_runs(SYSTEMS[kind], results, **extra))
    return rows


COLUMNS = [("articles", "articles", "{:d}"), ("articles_per_s", "articles/s", "{:.1f}"),
           ("cpu_s_per_article", "CPU ms/art", "{:.2f}"), ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
           ("f1", "F1", "{:.3f}")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(ap)
    ap.add_argument("--only", choices=sorted(SYSTEMS), action="append", help="run just this ceiling")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--worker", choices=sorted(SYSTEMS), help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    ap.add_argument("--texts-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.manifest, args.concurrency, args.texts_out)
        return 0
    common.apply_quick(args)
    common.exit_on_sigterm()
    kinds = args.only or ["fetch", "trafilatura"]
    logdir = Path(tempfile.mkdtemp(prefix="mediawatch-bench-ceilings-"))
    server = SiteServer(args.pages, server=args.server, keep=args.keep)
    with server as site:
        print(f"site: {len(site.pages)} articles, {site.bytes_total / 2**20:.0f} MiB, {site.server} at {site.base_url}",
              file=sys.stderr, flush=True)
        rows = measure(server, kinds, args.runs, args.concurrency, logdir)
    rows_disp = [dict(r, cpu_s_per_article=(r.get("cpu_s_per_article") or 0) * 1000) for r in rows]
    common.print_rows(f"Ceilings ({args.pages} pages, median of {args.runs} run(s), {site.server})", rows_disp, COLUMNS)
    notes = [f"site served by {site.server}"] + ([server.note] if server.note else [])
    if not args.keep:
        shutil.rmtree(logdir, ignore_errors=True)
    payload = common.result("ceilings", rows, params={"pages": args.pages, "runs": args.runs,
                                                      "concurrency": args.concurrency, "server": site.server},
                            notes=notes)
    common.emit(payload, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
