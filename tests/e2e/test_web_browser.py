"""The web app in a real headless Chromium (Debian's, driven by Playwright), over HTTP on 127.0.0.1, on an
index a real crawl of a fixture site filled through the CLI, once per backend: search, chart, article,
a hostile title, a rule made with a preview. Screenshots of each page land in the test's tmp dir."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
import yaml

from tests.e2e.browser import browser, page  # noqa: F401  (fixtures)
from tests.e2e.daemon_log import read_events
from tests.harness.project import WARC, Project, fast_crawl
from tests.harness.sites import FixtureSite

HOSTILE = '<script>alert("xss")</script> "onerror=alert(2) <img src=x onerror=alert(3)>'
WORD = "harbourmaster"


def _plain_page(title: str, n: int) -> str:
    """An article page with no date of its own: its effective date is when it was indexed (today)."""
    paras = "".join(
        f"<p>Paragraph {i} of report {n}: the {WORD} of pier {n * 7 + i} logged {n + i} ferries, "
        f"{['storms', 'cranes', 'tugboats', 'pilots', 'fishermen'][n % 5]} and a budget of {n + i} million crowns.</p>"
        for i in range(8))
    from html import escape

    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body><article><h1>{escape(title)}</h1>{paras}</article></body></html>")


def wait_event(events: queue.Queue, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.5)
        except queue.Empty:
            continue
        if event.get("event") == name:
            return event
    raise AssertionError(f"no {name} event within {timeout}s")


class Served:
    def __init__(self, project: Project, site: FixtureSite, base: str, rules_dir: Path, shots: Path) -> None:
        self.project, self.site, self.base, self.rules_dir, self.shots = project, site, base, rules_dir, shots

    def cli_hits(self, *args: str) -> list[dict]:
        result = self.project.run("search", *args, "--json", "--limit", "1000")
        assert result.returncode == 0, result.stderr[-2000:]
        return [json.loads(line) for line in result.stdout.splitlines()]

    def shot(self, page, name: str) -> None:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")


@pytest.fixture(scope="module", params=["sqlite", "elasticsearch"])
def served(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"web-{request.param}")
    project = Project(root)
    index = {"sqlite_path": str(root / "data" / "index.sqlite3"), "spool_path": str(root / "data" / "spool")}
    if request.param == "elasticsearch":
        index.update(url=request.getfixturevalue("es_url"), prefix=f"mw-web-{uuid.uuid4().hex[:8]}")
    site = FixtureSite(6)
    for n in range(3):
        site.add_article(title=f"Harbour report {n}", html=_plain_page(f"Harbour report {n}", n))
    site.add_article(title=HOSTILE, html=_plain_page(HOSTILE, 3))
    rules_dir = root / "rules"
    project.write({
        "data_dir": str(root / "data"), "index": index,
        "mail": {"ledger_path": str(root / "data" / "alerts.sqlite3"), "outbox": str(root / "data" / "outbox")},
        "crawl": fast_crawl(root / "data"), "http": {"port": 0},
        "sources": [site.source("fixture")], "rules_dir": str(rules_dir),
        "rules": [{"name": "lukashenko", "query": "Lukashenko AND (prison OR jail)", "recipients": ["a@example.org"]}],
    })
    result = project.run("crawl", "fixture")
    assert result.returncode == 0, result.stderr[-3000:]
    # and articles of sources the config does not name: an import's, by host
    result = project.run("import", str(WARC))
    assert result.returncode == 0, result.stderr[-3000:]
    proc = project.popen("web", "--port", "0")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    try:
        url = wait_event(events, "web_listening", 60)["url"]
        shots = root / "screenshots"
        shots.mkdir()
        yield Served(project, site, url.rstrip("/"), rules_dir, shots)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except Exception:
            proc.kill()
        site.stop()


def test_search_shows_the_right_results(served, page):
    page.goto(served.base + "/")
    page.fill("#q", "Lukashenko AND jail*")
    page.press("#q", "Enter")
    page.wait_for_selector("#total")
    expected = served.cli_hits("Lukashenko AND jail*")
    assert expected, "the seed article should match"
    # the total counts articles; the list shows a story once (the seed and the import's copy of it)
    assert int(page.inner_text("#total")) == len(served.cli_hits("Lukashenko AND jail*", "--all-copies")) == 2
    titles = page.locator(".hit .title").all_inner_texts()
    assert titles == [h["title"] for h in expected][:20]
    assert page.locator(".hit .snippet mark").count() >= 1  # the highlighter marked the words
    served.shot(page, "search")
    assert page.troubles == []

    page.fill("#q", "Lukashenko AND (")
    page.press("#q", "Enter")
    page.wait_for_selector("#query-error")
    caret = page.inner_text("#query-error pre")
    assert caret.splitlines()[-1].index("^") == len("Lukashenko AND (")
    served.shot(page, "search-error")


def test_the_source_filter_offers_every_source_in_the_index(served, page):
    page.goto(served.base + "/")
    options = page.locator("select[name=source] option").all_inner_texts()
    assert options == sorted({"fixture", *(h["source"] for h in served.cli_hits("*", "--all-copies"))}), options
    assert {"archive.example.org", "www.dw.com"} <= set(options)
    page.fill("#q", "*")
    page.select_option("select[name=source]", ["www.dw.com"])
    page.press("#q", "Enter")
    page.wait_for_selector("#total")
    assert int(page.inner_text("#total")) == len(served.cli_hits("*", "--source", "www.dw.com")) == 1
    assert page.locator("select[name=source] option:checked").all_inner_texts() == ["www.dw.com"]
    assert page.troubles == []


def test_chart_has_one_bar_group_per_day_with_the_right_totals(served, page):
    page.goto(served.base + "/?q=*")
    page.wait_for_selector("svg#coverage")
    hits = served.cli_hits("*")
    per_day = Counter((h["published_at"] or h["indexed_at"])[:10] for h in hits)
    last = date.fromisoformat(max(per_day))
    first = max(date.fromisoformat(min(per_day)), last - timedelta(days=399))
    groups = page.locator("svg#coverage g.day")
    assert groups.count() == (last - first).days + 1
    drawn = {g.get_attribute("data-day"): int(g.get_attribute("data-total")) for g in groups.all()}
    want = {d: n for d, n in per_day.items() if date.fromisoformat(d) >= first}
    assert {d: n for d, n in drawn.items() if n} == want
    today = datetime.now(timezone.utc).date().isoformat()
    assert drawn[today] >= 4  # the undated harbour reports and the hostile one: indexed today
    served.shot(page, "chart")

    # A short range is drawn per hour: the four reports published today, in the hours they were.
    page.goto(served.base + f"/?q={WORD}&since={today}&until={today}")
    hours = {g.get_attribute("data-day"): int(g.get_attribute("data-total"))
             for g in page.locator("svg#coverage g.day").all()}
    want_hours = Counter((h["published_at"] or h["indexed_at"])[:13] for h in served.cli_hits(WORD, "--since", today))
    assert {k: n for k, n in hours.items() if n} == dict(want_hours) and sum(want_hours.values()) == 4
    served.shot(page, "chart-hourly")


def test_open_an_article(served, page):
    page.goto(served.base + f"/?q={WORD}")
    first = page.locator(".hit .title").first
    title = first.inner_text()
    first.click()
    page.wait_for_selector("#title")
    assert page.inner_text("#title") == title
    href = page.get_attribute("#original", "href")
    assert href.startswith(served.site.base + "/news/")
    assert WORD in page.inner_text(".text")
    served.shot(page, "article")
    assert page.troubles == []


def test_hostile_title_renders_as_text(served, page):
    page.goto(served.base + "/?q=" + "title:onerror")
    page.wait_for_selector(".hit .title")
    assert page.locator(".hit .title").first.inner_text() == HOSTILE
    assert page.locator(".hit script, .hit img").count() == 0
    page.locator(".hit .title").first.click()
    page.wait_for_selector("#title")
    assert page.inner_text("#title") == HOSTILE
    assert page.locator("main script, main img").count() == 0
    served.shot(page, "hostile")
    assert page.troubles == []


def test_create_a_rule_with_a_preview(served, page):
    # a form with two mistakes names both
    page.goto(served.base + "/rules/new")
    page.fill("#rule-name", "harbour-watch")
    page.fill("#rule-query", WORD + " AND (")
    page.fill("#rule-recipients", "nobody")
    page.click("#save")
    page.wait_for_selector("#rule-error")
    error = page.inner_text("#rule-error")
    assert "query: invalid query" in error and "recipients: not an email address: 'nobody'" in error, error
    assert not (served.rules_dir / "harbour-watch.yaml").exists()
    assert page.troubles == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.troubles.clear()

    page.goto(served.base + "/rules")
    page.click("#new-rule")
    page.fill("#rule-name", "harbour-watch")
    page.fill("#rule-query", WORD)
    page.fill("#rule-recipients", "desk@example.org")
    page.click("#preview")
    page.wait_for_selector("#preview-result")
    since = (datetime.now(timezone.utc) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S")
    expected = served.cli_hits(WORD, "--since", since)
    assert int(page.inner_text("#preview-total")) == len(expected) == 4
    stories = {h.get("story_id") or h["url"] for h in expected}
    assert int(page.inner_text("#preview-mails")) == len(stories)
    served.shot(page, "rule-preview")
    page.click("#save")
    page.wait_for_selector("tr[data-rule='harbour-watch']")
    served.shot(page, "rules")
    saved = yaml.safe_load((served.rules_dir / "harbour-watch.yaml").read_text())
    assert saved["name"] == "harbour-watch" and saved["query"] == WORD
    assert saved["recipients"] == ["desk@example.org"] and saved["enabled"] is True
    feed = feedparser.parse(urllib.request.urlopen(served.base + "/rules/harbour-watch/feed.atom", timeout=10).read())
    assert not feed.bozo, feed.bozo_exception
    assert sorted(e.title for e in feed.entries) == sorted(h["title"] for h in served.cli_hits(WORD))
    # the rule's query leads to the search page with what it matches
    page.click("tr[data-rule='harbour-watch'] a.rule-search")
    page.wait_for_selector("#total")
    assert page.input_value("#q") == WORD
    assert int(page.inner_text("#total")) == len(served.cli_hits(WORD, "--all-copies"))
    assert page.troubles == []


def test_sources_and_alerts_pages(served, page):
    page.goto(served.base + "/sources")
    row = page.locator("tr[data-source='fixture']")
    assert "ok" in row.inner_text()
    served.shot(page, "sources")
    page.goto(served.base + "/alerts")
    page.wait_for_selector("#alerts")
    served.shot(page, "alerts")
    assert page.troubles == []


def test_post_without_csrf_token_is_refused(served):
    data = f"name=sneaky&query={WORD}&action=save".encode()
    for headers in ({}, {"Cookie": "mw_csrf=" + "a" * 43}):  # no token; a cookie but no matching field
        req = urllib.request.Request(served.base + "/rules/submit", data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 403
    assert not (served.rules_dir / "sneaky.yaml").exists()
