"""Write WARC.gz files of news pages for `mediawatch import` tests and the bench.

    python -m tests.make_warc tests/fixtures/articles.warc.gz          # the shipped fixture
    python -m tests.make_warc OUT --aeb 3000                           # aeb-dev pages, cycled to 3,000

The shipped fixture holds the pages of tests/fixtures/ (the DW seed article, the Arabic page),
twelve generated stories, one section page that is not an article, a 301 and a request record
(which an import skips without complaint).
"""

from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.harness.site_pages import story_words

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WARC_DATE = datetime(2020, 10, 12, 8, 0, tzinfo=timezone.utc)


def generated_story(n: int) -> str:
    paras = "\n".join(
        f"<p>Paragraph {i} of archived story {n}: the harbour board met about the {story_words(f'warc-{n}-{i}')} "
        f"near the northern pier, after a long debate about the cost of the works.</p>"
        for i in range(8))
    day = (WARC_DATE - timedelta(days=n % 5)).strftime("%Y-%m-%d")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Archived story {n}</title>"
            f"<meta property='article:published_time' content='{day}T07:00:00Z'></head>"
            f"<body><article><h1>Archived story {n}</h1>{paras}</article></body></html>")


def fixture_pages() -> list[tuple[str, bytes]]:
    pages = [("https://www.dw.com/en/lukashenko-hold-talks-with-jailed-rivals/a-55228510",
              (FIXTURES / "seed" / "dw-article.html").read_bytes()),
             ("https://www.aljazeera.net/news/2020/10/11/arabic-news",
              (FIXTURES / "pages" / "arabic-news.html").read_bytes())]
    pages += [(f"https://archive.example.org/news/story-{n}.html", generated_story(n).encode())
              for n in range(1, 13)]
    return pages


def aeb_pages(n: int) -> list[tuple[str, bytes]]:
    from tests.harness.site_pages import aeb_pages as load

    pages = load()
    out = []
    for i in range(n):
        html, url, _truth = pages[i % len(pages)]
        # each copy its own URL (its own document), as distinct articles of a crawl archive would be
        out.append((f"{url}{'&' if '?' in url else '?'}copy={i // len(pages)}" if i >= len(pages) else url,
                    html.encode("utf-8")))
    return out


def write_warc(out: Path, pages: list[tuple[str, bytes]], *, extras: bool = True) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        writer = WARCWriter(fh, gzip=str(out).endswith(".gz"))
        date = WARC_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
        for url, body in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http, warc_headers_dict={"WARC-Date": date}))
        if extras:
            section = b"<html><body><ul>" + b"".join(
                f"<li><a href='/news/story-{n}.html'>Story {n}</a></li>".encode() for n in range(1, 13)) + b"</ul></body></html>"
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record("https://archive.example.org/news/", "response",
                                                          payload=io.BytesIO(section), http_headers=http))
            http = StatusAndHeaders("301 Moved Permanently", [("Location", "https://archive.example.org/news/")],
                                    protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record("https://archive.example.org/old", "response",
                                                          payload=io.BytesIO(b""), http_headers=http))
            req = StatusAndHeaders("GET /news/ HTTP/1.1", [("Host", "archive.example.org")], is_http_request=True)
            writer.write_record(writer.create_warc_record("https://archive.example.org/news/", "request",
                                                          payload=io.BytesIO(b""), http_headers=req))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--aeb", type=int, default=0, help="this many aeb-dev pages instead of the fixture pages")
    args = p.parse_args()
    if args.aeb:
        write_warc(args.out, aeb_pages(args.aeb), extras=False)
    else:
        write_warc(args.out, fixture_pages())
    print(args.out, args.out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
