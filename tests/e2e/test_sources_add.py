"""`mediawatch sources add HOMEPAGE` through the real CLI against fixture sites on 127.0.0.1:
a homepage naming its feed with <link rel=alternate>, one whose robots.txt names its sitemap,
one with neither (the homepage becomes a section page); broken homepages write nothing; the
written file keeps its comments and passes `config check`; a running daemon crawls the source it
wrote; and a crawl of a source listing no feed or sitemap reads the Sitemap: lines of robots.txt."""

from __future__ import annotations

import json
import queue
import signal
import threading

import pytest
import yaml

from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.faults import refusing_port
from tests.harness.project import assert_kept
from tests.harness.site_pages import html_page
from tests.harness.sites import fixture_site  # noqa: F401

pytestmark = pytest.mark.timeout(240)

CONFIG = """\
# Our monitoring setup: these comments must survive `sources add`.
data_dir: {data}

crawl:
  state_path: {data}/crawl.sqlite3
  download_delay: 0        # the fixture site is local
  autothrottle: false
  download_timeout: 10
  concurrent_requests_per_host: 8

sources:
  # wire services first
  - name: existing
    feeds: ['http://127.0.0.1:9/feed.xml']   # nothing listens there; never crawled here
    schedule: {{every: 1h}}

rules: []   # none yet
"""


def setup(project) -> str:
    text = CONFIG.format(data=project.root / "data")
    project.config_path.write_text(text)
    return text


def written_source(project, name: str) -> dict:
    data = yaml.safe_load(project.config_path.read_text())
    return next(s for s in data["sources"] if s["name"] == name)


