"""crawler.discovery.feeds on feedparser: the cases our hand-written parser got wrong, the XML
guard in front of feedparser, and agreement with feedparser's own reading of generated feeds."""

from __future__ import annotations

import calendar
import gzip
import io
import pickle
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from urllib.request import urlopen
from xml.sax.saxutils import escape, quoteattr

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.discovery.feeds import NotAFeed, parse_feed
from crawler.xml import XMLBroken, XMLRefused
from tests.harness.httpserver import HarnessHTTPServer

UTC = timezone.utc
NS = ('xmlns:atom="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
      'xmlns:media="http://search.yahoo.com/mrss/"')


def rss(items: str, rss_attrs: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {NS} {rss_attrs}><channel><title>T</title>'
            f"{items}</channel></rss>").encode()


def test_one_bad_entry_is_skipped_and_the_rest_kept():
    feed = parse_feed(rss(
        "<item><title>bad guid</title><guid>http://[::1</guid></item>"
        "<item><title>bad link</title><link>http://[::1</link></item>"
        "<item><title>good</title><link>https://x.example/good</link></item>"), "https://x.example/rss")
    assert [e.url for e in feed.entries] == ["https://x.example/good"]
    assert feed.skipped == 2  # feedparser already dropped these links while resolving them
    assert feed.problems == ["entry 0 ('bad guid'): no http(s) link", "entry 1 ('bad link'): no http(s) link"]
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            b"<entry><title>bad id</title><id>http://[::1</id></entry>"
            b'<entry><title>good</title><id>tag:x,1</id><link href="https://x.example/good"/></entry></feed>')
    feed = parse_feed(atom, "https://x.example/atom")
    assert [e.url for e in feed.entries] == ["https://x.example/good"]
    assert feed.problems == ["entry 0 ('bad id'): no http(s) link"]


def test_errors_cross_the_worker_pool_intact():
    """The spider parses feeds in its process pool: the reason must survive pickling."""
    for err in (XMLRefused("xml_entities", "refused"), NotAFeed("not_a_feed", "root element <urlset>")):
        back = pickle.loads(pickle.dumps(err))
        assert (type(back), back.reason, back.detail) == (type(err), err.reason, err.detail)


def test_bare_ampersand_in_link_keeps_the_url():
    feed = parse_feed(rss("<item><title>a</title><link>https://x.example/a?a=1&b=2&c</link></item>"),
                      "https://x.example/rss")
    assert [e.url for e in feed.entries] == ["https://x.example/a?a=1&b=2&c"]


def test_namespaced_children_are_not_the_link_or_title():
    feed = parse_feed(rss(
        '<item><itunes:link rel="image" href="https://x.example/cover.jpg"/>'
        '<atom:link rel="enclosure" href="https://x.example/a.mp3"/><media:title>Media</media:title>'
        "<title>Article one</title><link>https://x.example/1</link></item>"
        "<item><title>Article two</title><media:title>Media</media:title>"
        '<atom:link rel="enclosure" href="https://x.example/b.mp3"/><link>https://x.example/2</link></item>'),
        "https://x.example/rss")
    assert [(e.url, e.title) for e in feed.entries] == [("https://x.example/1", "Article one"),
                                                         ("https://x.example/2", "Article two")]


def test_xml_base_on_rss_and_on_an_atom_link():
    feed = parse_feed(rss("<item><title>a</title><link>news/1.html</link></item>",
                          'xml:base="https://base.example/section/"'), "https://x.example/rss")
    assert [e.url for e in feed.entries] == ["https://base.example/section/news/1.html"]
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://x.example/blog/"><title>A</title>'
            b'<entry><title>e</title><id>tag:x,1</id>'
            b'<link rel="alternate" href="e1.html" xml:base="https://cdn.example/posts/"/></entry>'
            b'<entry><title>f</title><id>tag:x,2</id><link href="f.html"/></entry></feed>')
    feed = parse_feed(atom, "https://x.example/atom.xml")
    assert [e.url for e in feed.entries] == ["https://cdn.example/posts/e1.html", "https://x.example/blog/f.html"]


def test_upper_case_scheme_in_an_id_is_a_url():
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            b"<entry><title>e</title><id>HTTP://X.example/e3</id></entry></feed>")
    feed = parse_feed(atom, "https://x.example/atom.xml")
    assert [e.url for e in feed.entries] == ["HTTP://X.example/e3"]


def test_feed_dates_keep_their_zone():
    feed = parse_feed(rss("<item><title>a</title><link>https://x.example/a</link>"
                          "<pubDate>Sat, 10 Oct 2020 16:05:00 MEST</pubDate></item>"), "https://x.example/rss")
    assert feed.entries[0].published == datetime(2020, 10, 10, 14, 5, tzinfo=UTC)
    assert feed.entries[0].updated is None  # feedparser's updated->published fallback is not a date of ours


