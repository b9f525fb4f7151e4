"""The web app's forms over real data (`mediawatch web`, real HTTP). Rules, over a rules folder written by
hand too: a save never replaces another file, a toggle or an edit keeps what the form does not show, and the
Atom feed is valid XML whatever the index and the rule hold. Search: the edges of what a form can send."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from indexer.alerts.rules import load_rules_file
from tests.e2e.daemon_log import listening_url
from tests.harness.project import WARC, Project, import_config

ATOM = "{http://www.w3.org/2005/Atom}"
HOOK = "json://127.0.0.1:9/hook?token=${MW_HOOK}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Plain HTTP with the app's CSRF cookie, as a form in a browser sends it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(NoRedirect)
        with self.opener.open(base + "/rules/new", timeout=30) as resp:
            self.cookie = resp.headers["Set-Cookie"].split(";")[0]
            self.csrf = re.search(r'name="csrf" value="([^"]+)"', resp.read().decode()).group(1)

    def get(self, path: str) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers={"Cookie": self.cookie})
        try:
            with self.opener.open(request, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        body = urllib.parse.urlencode({**fields, "csrf": self.csrf}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Cookie": self.cookie})
        try:
            with self.opener.open(request, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()


GROUP = ("- {name: g1, query: pier, recipients: [a@example.org]}\n"
         "- {name: g2, query: harbour, recipients: [a@example.org]}\n")
EVENING = yaml.safe_dump({"name": "evening", "query": "pier", "recipients": ["a@example.org"], "notify": [HOOK],
                          "mode": "daily", "daily_at": "18:30", "timezone": "Europe/Berlin", "backfill": True})


def _write_rules(rules, files: dict[str, str]) -> None:
    """The rules folder as ``files`` (name -> text), anything else in it removed. A rewritten file gets an
    mtime past the one the app last saw, so its RuleSet (which re-reads by mtime and size) takes it again."""
    for path in rules.iterdir():
        if path.name not in files:
            path.unlink()
    for name, text in files.items():
        path = rules / name
        before = path.stat().st_mtime_ns if path.exists() else 0
        if before and path.read_text(encoding="utf-8") == text:
            continue
        path.write_text(text, encoding="utf-8")
        stamp = max(time.time_ns(), before + 1_000_000)
        os.utime(path, ns=(stamp, stamp))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One `mediawatch web` for the module, over a crawled, imported and alerted project (the costly part:
    a crawl, two imports and a backfill, each a CLI process). The app is read-only but for the rules folder,
    which `app` puts back for every test."""
    root = tmp_path_factory.mktemp("web_forms")
    project = Project(root)
    rules = root / "rules"
    rules.mkdir()
    _write_rules(rules, {"group.yaml": GROUP, "evening.yaml": EVENING})
    closed = socket.socket()  # a port nothing listens on: the source's feed and a webhook are down
    closed.bind(("127.0.0.1", 0))
    down = f"http://127.0.0.1:{closed.getsockname()[1]}/feed.xml"
    # the test webhooks are on 127.0.0.1: the one address of this machine the rule form may point a channel at
    project.write({**import_config(project), "rules_dir": str(rules), "http": {"port": None, "notify_networks": ["127.0.0.1/32"]},
                   "sources": [{"name": "down", "feeds": [down], "allow_private_addresses": True}]})
    crawled = project.run("crawl", "down", MW_HOOK="s3cret")
    assert crawled.returncode == 1, crawled.stderr[-3000:]
    # an instant rule whose webhook is down: its mail goes out, its chat message waits for a retry
    hooked = yaml.safe_dump({"name": "hooked", "query": "Lukashenko AND jail*", "recipients": ["a@example.org"],
                             "notify": [f"json://127.0.0.1:{closed.getsockname()[1]}/hook"]})
    (rules / "hooked.yaml").write_text(hooked, encoding="utf-8")
    saved = root / "saved"
    saved.mkdir()
    # a saved page with no address of its own: its URL is a file:// one, no link for a feed reader
    page = (WARC.parent / "seed" / "dw-article.html").read_bytes()
    (saved / "plain.html.gz").write_bytes(gzip.compress(re.sub(rb"<link[^>]*canonical[^>]*>|<meta[^>]*og:url[^>]*>",
                                                               b"", page)))
    for path in (str(WARC), str(saved)):
        done = project.run("import", path, MW_HOOK="s3cret")
        assert done.returncode == 0, done.stderr[-3000:]
    project.run("alerts", "backfill", "hooked", MW_HOOK="s3cret")
    proc = project.popen("web", "--port", "0", MW_HOOK="s3cret", MEDIAWATCH_NOTIFY_DESK="desk-token")
    try:
        base = listening_url(proc, "web_listening", 60).rstrip("/")
        yield proc, rules, {"group.yaml": GROUP, "evening.yaml": EVENING, "hooked.yaml": hooked}, base
    finally:
        closed.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


