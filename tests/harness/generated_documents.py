"""Hostile feeds and sitemaps for hypothesis: RSS 2.0, RSS 1.0/RDF, Atom, urlset, Google News and
sitemap index documents, then mangled (truncation, stray bytes, lying encodings, BOMs and UTF-16,
DOCTYPEs with entities, deep nesting, gzip, hostile links and dates), with a content type and a status.
Used whole by the CLI crawl of ``tests/faults/test_generated_inputs.py`` and in-process by the parsers'
property tests."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

from hypothesis import strategies as st

FEED_KINDS = ("rss2", "rdf", "atom")


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
dates = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc))
    .map(lambda d: format_datetime(d, usegmt=True)),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(lambda d: d.isoformat()),
    st.sampled_from(["", "yesterday", "2024-13-45T99:99:99Z", "Mon, 32 Foo 2024 25:61:00 +9999", "99999-01-01",
                     "-0001-01-01", "0", "1e308", "NaN"]),
    texts,
)


@st.composite
def links(draw, base: str, article_paths: list[str]) -> str:
    return draw(st.one_of(
        st.sampled_from([base + p for p in article_paths]),
        st.sampled_from(article_paths),  # relative
        st.builds(lambda n: f"{base}/missing/{n}.html", st.integers(0, 10**6)),
        st.sampled_from(["javascript:alert(1)", "mailto:x@example.org", "file:///etc/passwd", "data:text/html,<b>x",
                         "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/x", "http://10.0.0.1/a",
                         "http://xn--bcher-kva.example/\u00fc", "http:///nohost", "http://a b.example/",
                         "//evil.example/x", "http://127.0.0.1:1/\r\nX: y", ""]),
        st.builds(lambda n: base + "/news/" + "a" * n, st.integers(100, 5000)),
        texts,
    ))


@st.composite
def document(draw, base: str, article_paths: list[str]) -> tuple[str, bytes, dict[str, str], int]:
    kind = draw(st.sampled_from(["rss2", "rdf", "atom", "urlset", "news", "index"]))
    items = draw(st.lists(st.tuples(links(base, article_paths), texts, dates), max_size=8))
    raw_titles = draw(st.booleans())  # titles not escaped: markup inside markup
    t = (lambda s: s) if raw_titles else escape
    if kind == "rss2":
        body = "".join(f"<item><title>{t(ti)}</title><link>{escape(u)}</link><pubDate>{escape(d)}</pubDate></item>"
                       for u, ti, d in items)
        doc = f"<rss version='2.0'><channel><title>{t(draw(texts))}</title>{body}</channel></rss>"
    elif kind == "rdf":
        body = "".join(f"<item rdf:about='{escape(u)}'><title>{t(ti)}</title><link>{escape(u)}</link>"
                       f"<dc:date>{escape(d)}</dc:date></item>" for u, ti, d in items)
        doc = ("<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'"
               f" xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>x</title></channel>{body}</rdf:RDF>")
    elif kind == "atom":
        body = "".join(f"<entry><title>{t(ti)}</title><link href='{escape(u, {chr(39): '&apos;'})}'/>"
                       f"<updated>{escape(d)}</updated></entry>" for u, ti, d in items)
        doc = f"<feed xmlns='http://www.w3.org/2005/Atom' xml:base='{base}/'><title>x</title>{body}</feed>"
    elif kind in ("urlset", "news"):
        news = kind == "news"
        body = "".join(
            f"<url><loc>{escape(u)}</loc><lastmod>{escape(d)}</lastmod>"
            + (f"<news:news><news:publication_date>{escape(d)}</news:publication_date><news:title>{t(ti)}"
               "</news:title></news:news>" if news else "") + "</url>" for u, ti, d in items)
        doc = ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
               + (" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'" if news else "") + f">{body}</urlset>")
    else:
        body = "".join(f"<sitemap><loc>{escape(u)}</loc><lastmod>{escape(d)}</lastmod></sitemap>" for u, _ti, d in items)
        doc = f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{body}</sitemapindex>"
    encoding = draw(st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "utf-16", "windows-1251", "x-bogus", None]))
    decl = "" if encoding is None else f"<?xml version='1.0' encoding='{encoding}'?>\n"
    data = (decl + doc).encode("utf-8", errors="surrogatepass")

    for op in draw(st.lists(st.sampled_from(["truncate", "stray", "bom", "utf16", "doctype", "bomb", "nest", "nul",
                                             "dup_root", "latin1", "gzip"]), max_size=3)):
        if op == "truncate" and data:
            data = data[: draw(st.integers(0, len(data)))]
        elif op == "stray":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif op == "bom":
            data = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"])) + data
        elif op == "utf16":
            data = data.decode("utf-8", "replace").encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"])))
        elif op == "doctype":
            data = b"<!DOCTYPE rss SYSTEM 'http://127.0.0.1:1/evil.dtd'>" + data
        elif op == "bomb":
            depth = draw(st.integers(2, 9))
            ents = "".join(f'<!ENTITY e{i} "{("&e%d;" % (i - 1)) * 10}">' for i in range(1, depth))
            data = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e0 "lol">{ents}]>'.encode()
                    + data.replace(b"<title>", f"<title>&e{depth - 1};".encode(), 1))
        elif op == "nest":
            n = draw(st.integers(100, 20_000))
            data = data.replace(b"</title>", b"</title>" + b"<x>" * n + b"</x>" * n, 1)
        elif op == "nul":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + b"\x00" + data[at:]
        elif op == "dup_root":
            data = data + data
        elif op == "latin1":
            data = data.decode("utf-8", "replace").encode("latin-1", "replace")
        elif op == "gzip":
            data = gzip.compress(data, mtime=0)
    ctype = draw(st.sampled_from(["application/xml", "application/rss+xml; charset=utf-8", "text/xml; charset=latin1",
                                  "text/html", "application/octet-stream", "text/plain; charset=utf-16",
                                  "application/x-gzip", ""]))
    status = draw(st.sampled_from([200] * 8 + [500, 404, 410]))
    return kind, data, ({"Content-Type": ctype} if ctype else {}), status
