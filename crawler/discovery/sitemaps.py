"""Sitemap parsing: sitemap index, urlset, gzip, Google News (publication date and title).

    sm = parse_sitemap(body_bytes, "https://example.com/sitemap.xml")
    sm.kind == "index": sm.entries are child sitemaps (loc, lastmod)
    sm.kind == "urlset": sm.entries are pages (loc, lastmod, news_date, news_title)

Gzip is detected by its magic bytes (``.xml.gz`` files served as application/x-gzip, or a
server that gzips without Content-Encoding) and decompressed with a hard cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from crawler.dates import parse_date
from crawler.xml import XMLBroken, is_gzip, local, looks_like_html, parse_xml, text_of
from indexer.query import clean_text

__all__ = ["NotASitemap", "Sitemap", "SitemapEntry", "parse_sitemap"]

MAX_ENTRIES = 50_000  # the protocol's limit per file; more is ignored


class NotASitemap(XMLBroken):
    pass


@dataclass
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    news_date: datetime | None = None  # <news:publication_date>
    news_title: str = ""  # <news:title>
    is_news: bool = False

    @property
    def date(self) -> datetime | None:
        """The date that says whether the URL changed: lastmod, else the news publication date."""
        return self.lastmod or self.news_date


@dataclass
class Sitemap:
    kind: str  # "index" | "urlset"
    entries: list[SitemapEntry] = field(default_factory=list)
    skipped: int = 0  # entries without an http(s) <loc>
    truncated: bool = False  # entries past MAX_ENTRIES were left out

    @property
    def is_news(self) -> bool:
        return any(e.is_news for e in self.entries)


def _find(el, name: str):
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def parse_sitemap(body: bytes, sitemap_url: str, charset: str | None = None) -> Sitemap:
    """Parse a (possibly gzipped) sitemap; ``charset``: the HTTP header's, for one that names none.
    Raises XMLRefused / XMLBroken / NotASitemap."""
    if not is_gzip(body) and looks_like_html(body):
        raise NotASitemap("not_a_sitemap", "an HTML page")
    root = parse_xml(body, charset=charset)
    name = local(root.tag)
    if name == "sitemapindex":
        kind, child = "index", "sitemap"
    elif name == "urlset":
        kind, child = "urlset", "url"
    else:
        raise NotASitemap("not_a_sitemap", f"root element <{name}>")
    out = Sitemap(kind=kind)
    for el in root:
        if local(el.tag) != child:
            continue
        if len(out.entries) >= MAX_ENTRIES:
            out.truncated = True
            break
        loc = text_of(_find(el, "loc"))
        try:
            loc = urljoin(sitemap_url, loc) if loc else ""
        except ValueError:  # a broken authority ("http://[::1"): that entry only
            loc = ""
        if not loc.startswith(("http://", "https://")):
            out.skipped += 1
            continue
        entry = SitemapEntry(loc=loc, lastmod=parse_date(text_of(_find(el, "lastmod"))))
        news = _find(el, "news")
        if news is not None:
            entry.is_news = True
            entry.news_date = parse_date(text_of(_find(news, "publication_date")))
            entry.news_title = clean_text(text_of(_find(news, "title")))
        out.entries.append(entry)
    return out