@pytest.fixture
def app(served):
    """The module's app, its rules folder as the module made it (what an earlier test saved, toggled or
    wrote by hand is gone), and a browser of the test's own (its own cookie and CSRF token)."""
    proc, rules, files, base = served
    assert proc.poll() is None, f"the module's web app exited ({proc.returncode}) before this test"
    _write_rules(rules, files)
    return rules, Browser(base)


def _form(name: str, query: str, **more: str) -> dict[str, str]:
    return {"name": name, "query": query, "recipients": "desk@example.org", "mode": "instant", "enabled": "on",
            "action": "save", **more}


# What a browser (or anyone) may send: any path under the app's routes, any query parameters, any rule form.
_VALUE = st.text(max_size=30) | st.sampled_from(
    ["", "pier", "*", "NOT", "\x00", "%", "../..", "2024-03-01", "2024-02-30", "9999-12-31", "0001-01-01", "-1",
     "99999999999999999999", "en,DE", "xx", "group", "evening", "hooked", "a@example.org", "07:30", "25:99",
     "Europe/Berlin", "Mars/Olympus", "daily", "hourly", "on", "save", "preview", "1", "json://127.0.0.1:9/x",
     "${MW_HOOK}", "${MEDIAWATCH_NOTIFY_X}", "json://[::1", "CON", "a/b", ".hidden"])
_PARAMS = st.lists(st.tuples(st.sampled_from(["q", "source", "lang", "since", "until", "page", "saved", "queued",
                                              "added", "days", "key", "token"]), _VALUE), max_size=6)
_SEGMENT = _VALUE.map(lambda v: urllib.parse.quote(v, safe=""))
_ROUTES = st.sampled_from(["/", "/export.csv", "/export.json", "/rules", "/rules/new", "/alerts", "/sources",
                           "/sources/add", "/rules/evening/edit", "/rules/g1/feed.atom"])
_NAMED = st.sampled_from(["/article/{}", "/rules/{}/edit", "/rules/{}/feed.atom"])
_PATH = st.one_of(_ROUTES, _ROUTES, _ROUTES, _NAMED.flatmap(lambda route: _SEGMENT.map(route.format)))


def _or_any(*valid: str):
    """A valid value of a form field, or anything."""
    return st.sampled_from(valid) | _VALUE


_FORM = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True) | _VALUE,
     "query": _or_any("pier", "pier OR harbour", 'title:"pier"'), "action": st.sampled_from(["save", "preview"]),
     "recipients": _or_any("desk@example.org", "a@example.org, b@example.org")},
    optional={"notify": _or_any("json://127.0.0.1:9/x", "json://127.0.0.1:9/x?token=${MEDIAWATCH_NOTIFY_X}"),
              "mode": _or_any("instant", "hourly", "daily"), "daily_at": _or_any("07:30", "18:00:00"),
              "timezone": _or_any("Europe/Berlin", "UTC"), "enabled": _or_any("on"), "days": _or_any("1", "365"),
              "languages": _or_any("en", "de, FR"), "sources": _or_any("down"), "description": _VALUE,
              "editing": _or_any("0", "1")})


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(path=_PATH, params=_PARAMS, form=_FORM)
def test_generated_requests_get_an_answer_never_a_server_error(served, path, params, form):
    """Whatever is asked or submitted, the app answers it (a page, a refusal, a 404), never with a 500, and a
    rule it saves is one the daemon loads."""
    proc, rules, files, base = served
    web = Browser(base)
    query = "?" + urllib.parse.urlencode(params) if params else ""
    status, _ = web.get(path + query)
    assert status < 500 and status != 403, (status, path + query)
    status, page = web.post("/rules/submit", form)
    assert status < 500 and status != 403, (status, form, page[-500:])
    for saved in rules.glob("*.yaml"):
        if saved.name not in files:
            assert load_rules_file(saved), saved.read_text(encoding="utf-8")
            saved.unlink()
    assert proc.poll() is None


