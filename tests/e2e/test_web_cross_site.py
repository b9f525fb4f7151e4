"""The web app against other pages of the same machine, in a real Chromium: a page on another port of
127.0.0.1 is the same *site* to the browser (its cookies reach the app), and a name an attacker points at
127.0.0.1 (DNS rebinding) would be the app's own origin. Neither may change anything."""

from __future__ import annotations

import signal
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from tests.e2e.browser import browser, page  # noqa: F401  (fixtures)
from tests.e2e.daemon_log import listening_url
from tests.harness.httpserver import HarnessHTTPServer

PLANTED = "A" * 40  # a CSRF cookie value of the attacker's, and the same value in its form


def _attacker(app: str) -> str:
    return f"""<!doctype html><html><body>
<form id="f" method="post" action="{app}/rules/submit">
  <input name="csrf" value="{PLANTED}"><input name="name" value="planted"><input name="query" value="pier">
  <input name="recipients" value="x@example.org"><input name="mode" value="instant">
  <input name="enabled" value="on"><input name="action" value="save">
</form>
<script>document.cookie = "mw_csrf={PLANTED}; path=/"; document.getElementById("f").submit();</script>
</body></html>"""


@pytest.fixture
def web(project):
    rules = project.root / "rules"
    rules.mkdir()
    data = project.root / "data"
    project.write({"data_dir": str(data), "rules_dir": str(rules), "http": {"port": 0},
                   "crawl": {"state_path": str(data / "crawl.sqlite3")}})
    proc = project.popen("web")
    try:
        yield listening_url(proc, "web_listening", 60).rstrip("/"), rules
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def _status(url: str, headers: dict[str, str], data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_page_on_another_port_cannot_save_a_rule_with_a_cookie_it_planted(web, page):
    base, rules = web

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):
            body = _attacker(base).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HarnessHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with page.expect_response(lambda r: r.url.endswith("/rules/submit"), timeout=30_000) as answer:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert answer.value.status == 403
        assert "another page than the app's own" in answer.value.text()
    finally:
        server.shutdown()
        server.server_close()
    assert not (rules / "planted.yaml").exists()
    # the same form from the app's own page is taken
    page.goto(f"{base}/rules/new")
    page.fill("input[name=name]", "mine")
    page.fill("#rule-query", "pier")
    page.fill("#rule-recipients", "desk@example.org")
    with page.expect_navigation():
        page.click("#save")
    assert (rules / "mine.yaml").exists()


def test_without_a_token_the_app_answers_only_to_this_machines_names(web):
    base, rules = web
    port = base.rsplit(":", 1)[1]
    assert _status(f"{base}/", {"Host": f"attacker.example:{port}"})[0] == 403
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert _status(f"{base}/", {"Host": host})[0] == 200, host
    # an unsafe request another page of this host sent, with a cookie pair it made up
    form = f"csrf={PLANTED}&name=x&query=pier&recipients=x%40example.org&mode=instant&action=save".encode()
    planted = {"Cookie": f"mw_csrf={PLANTED}", "Content-Type": "application/x-www-form-urlencoded"}
    for sent_from in ({"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}, {"Origin": "null"}):
        assert _status(f"{base}/rules/submit", {**planted, **sent_from}, form)[0] == 403, sent_from
    assert not (rules / "x.yaml").exists()
    assert _status(f"{base}/rules/submit", {**planted, "Origin": base}, form)[0] == 200  # its own page: saved
    assert (rules / "x.yaml").exists()
