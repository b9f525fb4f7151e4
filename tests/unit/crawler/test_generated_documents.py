"""The feed and sitemap parsers on generated hostile documents, in-process: hundreds of examples a run,
where the CLI crawl of ``tests/faults/test_generated_inputs.py`` affords six. Whatever the bytes, a parser
returns or raises ``XMLError`` (the crawl's ``error:<reason>``), and each URL it gives is canonicalised or
refused as ``BadURL``: any other exception escapes into the spider's callback, which logs a traceback and
leaves the document incomplete."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st

from crawler.discovery.feeds import parse_feed
from crawler.discovery.sitemaps import parse_sitemap
from crawler.urls import BadURL, canonicalize
from crawler.xml import XMLError
from tests.harness.generated_documents import FEED_KINDS, document

BASE = "http://127.0.0.1:8080"
PATHS = ["/news/001-a.html", "/news/002-b.html"]
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

RSS = (b"<rss version='2.0'><channel><title>T</title><item><title>A</title><link>" + BASE.encode()
       + b"/news/001-a.html</link></item></channel></rss>")
URLSET = (b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>" + BASE.encode()
          + b"/news/002-b.html</loc></url></urlset>")


def _urls(kind: str, body: bytes) -> list[str]:
    if kind in FEED_KINDS:
        return [e.url for e in parse_feed(body, BASE + "/feed.xml").entries]
    return [e.loc for e in parse_sitemap(body, BASE + "/sitemap.xml").entries]


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW)
@given(document(BASE, PATHS))
def test_a_generated_document_is_read_or_refused_with_a_reason(doc):
    kind, body, _headers, _status = doc
    try:
        urls = _urls(kind, body)
    except XMLError as err:
        assert err.reason
        return
    for url in urls:
        try:
            canonicalize(url)
        except BadURL:
            pass


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.binary(max_size=24), st.sampled_from([b"undefined", b"UNDEFINED", b"idna", b"punycode",
                                                                b"rot13", b"base64", b"utf-16", b"x-bogus"])),
       kind=st.sampled_from(["rss2", "urlset"]))
def test_any_bytes_as_the_declared_encoding(name, kind):
    """feedparser raised ValueError on a NUL in the name, UnicodeDecodeError on stray bytes, UnicodeError on
    "undefined" (a codec that refuses every input)."""
    plain = RSS if kind == "rss2" else URLSET
    body = b"<?xml version='1.0' encoding='" + name + b"'?>\n" + plain
    try:
        urls = _urls(kind, body)
    except XMLError:
        return
    if re.fullmatch(rb"[A-Za-z][A-Za-z0-9._-]*", name) and name.lower() != b"undefined":
        return  # an encoding's name (XML's EncName): the document may be read under it
    assert urls == _urls(kind, plain)  # read as declaring no encoding: nothing of the document is lost