def test_a_new_rule_never_replaces_a_file_nor_hides_in_a_dot_file(app):
    rules, web = app
    before = (rules / "group.yaml").read_text(encoding="utf-8")
    status, page = web.post("/rules/submit", _form("group", "tram"))
    assert status == 400 and "group.yaml already" in page
    assert (rules / "group.yaml").read_text(encoding="utf-8") == before
    status, page = web.post("/rules/submit", _form(".hidden", "tram"))
    assert status == 400 and "may not start with" in page
    assert not (rules / ".hidden.yaml").exists()
    status, _ = web.post("/rules/submit", _form("tram", "tram"))
    assert status == 303 and yaml.safe_load((rules / "tram.yaml").read_text(encoding="utf-8"))["query"] == "tram"
    assert 'id="rule-saved">Rule tram saved' in web.get("/rules?saved=tram")[1]
    assert 'id="rule-saved"' not in web.get("/rules?saved=nosuch")[1]


def test_toggle_and_edit_keep_what_the_form_does_not_show(app):
    rules, web = app
    status, page = web.get("/rules")
    assert status == 200
    # rules of a file holding several are not the app's to rewrite: it says where they are
    assert re.search(r'data-rule="g1".*?in group\.yaml, with other rules', page, re.S)
    status, _ = web.post("/rules/evening/toggle", {})
    assert status == 303
    written = yaml.safe_load((rules / "evening.yaml").read_text(encoding="utf-8"))
    assert written["enabled"] is False
    assert written["notify"] == [HOOK]  # as written, the secret still a reference
    assert (written["daily_at"], written["timezone"], written["backfill"]) == ("18:30", "Europe/Berlin", True)
    status, page = web.get("/rules/evening/edit")
    assert status == 200 and 'value="18:30"' in page and 'value="Europe/Berlin"' in page and HOOK in page
    status, _ = web.post("/rules/submit", {**_form("evening", "pier OR jetty", mode="daily", daily_at="18:30",
                                                   timezone="Europe/Berlin", notify=HOOK), "editing": "1"})
    assert status == 303
    written = yaml.safe_load((rules / "evening.yaml").read_text(encoding="utf-8"))
    assert written["query"] == "pier OR jetty" and written["enabled"] is True and written["backfill"] is True
    assert (written["daily_at"], written["timezone"], written["notify"]) == ("18:30", "Europe/Berlin", [HOOK])
    status, page = web.post("/rules/submit", {**_form("g1", "pier"), "editing": "1"})
    assert status == 400 and "not in a file of its own" in page
    for name, where in (("g1", "group.yaml, with other rules"), ("pier", "the config file")):
        status, page = web.get(f"/rules/{name}/edit")
        assert status == 409 and f"rule {name} is defined in {where}: edit it there" in page


