"""Feed parsing: RSS 0.9x / 2.0, RSS 1.0 / RDF, Atom 0.3 / 1.0 (whatever feedparser reads) into one shape.

    feed = parse_feed(body_bytes, "https://example.com/rss.xml")
    for entry in feed.entries: entry.url, entry.title, entry.published, entry.updated

feedparser reads the document: namespaces (an ``<atom:link rel="enclosure">`` or a
``<media:title>`` is not the item's link or title), ``xml:base`` at any level, markup broken
in the ways real feeds break it (a bare ``&`` in a link), encodings. Before it sees a byte,
:func:`crawler.xml.guard_xml` refuses entity declarations and caps the size and the gzip
ratio; it gets the bytes in a stream, so it never fetches or opens anything itself. Dates go
through :func:`crawler.dates.parse_date`, the one parser sitemaps and pages use too. Each
entry is converted on its own: one that fails is skipped, with its reason in
``Feed.problems`` for the caller to log, and the rest of the feed is kept. No logging here:
the spider runs this in its worker pool and logs in the crawl's own process.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from crawler.dates import parse_date
from crawler.xml import XMLBroken, guard_xml, is_gzip, local, looks_like_html, parse_xml, without_declared_encoding
from indexer.query import clean_text

__all__ = ["Feed", "FeedEntry", "NotAFeed", "parse_feed"]

class NotAFeed(XMLBroken):
    """Parsed as XML, but the root is not rss / rdf:RDF / feed (an HTML error page, a sitemap...)."""


@dataclass
class FeedEntry:
    url: str
    title: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    guid: str = ""

    @property
    def date(self) -> datetime | None:
        """The date that says whether the entry changed: updated, else published."""
        return self.updated or self.published


@dataclass
class Feed:
    kind: str  # "rss2" | "rss1" | "atom"
    title: str = ""
    entries: list[FeedEntry] = field(default_factory=list)
    skipped: int = 0  # entries without a usable link, or that could not be read
    problems: list[str] = field(default_factory=list)  # why entries could not be read (at most MAX_PROBLEMS)


MAX_PROBLEMS = 20


def _kind(version: str) -> str:
    if version.startswith("atom"):
        return "atom"
    if version in ("rss10", "rss090"):
        return "rss1"
    return "rss2"


def _http(url: str) -> bool:
    # urlsplit raises ValueError on a broken authority ("http://[::1"): that entry is skipped
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _raw(entry: Any, key: str) -> str:
    # "in" and not .get(): feedparser answers a missing "updated" with "published" otherwise
    value = entry[key] if key in entry else ""
    return value.strip() if isinstance(value, str) else ""


def _link(entry: Any, feed_url: str) -> str:
    """The article's URL: the item's link (feedparser resolved xml:base), else a URL-shaped id
    (a permalink guid, an RDF ``rdf:about``, an Atom id)."""
    link = _raw(entry, "link")
    if link:
        link = urljoin(feed_url, link)
        if _http(link):
            return link
    ident = _raw(entry, "id")
    if ident and _http(ident):
        return ident
    return ""


def _entry(entry: Any, feed_url: str) -> FeedEntry | None:
    url = _link(entry, feed_url)
    if not url:
        return None
    return FeedEntry(
        url=url,
        title=clean_text(_raw(entry, "title")),  # one line, no control character: a page without a title takes it
        published=parse_date(_raw(entry, "published")) or parse_date(_raw(entry, "created")),
        updated=parse_date(_raw(entry, "updated")),
        guid=_raw(entry, "id"),
    )


def _feedparser(body: bytes, feed_url: str) -> Any:
    return feedparser.parse(io.BytesIO(body), response_headers={"content-location": feed_url}, sanitize_html=False,
                            resolve_relative_uris=False)


def parse_feed(body: bytes, feed_url: str, charset: str | None = None) -> Feed:
    """Parse a feed document (``charset``: the HTTP header's, for one that names none). Raises
    XMLRefused / XMLBroken / NotAFeed for the whole document; an entry that cannot be read is counted in
    ``Feed.skipped`` and said why in ``Feed.problems``."""
    if not is_gzip(body) and looks_like_html(body):
        raise NotAFeed("not_a_feed", "an HTML page")
    body = guard_xml(body, charset=charset)
    try:
        parsed = _feedparser(body, feed_url)
    except ValueError:
        # feedparser falls back from a declared encoding Python does not know, but raises on one it cannot
        # use: a NUL or stray bytes in the name, "undefined". Read as declaring none, as lxml does.
        try:
            parsed = _feedparser(without_declared_encoding(body), feed_url)
        except ValueError as err:
            raise XMLBroken("xml_malformed", f"feedparser: {err}"[:200]) from None
    if not parsed.get("version") and not parsed.entries:
        # feedparser reads garbage and sitemaps alike as "no feed": our XML parser tells them apart
        root = parse_xml(body)
        raise NotAFeed("not_a_feed", f"root element <{local(root.tag)}>")
    feed = Feed(kind=_kind(parsed.get("version") or ""), title=_raw(parsed.feed, "title"))
    for position, entry in enumerate(parsed.entries):
        try:
            converted, problem = _entry(entry, feed_url), "no http(s) link"
        except (ValueError, TypeError, AttributeError) as err:
            converted, problem = None, str(err)[:200]
        if converted is not None:
            feed.entries.append(converted)
            continue
        feed.skipped += 1
        if len(feed.problems) < MAX_PROBLEMS:
            feed.problems.append(f"entry {position} ({_raw(entry, 'title')[:60]!r}): {problem}")
    return feed