def test_feed_named_by_link_rel_alternate(project, fixture_site):  # noqa: F811
    site = fixture_site
    head = (f"<link rel='alternate' type='application/rss+xml' title='All' href='/feeds/rss.xml'>"
            # another name for the same server: third-party-looking, so the SSRF guard resolves it
            f"<link rel='alternate' type='application/atom+xml' href='http://localhost:{site.port}/feeds/atom.xml'>")
    site.route("/", lambda: html_page(head))
    site.disallow("/sitemap")
    original = setup(project)
    result = project.run("sources", "add", site.url("/"), "--name", "fixture-news", "--yes", "--articles", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"feed      {site.rss_url}  rss2, {len(site.articles)} entries" in out
    assert "found by <link rel=alternate>" in out
    assert f"http://localhost:{site.port}/feeds/atom.xml  skipped:private_address" in out
    assert f"{site.url('/sitemap.xml')}  skipped:robots" in out
    assert not site.hits("/sitemap"), "robots.txt disallows them: never requested"
    assert "test crawl: 3 article(s)" in out and "new per day: ~" in out
    shown = [line.strip() for line in out.splitlines() if line.strip().startswith(site.url("/news/"))]
    assert len(shown) == 3 and set(shown) <= {site.url(a.path) for a in site.articles}
    assert sum(" words  " in line for line in out.splitlines()) == 3

    new = project.config_path.read_text()
    assert_kept(original, new)
    assert written_source(project, "fixture-news") == {"name": "fixture-news", "feeds": [site.rss_url]}
    check = project.run("config", "check")
    assert check.returncode == 0, check.stderr
    assert "config ok: 2 source(s)" in check.stderr
    # the test crawl is a dry run: neither the index nor the crawl state was touched
    assert not (project.root / "data").exists()
    # the same site again, under another name: its feed is read already, so nothing is written
    again = project.run("sources", "add", site.url("/"), "--name", "twice", "--yes", "--articles", "3")
    assert again.returncode == 1 and "test crawl" not in again.stdout
    assert f"mediawatch: {site.rss_url} is watched by source fixture-news already; nothing written" in again.stderr
    assert project.config_path.read_text() == new


def test_sitemap_named_by_robots_txt(project, fixture_site):  # noqa: F811
    site = fixture_site
    site.route("/", lambda: html_page(body="<h1>Welcome</h1>"))
    site.robots_sitemaps = ["/sitemaps/news.xml"]
    original = setup(project)
    result = project.run("sources", "add", site.url("/"), "--name", "robots-only", "--articles", "2",
                         input_text="y\n")
    assert result.returncode == 0, result.stderr
    assert f"sitemap   {site.news_sitemap_url}  urlset, news, {len(site.articles)} URLs" in result.stdout
    assert "found by robots.txt" in result.stdout and "feed      " not in result.stdout
    assert "Add it to" in result.stderr
    assert written_source(project, "robots-only") == {"name": "robots-only", "sitemaps": [site.news_sitemap_url]}
    assert_kept(original, project.config_path.read_text())
    assert project.run("config", "check").returncode == 0


def test_feed_at_a_usual_path_written_under_its_final_address(project, fixture_site):  # noqa: F811
    site = fixture_site
    site.route("/", lambda: html_page(body="<h1>Welcome</h1>"))
    site.route("/rss", lambda: (301, {"Location": "/feeds/rss.xml"}, b""))
    setup(project)
    result = project.run("sources", "add", site.url("/"), "--name", "usual", "--yes", "--articles", "1")
    assert result.returncode == 0, result.stderr
    assert f"feed      {site.rss_url}  rss2" in result.stdout and "found by usual path" in result.stdout
    assert f"{site.url('/feed')}  HTTP 404" in result.stdout  # tried first
    assert not site.hits("/rss.xml"), "the first usual path that parses ends the search"
    assert written_source(project, "usual")["feeds"] == [site.rss_url]


def test_neither_makes_the_homepage_a_section_page(project, fixture_site):  # noqa: F811
    site = fixture_site
    links = "".join(f"<li><a href='{a.path}'>{a.title}</a></li>" for a in site.newest())
    site.route("/", lambda: html_page(body=f"<ul>{links}</ul>"))
    site.route("/sitemap_index.xml", lambda: (404, {"Content-Type": "text/html"}, b"not here"))
    setup(project)
    result = project.run("sources", "add", site.url("/"), "--name", "plain", "--yes", "--articles", "2")
    assert result.returncode == 0, result.stderr
    assert f"section   {site.url('/')}" in result.stdout
    assert "test crawl: 2 article(s)" in result.stdout
    assert written_source(project, "plain") == {"name": "plain", "sections": {"urls": [site.url("/")]}}
    assert project.run("config", "check").returncode == 0


def test_not_confirmed_writes_nothing(project, fixture_site):  # noqa: F811
    site = fixture_site
    site.route("/", lambda: html_page("<link rel='alternate' type='application/rss+xml' href='/feeds/rss.xml'>"))
    original = setup(project)
    result = project.run("sources", "add", site.url("/"), "--articles", "1", input_text="n\n")
    assert result.returncode == 0, result.stderr
    assert f"- name: 127.0.0.1-{site.port}" in result.stdout  # the name a host gives
    assert "not written" in result.stdout
    assert project.config_path.read_text() == original


@pytest.mark.parametrize("case", ["http_500", "not_html", "refused"])
def test_broken_homepage_is_a_clear_error_and_writes_nothing(project, fixture_site, case):  # noqa: F811
    site = fixture_site
    with refusing_port() as refused:
        if case == "http_500":
            site.route("/", lambda: (500, {"Content-Type": "text/html"}, b"<h1>oops</h1>"))
            url, message = site.url("/"), "answered HTTP 500"
        elif case == "not_html":
            site.route("/", lambda: (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"\0" * 64))
            url, message = site.url("/"), "is not an HTML page (Content-Type: image/png)"
        else:
            url, message = f"http://127.0.0.1:{refused}/", "connection refused"
        original = setup(project)
        result = project.run("sources", "add", url, "--name", "broken", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "nothing written" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.config_path.read_text() == original


def test_usage_errors_exit_2(project):
    original = setup(project)
    taken = project.run("sources", "add", "http://127.0.0.1:9/", "--name", "existing")
    assert taken.returncode == 2 and "exists already" in taken.stderr
    scheme = project.run("sources", "add", "ftp://example.org/")
    assert scheme.returncode == 2 and "not an http(s) URL" in scheme.stderr
    for url, said in (("http://[::1", "Invalid IPv6 URL"), ("http://example.org:99999/", "out of range"),
                      ("http://", "not an http(s) URL")):
        broken = project.run("sources", "add", url)
        assert broken.returncode == 2 and said in broken.stderr and "Traceback" not in broken.stderr, broken.stderr
    assert project.config_path.read_text() == original


def test_crawl_of_a_sections_only_source_reads_robots_sitemaps(project, fixture_site):  # noqa: F811
    site = fixture_site
    site.robots_sitemaps = ["/sitemaps/news.xml"]
    setup(project)
    text = project.config_path.read_text().replace("rules: []", (
        "  - name: sections-only\n"
        f"    sections: {{urls: ['{site.section_url}']}}\n\n"
        "rules: []"))
    project.config_path.write_text(text)
    result = project.run("crawl", "sections-only")
    assert result.returncode == 0, result.stderr
    # the section page alone (depth 1) reaches two thirds of them; the sitemap names every one
    assert sorted(set(site.article_hits())) == sorted(a.path for a in site.articles)
    assert [h.path for h in site.hits("/sitemaps/")] == ["/sitemaps/news.xml"]
    assert not site.hits("/section/")
    row = next(line for line in result.stdout.splitlines() if line.startswith("sections-only"))
    assert row.split()[1] == str(len(site.articles))


def test_the_running_daemon_crawls_a_source_sources_add_wrote(project, fixture_site):  # noqa: F811
    site = fixture_site
    site.route("/", lambda: html_page("<link rel='alternate' type='application/rss+xml' href='/feeds/rss.xml'>"))
    setup(project)
    text = project.config_path.read_text().replace("sources:\n", "http: {health_port: 0}\n\nsources:\n")
    project.config_path.write_text(text)
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        wait_for(events, seen, lambda s: any(e.get("event") == "crawl_summary" for e in s), 90)  # "existing"
        added = project.run("sources", "add", site.url("/"), "--name", "added", "--yes", "--articles", "2")
        assert added.returncode == 0, added.stderr
        wait_for(events, seen, lambda s: any(e.get("event") == "crawl_summary" and e.get("source") == "added"
                                             for e in s), 90)
        assert any(e.get("event") == "config_reloaded" and "added" in e.get("sources", []) for e in seen)
        summary = next(e for e in seen if e.get("event") == "crawl_summary" and e.get("source") == "added")
        # the test crawl left the daemon's crawl state alone: every article is new to the daemon
        assert summary["articles"] == len(site.articles), summary
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
    result = project.run("search", "*", "--json", "--limit", "100", "--source", "added")
    assert result.returncode == 0, result.stderr[-2000:]
    found = {json.loads(line)["url"] for line in result.stdout.splitlines()}
    assert found == {site.url(a.path) for a in site.articles}