def test_the_browser_cannot_make_the_daemon_send_its_environment_anywhere(app):
    """A ${NAME} in a channel's URL is filled in from the daemon's environment (the web token, the SMTP
    password): a rule saved from the browser may keep the references its file has, and add only those to
    variables the operator named for the app's channels (MEDIAWATCH_NOTIFY_*) and set."""
    rules, web = app
    leak = "json://127.0.0.1:9/leak/${MEDIAWATCH_WEB_TOKEN}/${MW_HOOK:-x}"
    status, page = web.post("/rules/submit", _form("leak", "pier", notify=leak))
    assert status == 400 and "${MEDIAWATCH_WEB_TOKEN}, ${MW_HOOK}" in page and "MEDIAWATCH_NOTIFY_*" in page
    assert not (rules / "leak.yaml").exists()
    meant = "json://127.0.0.1:9/hook?token=${MEDIAWATCH_NOTIFY_DESK}"  # named by the operator for the app
    assert web.post("/rules/submit", _form("desk", "pier", notify=meant))[0] == 303
    assert yaml.safe_load((rules / "desk.yaml").read_text(encoding="utf-8"))["notify"] == [meant]
    # one the operator never set: the daemon could not load the file, so it is not written ("saved" and dead)
    status, page = web.post("/rules/submit", _form("typo", "pier", notify=meant.replace("DESK", "DSEK")))
    assert status == 400 and "${MEDIAWATCH_NOTIFY_DSEK} is not set" in page and "could not load" in page
    assert not (rules / "typo.yaml").exists()
    edit = {**_form("evening", "pier", mode="daily", daily_at="18:30", timezone="Europe/Berlin"), "editing": "1"}
    status, page = web.post("/rules/submit", {**edit, "notify": f"{HOOK}\njson://127.0.0.1:9/x/${{SMTP_PASS}}"})
    assert status == 400 and "${SMTP_PASS}" in page
    assert yaml.safe_load((rules / "evening.yaml").read_text(encoding="utf-8"))["notify"] == [HOOK]
    status, _ = web.post("/rules/submit", {**edit, "notify": HOOK})  # the file's own reference stays usable
    assert status == 303


def test_the_browser_cannot_point_the_daemon_at_its_own_network(app):
    """A webhook typed into the form that resolves to this machine, a private network or a cloud's metadata
    service is refused with the address, unless http.notify_networks names it (127.0.0.1/32 here); a private
    URL the rule's file already holds is the operator's, and the rule stays editable around it."""
    rules, web = app
    for url, address in (("json://127.0.0.2:9/x", "127.0.0.2"), ("jsons://169.254.169.254/latest/meta-data", "169.254.169.254"),
                         ("mmost://[::1]:8065/hooktoken", "::1"), ("json://10.20.30.40/hook", "10.20.30.40")):
        status, page = web.post("/rules/submit", _form("inside", "pier", notify=f"json://127.0.0.1:9/ok\n{url}"))
        assert status == 400, (url, page)
        assert f"reaches {address}, an address of this machine or a private network" in page
        assert "http.notify_networks" in page and not (rules / "inside.yaml").exists()
    assert web.post("/rules/submit", _form("inside", "pier", notify="discord://1234/abcd\njson://127.0.0.1:9/ok"))[0] == 303
    (rules / "own.yaml").write_text(yaml.safe_dump({"name": "own", "query": "pier", "recipients": ["a@example.org"],
                                                     "notify": ["json://10.20.30.40/hook"]}), encoding="utf-8")
    edit = {**_form("own", "pier OR jetty"), "editing": "1", "notify": "json://10.20.30.40/hook"}
    assert web.post("/rules/submit", edit)[0] == 303
    assert yaml.safe_load((rules / "own.yaml").read_text(encoding="utf-8"))["query"] == "pier OR jetty"


def test_the_feed_is_valid_atom_for_pages_without_a_web_address_and_odd_characters(app):
    rules, web = app
    # written by hand after the app started, with a control character a form would not send
    (rules / "odd.yaml").write_text('name: odd\nquery: "Lukashenko\\vjail*"\nrecipients: [a@example.org]\n',
                                    encoding="utf-8")
    status, body = web.get("/rules/odd/feed.atom")
    assert status == 200, body
    feed = ET.fromstring(body)
    entries = [e.findtext(f"{ATOM}updated") for e in feed.iter(f"{ATOM}entry")]
    assert feed.findtext(f"{ATOM}updated") == max(entries)
    links = [e.find(f"{ATOM}link").get("href") for e in feed.iter(f"{ATOM}entry")]
    assert len(links) == 2, body  # the dw.com story and its saved copy
    assert any(link.startswith("https://www.dw.com/") for link in links)
    local = [link for link in links if "/article/" in link]
    assert len(local) == 1 and web.get(urllib.parse.urlsplit(local[0]).path)[0] == 200


