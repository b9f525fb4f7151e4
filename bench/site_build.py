"""The local news site of the crawl benchmarks, written to a folder (served by ``bench.site``):
>= 3,000 real-size article pages, feeds, sitemaps.

The 91 real pages of ``../shared/eval/aeb-dev/`` (true bodies in its ground-truth.json) are
published under many URLs (``/<section>/<yyyy>/<mm>/<dd>/<slug>-<n>.html``); page n is real
page ``n % 91`` with its number put into ``<title>`` and words of its own (:func:`vary`), so every
URL is a distinct article and a distinct story (mediawatch mails once per story: 33 copies of one
text would be one story and one mail). The true body of page n gets the same words, so extraction
F1 against the ground truth stays valid for every URL. Its rel=canonical and og:url, which name the
real page's publisher, are disabled: the copies are not syndication. The site also has:

* ``/robots.txt`` (allows all, names the sitemap index),
* ``/sitemap.xml`` (index) -> ``/sitemaps/articles-<k>.xml`` (``--per-sitemap`` URLs each),
* ``/feeds/all.rss`` (every article, one big RSS 2.0 feed) and ``/feeds/page-<k>.rss``
  (``--per-feed`` items each, newest first),
* ``/index.html`` (a front page linking the newest 100 articles and, by <link rel=alternate>,
  the big feed),
* ``/site.json``: the manifest the bench scripts read (URLs, page ids, feed and sitemap URLs).
"""

from __future__ import annotations

import gzip
import html
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.common import AEB_DEV

SECTIONS = ["world", "politics", "business", "tech", "science", "culture", "sport", "health"]


@dataclass
class SitePage:
    n: int
    url: str
    page_id: str  # the aeb-dev page it reproduces
    title: str
    published: str  # RFC 3339


@dataclass
class Site:
    root: Path
    base_url: str
    pages: list[SitePage]
    feeds: list[str]  # the paged feeds
    big_feed: str
    sitemap_index: str
    sitemaps: list[str]
    truth: dict[str, str] = field(repr=False, default_factory=dict)  # url -> true body (varied as its page)
    server: str = ""
    bytes_total: int = 0

    def expected_texts(self) -> dict[str, str]:
        """url -> true body, for every article URL of the site."""
        return {p.url: self.truth.get(p.url, "") for p in self.pages}

    def manifest(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "root": str(self.root), "feeds": self.feeds,
                "big_feed": self.big_feed, "sitemap_index": self.sitemap_index,
                "sitemaps": self.sitemaps, "server": self.server, "bytes_total": self.bytes_total,
                "pages": [p.__dict__ for p in self.pages]}


def load_sources(data_dir: Path = AEB_DEV) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """[(page_id, html)] sorted by id, and page_id -> true article body."""
    with open(data_dir / "ground-truth.json", encoding="utf-8") as fh:
        truth = json.load(fh)
    pages = []
    for pid in sorted(truth):
        path = data_dir / "html" / f"{pid}.html.gz"
        if not path.exists():
            continue
        raw = gzip.open(path, "rb").read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        pages.append((pid, text))
    if not pages:
        raise FileNotFoundError(f"no pages under {data_dir}/html")
    return pages, {pid: item.get("articleBody", "") for pid, item in truth.items()}


def _title_of(text: str) -> tuple[int, int, str] | None:
    lo = text.lower()
    start = lo.find("<title")
    if start < 0:
        return None
    gt = lo.find(">", start)
    end = lo.find("</title>", gt)
    if gt < 0 or end < 0:
        return None
    return gt + 1, end, html.unescape(text[gt + 1:end]).strip()


def stamp_title(text: str, n: int) -> tuple[str, str]:
    """The page with ' | No. n' appended to its <title> (one added if missing); -> (html, title)."""
    found = _title_of(text)
    if found:
        a, b, title = found
        title = f"{title or 'Article'} | No. {n}"
        return text[:a] + html.escape(title, quote=False) + text[b:], title
    title = f"Article No. {n}"
    lo = text.lower()
    head = lo.find("<head")
    if head >= 0:
        gt = lo.find(">", head) + 1
        return text[:gt] + f"<title>{title}</title>" + text[gt:], title
    return f"<title>{title}</title>" + text, title


# Rule terms of bench/e2e.py (and any word of 3 letters or fewer) are never varied: every rule
# matches the pages it matched before, so the mail count measures the same work.
_KEEP = frozenset(t.casefold() for t in (
    "government police election president market company climate China Trump minister health court war school "
    "football bank technology energy Europe virus protest law water music film oil price city children women "
    "Russia Germany Japan data game study science vote").split())
_TAG_OR_TEXT = re.compile(r"(<!--.*?-->|<script\b.*?</script>|<style\b.*?</style>|<[^>]*>)", re.S | re.I)
_WORD = re.compile(r"(?<![&#\w])[^\W\d_]{4,}")
_SUFFIX = "bcdfghjklmnpqrstvwxz"


_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")


