"""The peer: news-please (latest from PyPI) crawling the same local site, configured fairly.

news-please pins its own Scrapy, newspaper4k, lxml..., so it lives in its own virtualenv,
``~/.cache/mediawatch/bench/newsplease-venv`` (created and ``pip install -U news-please``'d on
first use; ``--no-upgrade`` keeps what is there). Two ways it can be used, both measured:

* ``news-please crawl``: its crawler proper, the Scrapy process its CLI starts for one site
  (``newsplease.single_crawler``), with its ``SitemapCrawler`` (robots.txt -> sitemap index
  -> sitemaps -> articles) or ``--crawler rss`` (front page -> RSS feed -> articles), its
  pipeline ``ArticleMasterExtractor`` (newspaper4k + readability + date + langdetect, as it
  ships) -> ``JsonFileStorage``.
* ``news-please library``: ``NewsPlease.from_urls(all article URLs)``: threaded fetch, then
  extraction in a process pool over every core (its fastest path; it is given the URL list,
  so it does no feed or sitemap work at all).

Fairness: news-please would put "127.0.0.1:PORT" into Scrapy's allowed_domains and filter
every URL of a site with a port as offsite; the driver strips the port there and keeps it in
the RSS crawler's start URL (nothing else is patched). What needs the internet is off (newspaper's image download for the top image ->
its own ``newspaper_extractor_no_images``; the site is 127.0.0.1, so no DNS); its article
heuristics are set to "every page the sitemap/feed lists is an article"
(``crawler_contains_only_article_alikes``), the same as what mediawatch assumes of a feed;
newspaper4k gets its ``ja``/``zh`` extras (else it raises on the Japanese and Chinese pages);
the HTML copy pipeline (HtmlFileStorage) is off since mediawatch keeps no raw copy either;
32 concurrent requests, no delay, robots.txt obeyed (as mediawatch does). It writes JSON files
and indexes nothing, which favours it against mediawatch's end-to-end figure.

Extraction F1 of what it stored is scored with ``../shared/eval/score.py``'s metric (imported
by path) against the ground truth of every URL of the site; a URL it did not store counts as
an empty prediction.

    python -m bench.newsplease --pages 3000 --runs 3
    python -m bench.newsplease --quick --mode crawl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import common, proctree
from bench.site import SiteServer

VENV = common.CACHE / "newsplease-venv"

# Run by the news-please venv's python, from a scratch dir (so that no repo package such as
# our `crawler` shadows news-please's own imports). Prints one JSON line.
DRIVER = r'''
import json, os, resource, sys, time

def cpu():
    t = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        t += ru.ru_utime + ru.ru_stime
    return t

mode, cfg, arg = sys.argv[1], sys.argv[2], sys.argv[3]
import re
import newsplease
from newsplease.helper_classes.url_extractor import UrlExtractor

# news-please puts "host:port" into Scrapy's allowed_domains, which Scrapy then filters as
# offsite: the local site has a port, real sites don't. Strip the port, nothing else.
_allowed = UrlExtractor.get_allowed_domain
UrlExtractor.get_allowed_domain = staticmethod(lambda url, allow_subdomains=True: re.sub(r":\d+$", "", _allowed(url, allow_subdomains)))
# ...and builds the RSS crawler's start URL from that domain: keep the port there.
UrlExtractor.get_start_url = staticmethod(lambda url: re.match(r"https?://[^/]+", url).group(0) + "/")
version = getattr(newsplease, "__version__", None)
try:
    from importlib.metadata import version as _v
    version = _v("news-please")
except Exception:
    pass
if mode == "crawl":
    from newsplease.single_crawler import SingleCrawler
    c0, t0 = cpu(), time.perf_counter()
    SingleCrawler(cfg, arg, 0, False, False)
    wall, used = time.perf_counter() - t0, cpu() - c0
    print(json.dumps({"wall_s": wall, "cpu_s": used, "version": version}), flush=True)
else:
    from newsplease import NewsPlease
    urls = [line.strip() for line in open(arg) if line.strip()]
    c0, t0 = cpu(), time.perf_counter()
    res = NewsPlease.from_urls(urls, request_args={"timeout": 30}, fetch_images=False)
    wall, used = time.perf_counter() - t0, cpu() - c0
    texts = {}
    for url, art in res.items():
        text = getattr(art, "maintext", None) if art else None
        if art:
            texts[url] = text or ""
    with open(cfg, "w") as fh:
        json.dump(texts, fh)
    print(json.dumps({"wall_s": wall, "cpu_s": used, "version": version}), flush=True)
'''

CONFIG_EDITS = {
    # section -> {key: value} (values in news-please's config syntax)
    "Crawler": {"default": "{crawler}", "check_certificate": "False", "check_crawler_has_urls_to_scan": "False"},
    "Heuristics": {"enabled_heuristics": '{{"crawler_contains_only_article_alikes": True}}',
                   "pass_heuristics_condition": '"crawler_contains_only_article_alikes"'},
    "Files": {"working_path": "{work}"},
    "ArticleMasterExtractor": {"extractors": "['newspaper_extractor_no_images', 'readability_extractor', "
                                             "'date_extractor', 'lang_detect_extractor']"},
    "Scrapy": {"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": "True", "CONCURRENT_REQUESTS": "{concurrency}",
               "CONCURRENT_REQUESTS_PER_DOMAIN": "{concurrency}", "DOWNLOAD_DELAY": "0",
               "AUTOTHROTTLE_ENABLED": "False", "TELNETCONSOLE_ENABLED": "False",
               "ITEM_PIPELINES": "{{'newsplease.pipeline.pipelines.ArticleMasterExtractor':100, "
                                 "'newsplease.pipeline.pipelines.JsonFileStorage':300}}"},
}


def ensure_venv(upgrade: bool = True) -> Path:
    """The news-please virtualenv; created (and news-please upgraded to the latest) on demand."""
    py = VENV / "bin" / "python"
    if not py.exists():
        VENV.parent.mkdir(parents=True, exist_ok=True)
        base = shutil.which("python3.11") or sys.executable
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        upgrade = True
    if upgrade:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "news-please"], check=True)
    # newspaper4k needs its language extras for the Japanese and Chinese pages of the set
    # (without them it raises on those pages); pinned to the version news-please chose.
    check = subprocess.run([str(py), "-c", "import tinysegmenter, jieba"], capture_output=True)
    if upgrade or check.returncode != 0:
        ver = subprocess.run([str(py), "-c", "from importlib.metadata import version; print(version('newspaper4k'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"newspaper4k[ja,zh]=={ver}"], check=True)
    return py


def venv_version(py: Path) -> str:
    out = subprocess.run([str(py), "-c", "from importlib.metadata import version; print(version('news-please'))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def write_config(py: Path, work: Path, crawler: str, concurrency: int) -> Path:
    """news-please's shipped config.cfg with the edits above, key by key."""
    out = subprocess.run([str(py), "-c", "import newsplease, os; print(os.path.dirname(newsplease.__file__))"],
                         capture_output=True, text=True, check=True)
    text = (Path(out.stdout.strip()) / "config" / "config.cfg").read_text(encoding="utf-8")
    values = {"crawler": crawler, "work": str(work), "concurrency": concurrency}
    lines = text.splitlines()
    section = None
    done: set[tuple[str, str]] = set()
    result: list[str] = []
    skipping = False
    for line in lines:
        head = re.match(r"^\[(\w+)\]\s*$", line)
        if head:
            # keys of the previous section not found in it: append them
            if section in CONFIG_EDITS:
                for key, val in CONFIG_EDITS[section].items():
                    if (section, key) not in done:
                        result.append(f"{key} = {val.format(**values)}")
                        done.add((section, key))
            section = head.group(1)
            skipping = False
            result.append(line)
            continue
        if skipping:  # continuation lines of a multi-line value we replaced
            if line.startswith((" ", "\t")) or line.strip() in ("}", "]"):
                continue
            skipping = False
        key = re.match(r"^([A-Za-z_]+)\s*=", line)
        if key and section in CONFIG_EDITS and key.group(1) in CONFIG_EDITS[section]:
            name = key.group(1)
            result.append(f"{name} = {CONFIG_EDITS[section][name].format(**values)}")
            done.add((section, name))
            skipping = True
            continue
        result.append(line)
    if section in CONFIG_EDITS:
        for key, val in CONFIG_EDITS[section].items():
            if (section, key) not in done:
                result.append(f"{key} = {val.format(**values)}")
    path = work / "config.cfg"
    path.write_text("\n".join(result) + "\n", encoding="utf-8")
    return path


