"""Adding a source from the daemon's Sources page, in Chromium, against a fixture site on 127.0.0.1: the probe
shows the feed and a test crawl, confirming writes the config as `sources add` does (comments kept), the
table lists the source and the running daemon crawls it, no restart. From the browser the homepage's host
is checked by the SSRF guard like any found URL, so a private address outside `crawl.allowed_networks`
is refused with nothing written."""

from __future__ import annotations

import queue
import re
import signal
import threading
import urllib.error
import urllib.request

import pytest
import yaml

from tests.e2e.browser import browser, page  # noqa: F401  (fixtures)
from tests.e2e.daemon_log import read_events, wait_event
from tests.harness.project import assert_kept
from tests.harness.site_pages import html_page, word_article

pytestmark = pytest.mark.timeout(300)

CONFIG = """\
# Our monitoring setup: a source added in the browser keeps these comments.
data_dir: {data}
index:
  sqlite_path: {data}/index.sqlite3
  spool_path: {data}/spool
  bulk_interval_s: 0.5
http: {{port: 0}}

crawl:
  state_path: {data}/crawl.sqlite3
  download_delay: 0        # the fixture site is local
  autothrottle: false
  download_timeout: 10
  concurrent_requests_per_host: 8
  allowed_networks: ['127.0.0.0/8']   # the fixture site; nothing else private

sources:
  # wire services first
  - name: existing
    feeds: ['http://127.0.0.1:9/feed.xml']   # nothing listens there
    enabled: false

rules: []   # none yet
"""


def test_a_source_added_in_the_browser_is_written_and_crawled(project, fixture_site, page, tmp_path):
    site, data = fixture_site, project.root / "data"
    title = 'Harbour news <img src=x onerror=alert(1)> "onerror=alert(2)'
    site.add_article(title=title, html=word_article(title, "lighthousekeeper"))
    site.route("/", lambda: html_page(
        "<link rel='alternate' type='application/rss+xml' title='All' href='/feeds/rss.xml'>"))
    site.disallow("/sitemap")
    original = CONFIG.format(data=data)
    project.config_path.write_text(original)
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        base = wait_event(events, seen, lambda e: e.get("event") == "web_listening", 60)["url"].rstrip("/")

        # a cross-site POST (no CSRF cookie and field) is refused before any probe
        request = urllib.request.Request(base + "/sources/add/probe", data=b"homepage=http%3A%2F%2F10.0.0.1%2F",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403

        page.goto(base + "/sources")
        page.click("#add-source")
        # a private address outside allowed_networks: the guard refuses it, nothing is written
        page.fill("#source-homepage", "http://10.0.0.1/")
        page.click("#probe")
        page.wait_for_selector("#probe-error", timeout=60_000)
        assert "private_address" in page.inner_text("#probe-error")
        assert page.locator("#confirm").count() == 0
        assert project.config_path.read_text() == original
        # the refusal's status (422) is the only thing the browser reported
        assert [t for t in page.troubles if "status of 422" not in t] == []
        page.troubles.clear()

        page.fill("#source-homepage", site.url("/"))
        page.fill("#source-name", "fixture-news")
        page.click("#probe")
        page.wait_for_selector("#probe-result", timeout=120_000)
        feed = page.locator("#found tr.feed")
        assert feed.count() == 1 and site.rss_url in feed.inner_text() and "rss2" in feed.inner_text()
        assert "<link rel=alternate>" in feed.inner_text()
        samples = page.locator("#sample tr.sample-article")
        assert samples.count() >= 1
        rows = [[c.strip() for c in samples.nth(i).inner_text().split("\t")] for i in range(samples.count())]
        # published, language, words, title (the fixture's pages are real articles: long, mostly English)
        assert all((re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", r[0]) or r[0] == "undated") and len(r[1]) == 2
                   and int(r[2]) > 50 and r[3] for r in rows), rows
        assert any(r[1] == "en" for r in rows), rows
        assert yaml.safe_load(page.inner_text("#proposal")) == [{"name": "fixture-news", "feeds": [site.rss_url]}]
        assert project.config_path.read_text() == original  # nothing written before the confirmation
        page.screenshot(path=str(tmp_path / "sources-add.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'sources-add.png'}")

        page.click("#confirm")
        page.wait_for_url("**/sources?added=fixture-news")
        assert page.locator("tr[data-source='fixture-news']").count() == 1
        written = project.config_path.read_text()
        assert_kept(original, written)
        assert yaml.safe_load(written)["sources"][1] == {"name": "fixture-news", "feeds": [site.rss_url]}

        # the daemon took it without a restart, and crawls it now
        wait_event(events, seen, lambda e: e.get("event") == "config_reloaded" and "fixture-news" in e.get("sources", []),
              30)
        before = {id(e) for e in seen}  # the probe's test crawl logged a crawl_summary of its own
        summary = wait_event(events, seen, lambda e: id(e) not in before and e.get("event") == "crawl_summary"
                        and e.get("source") == "fixture-news", 120)
        assert summary.get("articles", 0) >= 1 or summary.get("counts", {}).get("new", 0) >= 1, summary
        page.goto(base + "/sources")
        row = page.locator("tr[data-source='fixture-news']")
        assert "ok" in row.inner_text() and "never" not in row.inner_text()
        page.goto(base + "/?q=" + urllib.request.quote("onerror"))
        assert title in page.inner_text("main")  # the hostile title is text, not markup
        page.screenshot(path=str(tmp_path / "sources-added.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'sources-added.png'}")
        assert page.troubles == []
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except Exception:
            proc.kill()
            raise
    assert code == 0
