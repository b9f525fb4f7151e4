"""Pages whose charset labels lie, crawled over real HTTP: the text comes out exact.

Each page is served from a fixture site on 127.0.0.1 in some byte encoding, under a header and a
``<meta>`` that may disagree with the bytes (as real servers do: a default ``ISO-8859-1``, a
``utf-8`` header on a windows-1251 page). The extracted body must hold the very sentences written.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

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

    sink = CollectingSink()
    run_crawl_blocking([Source(**site.source(feeds=[site.url("/charset/feed.xml")]))],
                       fast_crawl_settings(tmp_path), sink)
    by_path = {a.url.rsplit("/", 1)[-1]: a for a in sink.articles}
    wrong = []
    for path, script, encoding, label in items:
        article = by_path.get(path.rsplit("/", 1)[-1])
        if article is None or f"{SENTENCES[script]} (3)" not in article.text:
            wrong.append((script, encoding, label, None if article is None else article.text[:80]))
    assert not wrong, wrong
