"""Pages whose charset labels lie, crawled over real HTTP: the text comes out exact.

Each page is served from a fixture site on 127.0.0.1 in some byte encoding, under a header and a
``<meta>`` that may disagree with the bytes (as real servers do: a default ``ISO-8859-1``, a
``utf-8`` header on a windows-1251 page). The extracted body must hold the very sentences written.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from encodings.aliases import aliases as codec_aliases

import pytest
from hypothesis import given, settings, strategies as st

from crawler.decoding import decode_html
from crawler.runner import run_crawl_blocking
from crawler.sources import Source
from tests.harness.charset_pages import SENTENCES, page
from tests.harness.crawling import CollectingSink, fast_crawl_settings

pytestmark = pytest.mark.timeout(180)

ENCODINGS = {
    "latin": ["utf-8", "cp1252", "iso-8859-1"],
    "cyrillic": ["utf-8", "cp1251", "koi8-r"],
    "greek": ["utf-8", "iso-8859-7", "cp1253"],
    "japanese": ["utf-8", "shift_jis", "euc-jp"],
    "korean": ["utf-8", "euc-kr"],
    "chinese": ["utf-8", "gb18030"],
    "arabic": ["utf-8", "cp1256"],
}


def cases():
    """(script, byte encoding, header label): honest labels and the lies servers tell."""
    for script, encodings in ENCODINGS.items():
        for enc in encodings:
            yield script, enc, enc  # honest
            yield script, enc, "iso-8859-1"  # a server default over any bytes
            if enc != "utf-8":
                yield script, enc, "utf-8"  # utf-8 claimed; the <meta> is right
        yield script, "utf-8", "windows-1252"
        # labels that name a Python codec but no text encoding, or one that cannot replace: no label at all
        for bogus in ("rot13", "base64", "idna", "undefined", "punycode"):
            yield script, encodings[-1], bogus


CASES = list(cases())


@pytest.mark.parametrize("script,encoding,label", CASES)
def test_decoding_rules(script, encoding, label):
    decoded = decode_html(page(script, encoding), f"text/html; charset={label}")
    assert f"{SENTENCES[script]} (3)" in decoded.text, (decoded.encoding, decoded.why)


def test_a_crawl_of_lying_pages_gives_the_exact_text(fixture_site, tmp_path):
    site = fixture_site
    items = []
    for n, (script, encoding, label) in enumerate(CASES):
        path = f"/charset/{n}-{script}-{encoding}-as-{label}.html"
        body = page(script, encoding)
        site.route(path, lambda b=body, lab=label: (200, {"Content-Type": f"text/html; charset={lab}"}, b))
        items.append((path, script, encoding, label))
    now = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    rss = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link><pubDate>{now}</pubDate></item>"
                  for p, *_ in items)
    feed = f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>c</title>{rss}</channel></rss>"
    site.route("/charset/feed.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, feed.encode()))

    # a section page under such a label: its links are read (a traceback and no links before)
    listed = "/charset/listed.html"
    site.route(listed, lambda: (200, {"Content-Type": "text/html; charset=utf-8"}, page("latin", "utf-8")))
    section = f"<html><body><p>Latest</p><a href='{listed}'>A story</a></body></html>".encode()
    site.route("/charset/section/", lambda: (200, {"Content-Type": "text/html; charset=rot13"}, section))

    sink = CollectingSink()
    summaries = run_crawl_blocking(
        [Source(**site.source(feeds=[site.url("/charset/feed.xml")], discovery="all",
                              sections={"urls": [site.url("/charset/section/")]}))],
        fast_crawl_settings(tmp_path), sink)
    assert not summaries["fixture"].errors, summaries["fixture"]
    assert f"{SENTENCES['latin']} (3)" in next(a.text for a in sink.articles if a.url.endswith(listed))
    by_path = {a.url.rsplit("/", 1)[-1]: a for a in sink.articles}
    wrong = []
    for path, script, encoding, label in items:
        article = by_path.get(path.rsplit("/", 1)[-1])
        if article is None or f"{SENTENCES[script]} (3)" not in article.text:
            wrong.append((script, encoding, label, None if article is None else article.text[:80]))
    assert not wrong, wrong


CYRILLIC_TITLE = "Городской совет утвердил бюджет"


def test_a_feed_labelled_only_by_its_header_gives_exact_titles(fixture_site, tmp_path):
    """A windows-1251 feed and news sitemap with no XML declaration, the charset in the HTTP header only:
    parsed as UTF-8 they failed, then read as windows-1252 (mojibake). Their titles stand in for a page
    that has none."""
    site = fixture_site
    untitled = re.sub(rb"<title>.*?</title>|<h1>.*?</h1>", b"", page("cyrillic", "utf-8"))
    for name in ("from-feed", "from-sitemap"):
        site.route(f"/cp1251/{name}.html", lambda: (200, {"Content-Type": "text/html; charset=utf-8"}, untitled))
    feed = (f"<rss version='2.0'><channel><title>Новости</title><item><title>{CYRILLIC_TITLE}</title>"
            f"<link>{site.url('/cp1251/from-feed.html')}</link></item></channel></rss>").encode("cp1251")
    sitemap = ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
               "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'><url>"
               f"<loc>{site.url('/cp1251/from-sitemap.html')}</loc><news:news><news:title>{CYRILLIC_TITLE}"
               "</news:title></news:news></url></urlset>").encode("cp1251")
    site.route("/cp1251/feed.xml", lambda: (200, {"Content-Type": "application/rss+xml; charset=windows-1251"}, feed))
    site.route("/cp1251/news.xml", lambda: (200, {"Content-Type": "application/xml; charset=windows-1251"}, sitemap))

    sink = CollectingSink()
    run_crawl_blocking([Source(**site.source(feeds=[site.url("/cp1251/feed.xml")],
                                             sitemaps=[site.url("/cp1251/news.xml")], discovery="all"))],
                       fast_crawl_settings(tmp_path), sink)
    titles = {a.url.rsplit("/", 1)[-1]: a.title for a in sink.articles}
    assert titles == {"from-feed.html": CYRILLIC_TITLE, "from-sitemap.html": CYRILLIC_TITLE}, titles


# every codec Python has a name for, as a server or a <meta> could label a page with it
CODEC_NAMES = sorted(set(codec_aliases) | set(codec_aliases.values()))


@settings(max_examples=300, deadline=None)
@given(header=st.one_of(st.sampled_from(CODEC_NAMES), st.text(max_size=20)),
       meta=st.one_of(st.sampled_from(CODEC_NAMES), st.text(max_size=20)),
       body=st.binary(max_size=200), script=st.sampled_from(sorted(ENCODINGS)))
def test_any_label_on_any_bytes_decodes(header, meta, body, script):
    """A label naming no text encoding (rot13, base64, idna, undefined...) raised out of decode_html: the
    crawl's section pages logged a traceback, and its articles ended as errors."""
    page_bytes = f"<meta charset='{meta}'>".encode("utf-8", "replace") + body + page(script, "utf-8")
    decoded = decode_html(page_bytes, f"text/html; charset={header}")
    assert isinstance(decoded.text, str) and decoded.encoding
