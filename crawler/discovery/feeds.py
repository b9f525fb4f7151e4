"""Feed parsing: RSS 2.0 (and 0.9x), RSS 1.0 / RDF, Atom 1.0 (and 0.3), into one shape.

    feed = parse_feed(body_bytes, "https://example.com/rss.xml")
    for entry in feed.entries: entry.url, entry.title, entry.published, entry.updated

Relative links are resolved against ``xml:base`` (Atom) or the feed URL. Parsing goes
through :func:`crawler.xml.parse_xml`, so bombs and XXE are refused before lxml sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from lxml import etree

from crawler.discovery import parse_date
from crawler.xml import XMLBroken, is_gzip, local, looks_like_html, parse_xml, text_of

__all__ = ["Feed", "FeedEntry", "NotAFeed", "parse_feed", "looks_like_feed"]

XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


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
    skipped: int = 0  # entries without a usable link


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if local(c.tag) == name]


def _child(el: etree._Element, *names: str) -> etree._Element | None:
    for name in names:
        for c in el:
            if local(c.tag) == name:
                return c
    return None


def _date_of(el: etree._Element, *names: str) -> datetime | None:
    for name in names:
        for c in el:
            if local(c.tag) == name:
                dt = parse_date(text_of(c))
                if dt:
                    return dt
    return None


def _http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _rss_items(root: etree._Element, feed_url: str, kind: str) -> Feed:
    channel = _child(root, "channel")
    feed = Feed(kind=kind, title=text_of(_child(channel, "title")) if channel is not None else "")
    # RSS 2.0 nests items in <channel>; RSS 1.0 puts them beside it.
    items = _children(channel, "item") if channel is not None else []
    items += _children(root, "item")
    if kind == "rss1" and not items:
        items = [el for el in root.iter() if local(el.tag) == "item"]
    for item in items:
        link = ""
        link_el = _child(item, "link")
        if link_el is not None:
            link = text_of(link_el) or (link_el.get("href") or "")
        guid_el = _child(item, "guid")
        guid = text_of(guid_el)
        if not link and guid_el is not None and guid_el.get("isPermaLink", "true").lower() != "false":
            link = guid
        if not link:
            # RDF: rdf:about carries the item URI; feedburner: origLink
            for attr, value in item.attrib.items():
                if local(attr) == "about":
                    link = value
            orig = _child(item, "origlink")
            if orig is not None:
                link = text_of(orig) or link
        link = urljoin(feed_url, link.strip()) if link else ""
        if not _http(link):
            feed.skipped += 1
            continue
        feed.entries.append(FeedEntry(
            url=link,
            title=text_of(_child(item, "title")),
            published=_date_of(item, "pubdate", "date", "issued", "published", "created"),
            updated=_date_of(item, "updated", "modified"),
            guid=guid,
        ))
    return feed


def _atom_link(entry: etree._Element, base: str) -> str:
    best = ""
    for link in _children(entry, "link"):
        href = (link.get("href") or "").strip()
        if not href:
            continue
        rel = (link.get("rel") or "alternate").lower()
        mime = (link.get("type") or "text/html").lower()
        if rel == "alternate" and ("html" in mime or not best):
            best = href
            if "html" in mime:
                break
    return urljoin(base, best) if best else ""


def _atom(root: etree._Element, feed_url: str) -> Feed:
    base = urljoin(feed_url, root.get(XML_BASE, "")) if root.get(XML_BASE) else feed_url
    feed = Feed(kind="atom", title=text_of(_child(root, "title")))
    for entry in _children(root, "entry"):
        ebase = urljoin(base, entry.get(XML_BASE)) if entry.get(XML_BASE) else base
        link = _atom_link(entry, ebase)
        if not _http(link):
            ident = text_of(_child(entry, "id"))
            link = ident if _http(ident) else ""
        if not link:
            feed.skipped += 1
            continue
        feed.entries.append(FeedEntry(
            url=link,
            title=text_of(_child(entry, "title")),
            published=_date_of(entry, "published", "issued", "created"),
            updated=_date_of(entry, "updated", "modified"),
            guid=text_of(_child(entry, "id")),
        ))
    return feed


def parse_feed(body: bytes, feed_url: str) -> Feed:
    """Parse an RSS 2.0 / RSS 1.0 (RDF) / Atom document. Raises XMLRefused / XMLBroken / NotAFeed."""
    if not is_gzip(body) and looks_like_html(body):
        raise NotAFeed("not_a_feed", "an HTML page")
    root = parse_xml(body)
    name = local(root.tag)
    if name == "rss":
        return _rss_items(root, feed_url, "rss2")
    if name == "rdf":
        return _rss_items(root, feed_url, "rss1")
    if name == "feed":
        return _atom(root, feed_url)
    if name == "channel":  # bare channel, seen in the wild
        wrapper = etree.Element("rss")
        wrapper.append(root)
        return _rss_items(wrapper, feed_url, "rss2")
    raise NotAFeed("not_a_feed", f"root element <{name}>")


def looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lower()
    return b"<rss" in head or b"<rdf:rdf" in head or b"<feed" in head