def stored_texts(work: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in (work / "data").rglob("*.json") if (work / "data").exists() else ():
        try:
            item = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        url = item.get("url")
        if url:
            texts[url] = item.get("maintext") or ""
    return texts


def one_run(py: Path, mode: str, site, crawler: str, concurrency: int, logdir: Path, i: int) -> tuple[dict, dict]:
    work = Path(tempfile.mkdtemp(prefix=f"np-{mode}-", dir=logdir))
    driver = work / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    if mode == "crawl":
        cfg = write_config(py, work, {"sitemap": "SitemapCrawler", "rss": "RssCrawler"}[crawler], concurrency)
        sitelist = work / "sitelist.hjson"
        sitelist.write_text(json.dumps({"base_urls": [{"url": site.base_url + "/"}]}), encoding="utf-8")
        argv = [str(py), str(driver), "crawl", str(cfg), str(sitelist)]
    else:
        urls = work / "urls.txt"
        urls.write_text("\n".join(p.url for p in site.pages) + "\n", encoding="utf-8")
        argv = [str(py), str(driver), "library", str(work / "texts.json"), str(urls)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{py.parent}:{env.get('PATH', '/usr/bin:/bin')}"
    res, peak = proctree.run_worker(argv, env=env, cwd=work, log_path=logdir / f"{mode}-{i}.log")
    texts = stored_texts(work) if mode == "crawl" else json.loads((work / "texts.json").read_text())
    fig = proctree.figures(len(texts), res["wall_s"], res["cpu_s"], peak)
    fig["empty_text"] = sum(1 for t in texts.values() if not t)
    shutil.rmtree(work, ignore_errors=True)
    return fig, {"texts": texts, "version": res.get("version")}


COLUMNS = [("articles", "articles", "{:d}"), ("articles_per_s", "articles/s", "{:.1f}"),
           ("cpu_s_per_article", "CPU ms/art", "{:.1f}"), ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
           ("f1", "F1", "{:.3f}"), ("precision", "P", "{:.3f}"), ("recall", "R", "{:.3f}")]


def measure(server: SiteServer, modes: list[str], runs: int, crawler: str, concurrency: int,
            logdir: Path, upgrade: bool) -> tuple[list[dict], str]:
    py = ensure_venv(upgrade)
    version = venv_version(py)
    site = server.site
    rows = []
    for mode in modes:
        results, first = [], None
        for i in range(runs):
            fig, extra = one_run(py, mode, site, crawler, concurrency, logdir, i)
            results.append(fig)
            first = first or extra
            print(f"  news-please {mode} run {i + 1}/{runs}: {fig['articles']} articles in {fig['wall_s']:.1f}s = "
                  f"{fig['articles_per_s']:.1f}/s, {fig['cpu_s_per_article'] or 0:.3f} CPU s/article, "
                  f"peak RSS {fig['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
        scores = common.score_texts(site.expected_texts(), first["texts"]) if first else {}
        label = f"news-please {version} {mode}" + (f" ({crawler})" if mode == "crawl" else "")
        rows.append(common.combine_runs(label, results, **scores))
    return rows, version


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(ap, runs=1)
    ap.add_argument("--mode", choices=["crawl", "library", "both"], default="both")
    ap.add_argument("--crawler", choices=["sitemap", "rss"], default="sitemap", help="news-please crawler (crawl mode)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--no-upgrade", action="store_true", help="do not pip install -U news-please first")
    args = ap.parse_args(argv)
    common.apply_quick(args)
    common.exit_on_sigterm()
    modes = ["crawl", "library"] if args.mode == "both" else [args.mode]
    logdir = Path(tempfile.mkdtemp(prefix="mediawatch-bench-newsplease-"))
    server = SiteServer(args.pages, server=args.server, keep=args.keep)
    with server as site:
        print(f"site: {len(site.pages)} articles, {site.server} at {site.base_url}; logs in {logdir}",
              file=sys.stderr, flush=True)
        rows, version = measure(server, modes, args.runs, args.crawler, args.concurrency, logdir, not args.no_upgrade)
    disp = [dict(r, cpu_s_per_article=(r.get("cpu_s_per_article") or 0) * 1000) for r in rows]
    common.print_rows(f"news-please {version} ({args.pages} pages, median of {args.runs} run(s), {site.server})",
                      disp, COLUMNS)
    best = max(rows, key=lambda r: r.get("articles_per_s") or 0)
    notes = [f"site served by {site.server}", f"news-please {version} in {VENV}",
             f"peer figure for the ratio: the faster mode ({best['system']})"]
    if server.note:
        notes.append(server.note)
    payload = common.result("newsplease", rows, params={"pages": args.pages, "runs": args.runs, "modes": modes,
                                                        "crawler": args.crawler, "concurrency": args.concurrency,
                                                        "version": version, "server": site.server},
                            notes=notes)
    payload["peer_best"] = {"system": best["system"], "articles_per_s": best.get("articles_per_s"),
                            "f1": best.get("f1")}
    if not args.keep:
        shutil.rmtree(logdir, ignore_errors=True)
    common.emit(payload, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
