"""The web app beyond loopback: no token, no start (daemon and `mediawatch web`); with one, every request
but /healthz must carry it."""

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.error
import urllib.request

import pytest
from tests.e2e.daemon_log import listening_url

TOKEN = "test-token-0123456789abcdefghijklmnopqrstuvwxyz"


def _config(project, host: str, **extra) -> None:
    data = project.root / "data"
    project.write({"data_dir": str(data), "http": {"host": host, "port": 0},
                   "crawl": {"state_path": str(data / "crawl.sqlite3")}, **extra})


@pytest.mark.parametrize("command", [["run"], ["web"]])
def test_binding_beyond_localhost_without_a_token_refuses_to_start(project, command):
    _config(project, "0.0.0.0")
    result = project.run(*command, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "MEDIAWATCH_WEB_TOKEN" in result.stderr
    assert not (project.root / "data" / "index.sqlite3").exists()  # refused before opening anything


@pytest.mark.parametrize("command", [["run"], ["web"]])
def test_a_taken_port_is_said_and_nothing_starts(project, command):
    """Something else holds http.port: the daemon (and `mediawatch web`) say which port and where to change
    it, and exit 2, rather than run on without their web app and /healthz."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        data = project.root / "data"
        project.write({"data_dir": str(data), "http": {"host": "127.0.0.1", "port": port},
                       "crawl": {"state_path": str(data / "crawl.sqlite3")}})
        result = project.run(*command, timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"port {port} on 127.0.0.1 is not free" in result.stderr and "http.port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data / "index.sqlite3").exists()  # nothing opened


def _json(url: str, headers: dict | None = None) -> dict:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:  # 503 while failing: the same report
        return json.load(err)


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_with_a_token_every_page_but_healthz_needs_it(project):
    _config(project, "0.0.0.0")
    proc = project.popen("run", MEDIAWATCH_WEB_TOKEN=TOKEN)
    try:
        url = listening_url(proc, "web_listening", 60)
        port = url.rsplit(":", 1)[1].split("/")[0]
        base = f"http://127.0.0.1:{port}"
        assert _status(base + "/healthz") in (200, 503)  # probes need no token
        # ... and are told the status only: the sources' names and runs are for those with the token
        assert set(_json(base + "/healthz")) == {"status"}
        full = _json(base + "/healthz", {"Authorization": f"Bearer {TOKEN}"})
        assert {"status", "reasons"} <= set(full) and len(full) > 2, full
        for path in ("/", "/rules", "/metrics", "/sources", "/sources/add"):
            assert _status(base + path) == 401, path
            assert _status(base + path, {"Authorization": "Bearer wrong"}) == 401, path
            assert _status(base + path, {"Authorization": f"Bearer {TOKEN}"}) == 200, path

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(f"{base}/rules?token={TOKEN}", timeout=10)
        assert answer.value.code == 303 and answer.value.headers["Location"].endswith("/rules")
        cookie = answer.value.headers["Set-Cookie"].split(";")[0]
        assert _status(base + "/rules", {"Cookie": cookie}) == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_with_a_token_a_feed_reader_opens_a_rules_feed_by_its_key_alone(project):
    """A feed reader keeps no cookie and sends no header: the rules page links each feed with a key of its
    own, which opens that feed and nothing else, and is not the token."""
    rules = [{"name": name, "query": "storm", "recipients": ["desk@example.org"]} for name in ("storms", "other")]
    _config(project, "127.0.0.1", rules=rules)
    proc = project.popen("web", MEDIAWATCH_WEB_TOKEN=TOKEN)
    try:
        base = listening_url(proc, "web_listening", 60).rstrip("/")
        request = urllib.request.Request(base + "/rules", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            page = resp.read().decode()
        assert TOKEN not in page
        links = dict(re.findall(r'href="/rules/([\w.-]+)/feed\.atom\?key=([0-9a-f]{32})"', page))
        assert set(links) == {"storms", "other"} and links["storms"] != links["other"]
        feed = f"{base}/rules/storms/feed.atom"
        with urllib.request.urlopen(f"{feed}?key={links['storms']}", timeout=10) as resp:  # no cookie, no header
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/atom+xml")
            assert "<title>mediawatch: storms</title>" in resp.read().decode()
        assert _status(feed) == 401
        assert _status(f"{feed}?key={links['other']}") == 401  # one rule's key opens no other feed
        wrong = links["storms"][:-1] + ("1" if links["storms"].endswith("0") else "0")
        assert _status(f"{feed}?key={wrong}") == 401
        for path in ("/rules", "/", "/rules/storms/edit"):  # nor any page
            assert _status(f"{base}{path}?key={links['storms']}") == 401, path
        assert _status(f"{feed}?key={links['storms']}", {"Authorization": "Bearer wrong"}) == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_mediawatch_web_alone_cannot_add_sources(project):
    """Read-only beside a daemon: no "add a source" link, the form answers 409 (the daemon's app can), and
    /metrics points to the daemon's."""
    _config(project, "127.0.0.1")
    proc = project.popen("web")
    try:
        base = listening_url(proc, "web_listening", 60).rstrip("/")
        assert _status(base + "/sources/add") == 409
        with urllib.request.urlopen(base + "/sources", timeout=10) as resp:
            assert 'id="add-source"' not in resp.read().decode()
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:  # no series here, and it says so
            assert resp.read().decode().startswith("# mediawatch web serves pages only: the daemon's /metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