def _suffix(n: int) -> str:
    """Letters of copy n only (a hash, so no two copies share a first letter more often than by chance)."""
    h, out = zlib.crc32(f"copy-{n}".encode()), ""
    while h:
        h, r = divmod(h, len(_SUFFIX))
        out += _SUFFIX[r]
    return out


def vary_words(text: str, n: int) -> str:
    """About half of the words (4+ letters, not rule terms) get copy n's own suffix: two copies of one
    page then share about 1% of their word 3-grams, far below a story's threshold. A run of CJK
    characters (compared as character 4-grams) gets the suffix after every third character."""
    suffix = _suffix(n)

    def one(m: re.Match[str]) -> str:
        w = m.group(0)
        if _CJK.search(w):
            return "".join(w[i:i + 3] + suffix for i in range(0, len(w), 3))
        if w.casefold() in _KEEP or zlib.crc32(f"{n}:{w}".encode()) & 1:
            return w
        return w + suffix

    return _WORD.sub(one, text)


def vary(page: str, n: int) -> str:
    """The page with copy n's words in its text (never in tags, comments, scripts or entities), and its
    canonical links disabled."""
    parts = _TAG_OR_TEXT.split(page)
    for i in range(0, len(parts), 2):  # even items are text between tags
        parts[i] = vary_words(parts[i], n)
    page = "".join(parts)
    page = re.sub(r"""(rel\s*=\s*["']?)canonical""", r"\1x-canonical", page, flags=re.I)
    return re.sub(r"""((?:property|name)\s*=\s*["']?)og:url""", r"\1x-og:url", page, flags=re.I)


def build(root: Path, base_url: str, pages: int = 3000, *, per_feed: int = 100, per_sitemap: int = 1000,
          data_dir: Path = AEB_DEV) -> Site:
    """Write the whole site under ``root`` (which must exist) for ``base_url`` (no trailing /)."""
    sources, truth = load_sources(data_dir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    out: list[SitePage] = []
    truths: dict[str, str] = {}  # url -> its true body, varied as its page
    total = 0
    for n in range(pages):
        pid, text = sources[n % len(sources)]
        published = now - timedelta(minutes=n)  # page 0 is the newest
        section = SECTIONS[n % len(SECTIONS)]
        rel = f"{section}/{published:%Y/%m/%d}/{pid[:10]}-{n}.html"
        body, title = stamp_title(vary(text, n), n)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = body.encode("utf-8")
        path.write_bytes(data)
        total += len(data)
        out.append(SitePage(n, f"{base_url}/{rel}", pid, title, published.isoformat()))
        truths[out[-1].url] = vary_words(truth.get(pid, ""), n)

    def rss(items: list[SitePage], name: str) -> str:
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
                 f"<title>Bench News {html.escape(name)}</title><link>{base_url}/</link>",
                 "<description>mediawatch benchmark site</description>"]
        for p in items:
            when = datetime.fromisoformat(p.published).strftime("%a, %d %b %Y %H:%M:%S +0000")
            parts.append(f"<item><title>{html.escape(p.title)}</title><link>{p.url}</link>"
                         f'<guid isPermaLink="true">{p.url}</guid><pubDate>{when}</pubDate></item>')
        parts.append("</channel></rss>\n")
        return "\n".join(parts)

    (root / "feeds").mkdir()
    feeds = []
    for k in range(0, len(out), per_feed):
        name = f"page-{k // per_feed + 1}.rss"
        (root / "feeds" / name).write_text(rss(out[k:k + per_feed], name), encoding="utf-8")
        feeds.append(f"{base_url}/feeds/{name}")
    (root / "feeds" / "all.rss").write_text(rss(out, "all"), encoding="utf-8")

    (root / "sitemaps").mkdir()
    sitemaps = []
    for k in range(0, len(out), per_sitemap):
        name = f"articles-{k // per_sitemap + 1}.xml"
        urls = "\n".join(f"<url><loc>{p.url}</loc><lastmod>{p.published}</lastmod></url>"
                         for p in out[k:k + per_sitemap])
        (root / "sitemaps" / name).write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}\n</urlset>\n',
            encoding="utf-8")
        sitemaps.append(f"{base_url}/sitemaps/{name}")
    index = "\n".join(f"<sitemap><loc>{u}</loc><lastmod>{now.isoformat()}</lastmod></sitemap>" for u in sitemaps)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{index}\n</sitemapindex>\n',
        encoding="utf-8")
    (root / "robots.txt").write_text(f"User-agent: *\nAllow: /\n\nSitemap: {base_url}/sitemap.xml\n")
    links = "\n".join(f'<li><a href="{p.url}">{html.escape(p.title)}</a></li>' for p in out[:100])
    (root / "index.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Bench News</title>"
        f'<link rel="alternate" type="application/rss+xml" title="All articles" href="{base_url}/feeds/all.rss">'
        f"</head>"
        f"<body><h1>Bench News</h1><ul>{links}</ul></body></html>\n", encoding="utf-8")
    site = Site(root, base_url, out, feeds, f"{base_url}/feeds/all.rss", f"{base_url}/sitemap.xml",
                sitemaps, truths, bytes_total=total)
    (root / "site.json").write_text(json.dumps(site.manifest()), encoding="utf-8")
    return site
