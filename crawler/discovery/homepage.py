"""What a site's homepage says about where its articles are listed, for ``sources add``.

    feed_links(html, page_url)          # the feeds its <link rel="alternate"> elements name
    feed_paths(homepage) / sitemap_paths(homepage)   # the usual places, tried when it names none
    per_day(dates)                      # new entries per day, from the dates a feed/sitemap gives
    suggest_name(homepage)              # a source name from the host

Pure functions over text: the probe (``crawler.probe``) fetches, these read.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

from crawler.discovery.links import parse_page

__all__ = ["feed_links", "feed_paths", "per_day", "sitemap_paths", "suggest_name"]

# JSON Feed is left out: the crawler reads XML feeds only.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/rss", "application/atom", "application/xml", "text/xml", "text/rss+xml"})
FEED_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/all.rss")
SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml", "/sitemap-news.xml")
MAX_FEED_LINKS = 10
RATE_WINDOW = timedelta(days=7)


def feed_links(html: str, page_url: str) -> list[str]:
    """The http(s) URLs of ``<link rel="alternate" type="application/rss+xml|atom+xml|...">``,
    in document order, resolved against ``<base href>`` or the page URL."""
    parsed = parse_page(html, page_url)
    if parsed is None:
        return []
    doc, base = parsed
    found: list[str] = []
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        mime = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rels or mime not in FEED_TYPES or not href:
            continue
        if "comment" in href.lower() or "comment" in (link.get("title") or "").lower():
            continue  # a blog's comments feed (WordPress lists one beside the posts feed): not articles
        try:
            url = urljoin(base, href).split("#", 1)[0]
        except ValueError:
            continue
        if url.startswith(("http://", "https://")) and url not in found:
            found.append(url)
        if len(found) >= MAX_FEED_LINKS:
            break
    return found


def _root(homepage: str) -> str:
    parts = urlsplit(homepage)
    return f"{parts.scheme}://{parts.netloc}"


def feed_paths(homepage: str) -> list[str]:
    return [_root(homepage) + p for p in FEED_PATHS]


def sitemap_paths(homepage: str) -> list[str]:
    return [_root(homepage) + p for p in SITEMAP_PATHS]


def per_day(dates: list[datetime | None], now: datetime | None = None) -> float | None:
    """New entries per day over the last week, from their dates; None without a recent date.

    The window is the week, or less when the oldest recent entry is younger (a feed listing
    the last 20 stories of a busy site spans hours), but never under a day."""
    now = now or datetime.now(timezone.utc)
    recent = [d for d in dates if d is not None and now - RATE_WINDOW <= d <= now + timedelta(hours=1)]
    if not recent:
        return None
    span = max(now - min(recent), timedelta(days=1))
    return len(recent) / (min(span, RATE_WINDOW) / timedelta(days=1))


def suggest_name(homepage: str) -> str:
    """``https://www.dw.com/en/`` -> ``dw.com``; a port is kept (``127.0.0.1-8080``)."""
    parts = urlsplit(homepage)
    host = (parts.hostname or "source").casefold()
    if host.startswith("www."):
        host = host[4:]
    name = host + (f"-{parts.port}" if parts.port else "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "source"
