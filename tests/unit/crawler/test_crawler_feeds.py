"""crawler.discovery: feeds (RSS 2.0, RSS 1.0/RDF, Atom), sitemaps (index, urlset, gzip, news), dates."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import pytest

from crawler.dates import parse_date
from crawler.discovery.feeds import NotAFeed, parse_feed
from crawler.discovery.sitemaps import NotASitemap, parse_sitemap

UTC = timezone.utc


@pytest.mark.parametrize("value, expected", [
    ("Sat, 10 Oct 2020 14:05:00 GMT", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("Sat, 10 Oct 2020 16:05:00 +0200", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("Sat, 10 Oct 2020 10:05:00 EDT", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("2020-10-10T14:05:00Z", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("2020-10-10T16:05:00+02:00", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("2020-10-10T14:05:00.123+00:00", datetime(2020, 10, 10, 14, 5, 0, 123000, tzinfo=UTC)),
    ("2020-10-10", datetime(2020, 10, 10, tzinfo=UTC)),
    ("", None), ("yesterday", None), ("2020-13-45", None), (None, None),
])
def test_parse_date(value, expected):
    assert parse_date(value) == expected


RSS2 = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>/news/1.html</link><pubDate>Sat, 10 Oct 2020 14:05:00 GMT</pubDate></item>
<item><title>Two</title><guid isPermaLink="true">https://x.example/news/2.html</guid></item>
<item><title>Not a link</title><guid isPermaLink="false">abc-123</guid></item>
<item><title>FB</title><link>https://feeds.example/~r/x</link><feedburner:origLink xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">https://x.example/news/3.html</feedburner:origLink></item>
</channel></rss>"""


def test_rss2():
    feed = parse_feed(RSS2, "https://x.example/rss.xml")
    assert feed.kind == "rss2" and feed.title == "T"
    assert [e.url for e in feed.entries] == ["https://x.example/news/1.html", "https://x.example/news/2.html",
                                             "https://feeds.example/~r/x"]
    assert feed.entries[0].published == datetime(2020, 10, 10, 14, 5, tzinfo=UTC)
    assert feed.skipped == 1


@pytest.mark.parametrize("name", [b"\x00UTF-8", b"iso-8859-1\xff\x94", b"x-b\x08\x8dogus", b"\x00>", b"undefined", b""])
def test_an_encoding_feedparser_cannot_use_is_read_as_none(name):
    # feedparser raised (ValueError, UnicodeDecodeError, UnicodeError) on these: the crawl logged a traceback
    body = b"<?xml version='1.0' encoding='" + name + b"'?>\n" + RSS2.split(b"?>", 1)[1]
    feed = parse_feed(body, "https://x.example/rss.xml")
    assert [e.url for e in feed.entries] == [e.url for e in parse_feed(RSS2, "https://x.example/rss.xml").entries]
    sitemap = b"<?xml version='1.0' encoding='" + name + b"'?><urlset xmlns='http://www.sitemaps.org/schemas/" \
        b"sitemap/0.9'><url><loc>https://x.example/a</loc></url></urlset>"
    assert [e.loc for e in parse_sitemap(sitemap, "https://x.example/s.xml").entries] == ["https://x.example/a"]


RDF = b"""<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://x.example/"><title>R</title></channel>
<item rdf:about="https://x.example/a"><title>A</title><link>https://x.example/a</link><dc:date>2020-10-10T14:05:00Z</dc:date></item>
<item rdf:about="https://x.example/b"><title>B</title></item>
</rdf:RDF>"""