def test_guard_runs_before_feedparser():
    xxe = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<rss version="2.0"><channel><title>&x;</title></channel></rss>')
    with pytest.raises(XMLRefused):
        parse_feed(xxe, "https://x.example/rss")
    with pytest.raises(XMLRefused):
        parse_feed(gzip.compress(b"<rss>" + b" " * (51 * 1024 * 1024) + b"</rss>"), "https://x.example/rss")


def test_feedparser_fetches_nothing_a_feed_points_at():
    """An external DTD, an xml-stylesheet and links to a live server on 127.0.0.1: no request."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "pwned">')

        def log_message(self, *args):
            pass

    server = HarnessHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        body = (f'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="{base}/style.xsl"?>'
                f'<!DOCTYPE rss SYSTEM "{base}/rss.dtd"><rss version="2.0"><channel><title>t</title>'
                f"<item><title>a</title><link>{base}/a</link></item></channel></rss>").encode()
        feed = parse_feed(body, f"{base}/rss.xml")
        assert [e.url for e in feed.entries] == [f"{base}/a"]
        # the server is live (it answers the probe), and a fetch by the parser, being synchronous,
        # would have been logged before parse_feed returned
        with urlopen(f"{base}/probe", timeout=5) as probe:
            probe.read()
        assert hits == ["/probe"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_body_that_names_a_file_is_not_opened(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(rss("<item><link>https://x.example/secret</link></item>"))
    with pytest.raises(XMLBroken):
        parse_feed(str(path).encode(), "https://x.example/rss")


def test_gzip_feed_and_non_feeds():
    body = rss("<item><title>a</title><link>https://x.example/a</link></item>")
    assert [e.url for e in parse_feed(gzip.compress(body), "https://x.example/rss").entries] == ["https://x.example/a"]
    with pytest.raises(NotAFeed):
        parse_feed(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/'
                   b"</loc></url></urlset>", "https://x.example/rss")
    with pytest.raises(XMLBroken) as err:
        parse_feed(bytes(range(256)) * 20, "https://x.example/rss")
    assert err.value.reason == "xml_malformed"


# -- generated feeds: our entries are feedparser's entries --------------------------------------
_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=12)
_paths = st.lists(_segment, min_size=1, max_size=4).map("/".join)
_queries = st.lists(st.tuples(_segment, _segment), max_size=3).map(lambda q: "&".join(f"{k}={v}" for k, v in q))
# Characters XML allows: no surrogates, no controls, not the noncharacters U+FFFE and U+FFFF (a feed holding
# one is not well-formed, and the comparison is of two parsers reading a well-formed one)
_titles = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                  min_size=1, max_size=40).map(lambda t: " ".join(t.split())).filter(bool)
_when = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0))
_zone = st.integers(min_value=-12, max_value=14).map(lambda h: timezone(timedelta(hours=h)))
_item = st.fixed_dictionaries({"path": _paths, "query": _queries, "title": _titles, "when": _when, "zone": _zone,
                               "relative": st.booleans()})


def _url(item: dict, base: str) -> str:
    url = item["path"] + (f"?{item['query']}" if item["query"] else "")
    return url if item["relative"] else base + url


def _rss_doc(items: list[dict]) -> bytes:
    body = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(_url(i, 'https://x.example/'))}</link>"
        f"<pubDate>{format_datetime(i['when'].replace(tzinfo=i['zone']))}</pubDate></item>" for i in items)
    return rss(body, 'xml:base="https://x.example/"')


def _atom_doc(items: list[dict]) -> bytes:
    body = "".join(
        f"<entry><title>{escape(i['title'])}</title><id>tag:x.example,2020:{n}</id>"
        f'<link rel="enclosure" href="https://cdn.example/{n}.mp3"/>'
        f"<link rel=\"alternate\" href={quoteattr(_url(i, 'https://x.example/'))}/>"
        f"<updated>{i['when'].replace(tzinfo=i['zone']).isoformat()}</updated></entry>" for n, i in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xml:base="https://x.example/"><title>A</title>{body}</feed>').encode()


def _same_as_feedparser(body: bytes, date_key: str) -> None:
    ours = parse_feed(body, "https://x.example/feed")
    theirs = feedparser.parse(io.BytesIO(body), response_headers={"content-location": "https://x.example/feed",
                                                                  "content-type": "application/xml"})
    assert not theirs.bozo, theirs.get("bozo_exception")
    assert [(e.url, e.title) for e in ours.entries] == [(e.link, e.title) for e in theirs.entries]
    ours_dates = [getattr(e, date_key) for e in ours.entries]
    theirs_dates = [datetime.fromtimestamp(calendar.timegm(e[f"{date_key}_parsed"]), UTC) for e in theirs.entries]
    assert ours_dates == theirs_dates


@settings(max_examples=60, deadline=None)
@given(st.lists(_item, min_size=1, max_size=5))
def test_generated_rss_matches_feedparser(items):
    _same_as_feedparser(_rss_doc(items), "published")


@settings(max_examples=60, deadline=None)
@given(st.lists(_item, min_size=1, max_size=5))
def test_generated_atom_matches_feedparser(items):
    _same_as_feedparser(_atom_doc(items), "updated")
