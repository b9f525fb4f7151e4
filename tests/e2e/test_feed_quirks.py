"""A feed as real publishers write them, through the real CLI: the broken entries are skipped
and counted, the others crawled and indexed under their canonical URLs."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.frontier import Frontier
from tests.harness.project import crawl_config, fast_crawl


def quirky_feed(site) -> bytes:
    a, b, c, d = site.newest()[:4]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:media="http://search.yahoo.com/mrss/" '
        f'xml:base="{site.base}/news/"><channel><title>Quirks</title>'
        # enclosure, podcast image and media title before the item's own link and title
        f'<item><atom:link rel="enclosure" href="{site.base}/static/a.mp3"/>'
        f'<itunes:link rel="image" href="{site.base}/static/logo.png"/><media:title>cover</media:title>'
        f"<title>{a.title}</title><link>{a.path.rsplit('/', 1)[1]}</link>"
        "<pubDate>Sat, 10 Oct 2020 16:05:00 MEST</pubDate></item>"
        # a bare & (not well-formed XML): the query survives, tracking parameters go
        f"<item><title>b</title><link>{site.url(b.path)}?utm_source=rss&id=2&x</link></item>"
        "<item><title>bad guid</title><guid>http://[::1</guid></item>"  # skipped inside the feed
        f"<item><title>bad port</title><link>http://127.0.0.1:{site.port}:x/news/z.html</link></item>"
        f"<item><title>c</title><guid>HTTP://{site.url(c.path).split('://', 1)[1]}</guid></item>"  # a permalink
        f"<item><title>d</title><link>{site.url(d.path)}</link></item>"
        "</channel></rss>"
    ).encode()


def test_quirky_feed_through_the_cli(project, fixture_site):
    site = fixture_site
    site.route("/feeds/quirky.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, quirky_feed(site)))
    project.write(crawl_config(project, site.source("quirks", feeds=[site.url("/feeds/quirky.xml")])))
    result = project.run("crawl", "quirks")
    assert result.returncode == 0, result.stderr[-3000:]
    # both broken entries are in the log, with the feed and the reason
    assert "feed_entries_skipped" in result.stderr and "'bad guid'): no http(s) link" in result.stderr
    assert "skipped:bad_url" in result.stderr and "Port could not be cast" in result.stderr

    a, b, c, d = site.newest()[:4]
    hits = site.article_hits()
    assert sorted(h.split("?")[0] for h in hits) == sorted(x.path for x in (a, b, c, d))
    # fetched by its canonical URL: the query kept whole, the tracking parameter gone
    assert f"{b.path}?id=2&x=" in hits
    assert not site.hits("/static/"), "an enclosure or podcast image was taken for the article"

    result = project.run("search", "*", "--json", "--all-copies", "--limit", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    urls = [json.loads(line)["url"] for line in result.stdout.splitlines()]
    assert sorted(u.split("?")[0] for u in urls) == sorted(site.url(x.path) for x in (a, b, c, d))
    assert not any("utm_" in u for u in urls)

    with Frontier(project.root / "data" / "crawl.sqlite3") as frontier:
        run = frontier.last_runs()["quirks"]
    assert run.counts == {"listing": 1, "new": 4, "skipped:bad_url": 1}, run.counts
    assert not run.failed


def test_extract_with_an_unparseable_url_is_a_usage_error(project, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>T</title></head><body><article><p>Text.</p></article></body></html>")
    project.write({"data_dir": str(project.root / "data")})
    result = project.run("extract", str(page), "--url", "http://[::1")
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Invalid IPv6 URL" in result.stderr and "Traceback" not in result.stderr


def test_import_skips_a_page_saved_from_an_unparseable_url(project, tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    seed = (Path(__file__).resolve().parents[1] / "fixtures" / "seed" / "dw-article.html").read_bytes()
    (saved / "good.html").write_bytes(b"<!-- saved from url=(0027)https://www.dw.com/en/a-55228510 -->\n" + seed)
    (saved / "bad.html").write_bytes(b"<!-- saved from url=(0011)http://[::1 -->\n" + seed)
    data = project.root / "data"
    project.write({"data_dir": str(data), "crawl": fast_crawl(data), "http": {"health_port": None},
                   "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")}})
    result = project.run("import", str(saved))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported 1 article(s) from 2 file(s)" in result.stdout, result.stdout
    assert "import_record_skipped" in result.stderr and "Invalid IPv6 URL" in result.stderr


def test_a_feed_behind_basic_auth_through_the_cli(project, fixture_site, fixture_site_factory):
    """``user:password@`` in a feed's URL: every request to that origin carries it, none to another one,
    and the password is in no log line, store or index."""
    site, other = fixture_site, fixture_site_factory(1, seed=False)
    password = "s3cr@t:pw"
    site.basic_auth = f"reader:{password}"
    a, b = site.newest()[:2]
    elsewhere = other.articles[0]
    feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Locked</title>'
            + "".join(f"<item><title>{x.title}</title><link>{site.url(x.path)}</link></item>" for x in (a, b))
            + f"<item><title>elsewhere</title><link>{other.url(elsewhere.path)}</link></item></channel></rss>")
    site.route("/feeds/locked.xml", lambda: (200, {"Content-Type": "application/rss+xml"}, feed.encode()))
    locked = site.url("/feeds/locked.xml").replace("://", "://reader:s3cr%40t%3Apw@", 1)
    # another port of 127.0.0.1 is a private address to the SSRF guard
    project.write(crawl_config(project, site.source("locked", feeds=[locked], allow_private_addresses=True)))
    result = project.run("crawl", "locked")
    assert result.returncode == 0, result.stderr[-3000:]

    assert sorted(site.article_hits()) == sorted(x.path for x in (a, b))
    assert all(h.headers.get("authorization", "").startswith("Basic ") for h in site.hits() if h.path != "/robots.txt")
    assert other.article_hits() == [elsewhere.path]
    assert not any("authorization" in h.headers for h in other.hits()), "the credentials went to another origin"

    result_search = project.run("search", "*", "--json", "--all-copies")
    urls = sorted(json.loads(line)["url"] for line in result_search.stdout.splitlines())
    assert urls == sorted([site.url(a.path), site.url(b.path), other.url(elsewhere.path)])
    check = project.run("config", "check")
    for text in (result.stderr, result.stdout, result_search.stdout, check.stdout, check.stderr):
        assert "s3cr" not in text
    for store in (project.root / "data").glob("*.sqlite3*"):
        assert b"s3cr" not in store.read_bytes(), store