def test_rss1_rdf():
    feed = parse_feed(RDF, "https://x.example/rdf")
    assert feed.kind == "rss1"
    assert [e.url for e in feed.entries] == ["https://x.example/a", "https://x.example/b"]
    # dc:date says when the item last changed (feedparser's reading too): it is the entry's date
    assert feed.entries[0].date == datetime(2020, 10, 10, 14, 5, tzinfo=UTC)


ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://x.example/blog/">
<title>A</title>
<entry><title>E1</title><link rel="alternate" type="text/html" href="e1.html"/><link rel="enclosure" href="e1.mp3"/>
<id>tag:x,2020:1</id><published>2020-10-10T14:05:00Z</published><updated>2020-10-11T00:00:00Z</updated></entry>
<entry><title>E2</title><link href="https://other.example/e2"/><id>urn:uuid:2</id></entry>
<entry><title>E3</title><id>https://x.example/e3</id></entry>
</feed>"""


def test_atom():
    feed = parse_feed(ATOM, "https://x.example/atom.xml")
    assert feed.kind == "atom"
    assert [e.url for e in feed.entries] == ["https://x.example/blog/e1.html", "https://other.example/e2",
                                             "https://x.example/e3"]
    assert feed.entries[0].date == datetime(2020, 10, 11, tzinfo=UTC)


def test_not_a_feed():
    with pytest.raises(NotAFeed):
        parse_feed(b"<!DOCTYPE html><html><body>login</body></html>", "https://x.example/rss")
    with pytest.raises(NotAFeed):
        parse_feed(b"<urlset/>", "https://x.example/rss")


INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://x.example/s1.xml</loc><lastmod>2020-10-10</lastmod></sitemap>
<sitemap><loc>https://x.example/s2.xml.gz</loc></sitemap></sitemapindex>"""
NEWS = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://x.example/a</loc><news:news><news:publication><news:name>X</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2020-10-10T14:05:00+00:00</news:publication_date><news:title>Headline A</news:title></news:news></url>
<url><loc>https://x.example/b</loc><lastmod>2020-10-09T00:00:00Z</lastmod></url>
<url><loc>javascript:alert(1)</loc></url></urlset>"""


def test_sitemap_index():
    sm = parse_sitemap(INDEX, "https://x.example/sitemap.xml")
    assert sm.kind == "index"
    assert [(e.loc, e.lastmod) for e in sm.entries] == [
        ("https://x.example/s1.xml", datetime(2020, 10, 10, tzinfo=UTC)), ("https://x.example/s2.xml.gz", None)]


def test_news_sitemap_and_gzip():
    for body in (NEWS, gzip.compress(NEWS)):
        sm = parse_sitemap(body, "https://x.example/news.xml")
        assert sm.kind == "urlset" and sm.is_news and sm.skipped == 1
        a, b = sm.entries
        assert a.is_news and a.news_title == "Headline A" and a.date == datetime(2020, 10, 10, 14, 5, tzinfo=UTC)
        assert not b.is_news and b.date == datetime(2020, 10, 9, tzinfo=UTC)


def test_a_sitemap_past_the_protocols_limit_is_truncated_and_says_so():
    from crawler.discovery.sitemaps import MAX_ENTRIES

    urls = "".join(f"<url><loc>https://x.example/{i}</loc></url>" for i in range(MAX_ENTRIES + 2))
    sm = parse_sitemap(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
                       "https://x.example/sitemap.xml")
    assert sm.truncated and len(sm.entries) == MAX_ENTRIES and sm.entries[-1].loc == f"https://x.example/{MAX_ENTRIES - 1}"
    assert not parse_sitemap(NEWS, "https://x.example/news.xml").truncated


def test_not_a_sitemap():
    with pytest.raises(NotASitemap):
        parse_sitemap(RSS2, "https://x.example/sitemap.xml")


def test_the_headers_charset_counts_only_where_the_document_names_none():
    rss = "<rss version='2.0'><channel><title>Новости дня</title></channel></rss>"
    assert parse_feed(rss.encode("cp1251"), "https://x.example/rss.xml", "cp1251").title == "Новости дня"
    # valid UTF-8 is UTF-8, whatever the header says
    assert parse_feed(rss.encode("utf-8"), "https://x.example/rss.xml", "cp1251").title == "Новости дня"
    # the document's own declaration wins over a server's label
    declared = b"<?xml version='1.0' encoding='koi8-r'?>" + rss.encode("koi8-r")
    assert parse_feed(declared, "https://x.example/rss.xml", "cp1251").title == "Новости дня"
    # no header: as before, windows-1252 is the last guess
    assert parse_feed(rss.encode("cp1251"), "https://x.example/rss.xml").title != "Новости дня"


def test_titles_of_feed_items_and_news_sitemaps_are_one_line_without_control_characters():
    """They stand in for the title of a page without one, and `mediawatch search` prints titles to a
    terminal: an ESC from "&#27;" would drive it."""
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title><item><title>Talks &#27;[31m\n'
            b'  in Minsk\x07</title><link>https://ex.org/a</link></item></channel></rss>')
    assert parse_feed(feed, "https://ex.org/feed").entries[0].title == "Talks [31m in Minsk"
    sitemap = (b'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://ex.org/a</loc>'
               b'<news:news><news:title>Talks &#27;]0;x&#7; in Minsk</news:title></news:news></url></urlset>')
    assert parse_sitemap(sitemap, "https://ex.org/sitemap.xml").entries[0].news_title == "Talks ]0;x in Minsk"