def test_search_takes_the_last_day_there_is_and_language_codes_in_any_case(app):
    _rules, web = app
    for path in ("/?q=pier&until=9999-12-31", "/export.csv?q=pier&until=9999-12-31",
                 "/export.json?q=pier&until=9999-12-31"):
        status, body = web.get(path)
        assert status == 200, (path, body[-500:])
    status, body = web.get("/export.json?q=*&lang=AR")
    assert status == 200 and [row["source"] for row in json.loads(body)] == ["www.aljazeera.net"]
    status, body = web.get("/export.csv?q=pier&since=yesterday")  # the page warns; a file cannot
    assert status == 400 and "'from' date 'yesterday' is not a date" in body
    (article,) = [a for a in json.loads(web.get("/export.json?q=*&lang=ar")[1])]
    status, page = web.get(f"/article/{article['id']}")
    assert status == 200 and '<div class="text" dir="auto" lang="ar">' in page


def test_a_lower_case_operator_is_pointed_out(app):
    _rules, web = app
    status, page = web.get("/?q=" + urllib.parse.quote('pier or harbour not "rock and roll"'))
    assert status == 200
    notes = re.findall(r'<p class="warning operator-word">(.*?)</p>', page)
    assert notes == ["“or” is searched as a word: as an operator it is written OR.",
                     "“not” is searched as a word: as an operator it is written NOT."]
    assert 'class="warning operator-word"' not in web.get("/?q=pier+OR+harbour")[1]


def test_a_body_past_the_limit_is_refused_not_cut_short(app):
    rules, web = app
    status, page = web.post("/rules/submit", {**_form("big", "pier"), "description": "x" * 1_500_000,
                                              "recipients": "late@example.org"})
    assert status == 413 and "at most" in page
    assert not (rules / "big.yaml").exists()


def test_the_sources_page_says_why_the_last_run_failed(app):
    _rules, web = app
    status, page = web.get("/sources")
    assert status == 200
    row = re.search(r'<tr data-source="down">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert "status-failed" in cells[2]
    assert "/feed.xml)" in cells[4] and "refused" in cells[4].lower() and "{" not in cells[4], cells[4]


def test_the_alerts_page_lists_the_chat_messages_that_wait_and_counts_alerts_only(app):
    _rules, web = app
    status, page = web.get("/alerts")
    assert status == 200
    summary = re.search(r"<h1>Alerts</h1>\s*<p>(.*?)</p>", page, re.S).group(1)
    assert "1 sent · 0 pending · 0 failed" in summary and "shown" not in summary  # one alert, and it is listed
    table = re.search(r'<table id="channel-messages">(.*?)</table>', page, re.S).group(1)
    (row,) = re.findall(r"<tr class=\"state-(\w+)\">(.*?)</tr>", table, re.S)
    assert row[0] == "failed" and "hooked" in row[1] and "json://127.0.0.1:" in row[1]
    assert "Lukashenko" in row[1] and re.search(r"<td>[^<]*(refused|Errno|connect)", row[1], re.I), row[1]


def test_the_last_page_says_the_list_stops_there_instead_of_linking_to_itself(project):
    from indexer.article import Article
    from indexer.backends.sqlite import SqliteBackend
    from web.pages_search import MAX_PAGE, PAGE_SIZE

    data = project.root / "data"
    data.mkdir()
    stories = MAX_PAGE * PAGE_SIZE + 5
    backend = SqliteBackend(data / "index.sqlite3")
    backend.index([Article(url=f"https://many.example/{i}", title=f"tram {i}", text=f"the tram line {i}",
                           source="many", story_id=f"story-{i}") for i in range(stories)])
    backend.close()
    project.write(import_config(project))
    proc = project.popen("web", "--port", "0")
    try:
        web = Browser(listening_url(proc, "web_listening", 60).rstrip("/"))
        status, page = web.get(f"/?q=tram&page={MAX_PAGE - 1}")
        assert status == 200 and f"page={MAX_PAGE}" in page and 'id="pages-capped"' not in page
        status, page = web.get(f"/?q=tram&page={MAX_PAGE}")
        assert status == 200 and 'rel="next"' not in page and 'id="pages-capped"' in page
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
