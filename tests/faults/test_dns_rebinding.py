"""DNS rebinding: a host found in a feed answers the SSRF guard's lookup with an allowed address
and the next lookup with an internal one. The connection must go to the address the guard
approved. A real DNS server (dnslib) answers; `mediawatch crawl` runs in a private mount namespace
whose /etc/resolv.conf points at it (root, as CI is)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.dns import RebindingDns
from tests.harness.elasticsearch import free_port
from tests.harness.httpserver import HarnessHTTPServer
from tests.harness.project import cli_env

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                       reason="a private mount namespace needs root and unshare (CI runs as root)"),
]

NAME = "rebind.test"
ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Intranet notice</title>
<meta property="article:published_time" content="2026-12-01T10:00:00Z"></head><body><article>
<h1>Intranet notice</h1><p>{who} served this page. The canteen closes early on Friday for the staff
meeting, and the car park on the east side is reserved for visitors all week long.</p>
<p>Questions go to the facilities desk on the ground floor, which is open from eight until five.</p>
</article></body></html>"""


class Recorder(HarnessHTTPServer):
    def __init__(self, address: str, port: int, body: dict[str, bytes]) -> None:
        self.hits: list[str] = []
        self.body = body
        super().__init__((address, port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.hits.append(self.path)
        body = self.server.body.get(self.path)
        ctype = "application/rss+xml" if self.path.endswith(".xml") else "text/html; charset=utf-8"
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def test_connection_goes_to_the_address_the_guard_approved(project, tmp_path):
    port = free_port()
    approved = Recorder("127.0.0.2", port, {"/news/notice.html": ARTICLE.format(who="approved").encode()})
    internal = Recorder("127.0.0.3", port, {"/news/notice.html": ARTICLE.format(who="internal").encode()})
    link = f"http://{NAME}:{port}/news/notice.html"
    feed = Recorder("127.0.0.1", 0, {"/rss.xml": (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://127.0.0.1/</link>'
        f"<item><title>Intranet notice</title><link>{link}</link>"
        "<pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate></item></channel></rss>").encode()})
    dns = RebindingDns(NAME, ["127.0.0.2", "127.0.0.3"])
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions attempts:2 timeout:2\n")
    try:
        feed_url = f"http://127.0.0.1:{feed.server_address[1]}/rss.xml"
        project.write(base_config(project.root, [{"name": "intranet", "feeds": [feed_url], "allowed_domains": ["127.0.0.1", NAME], **once()}],
                                  crawl={"allowed_networks": ["127.0.0.2/32"]}))
        command = " ".join([sys.executable, "-m", "scheduler.cli", "--config", str(project.config_path), "crawl"])
        result = subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount --bind {resolv} /etc/resolv.conf && exec {command}"],
            cwd=project.root, capture_output=True, text=True, timeout=120, env=cli_env())
        assert result.returncode == 0, result.stderr[-3000:]
        assert "intranet" in result.stdout and " 1 " in result.stdout.splitlines()[1], result.stdout
        # The guard asked once and got the allowed address; nothing asked again (the next answer
        # would have been the internal one), and the internal server saw no request at all.
        assert dns.resolver.a_answers() == ["127.0.0.2"]
        assert "/news/notice.html" in approved.hits
        assert internal.hits == []
        found = project.run("search", "canteen", "--json")
        assert found.returncode == 0 and "approved served this page" in found.stdout, found.stdout
    finally:
        dns.close()
        for server in (approved, internal, feed):
            server.shutdown()
            server.server_close()
