"""The local news site of the crawl benchmarks, served (what it holds: ``bench.site_build``).

It is served by nginx from Debian (``apt-get install nginx-light``), run as a non-daemon child
with a generated nginx.conf on 127.0.0.1 and a free port (1 worker, no access log, no gzip:
the crawlers get the bytes with the least server CPU). Without nginx, a threaded Python
HTTP/1.1 server does it, and the result says so (``server: python``).

    python -m bench.site --pages 3000 --serve     # build, serve, print the URLs, Ctrl-C stops
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import free_port
from bench.site_build import Site, build

NGINX_CANDIDATES = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def install_nginx() -> str | None:
    """apt-get install nginx-light (then nginx) when we are root on Debian; None if it fails."""
    if nginx_binary() or os.geteuid() != 0 or not shutil.which("apt-get"):
        return nginx_binary()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for pkg in ("nginx-light", "nginx"):
        for cmd in (["apt-get", "install", "-y", "-qq", pkg], None):
            if cmd is None:  # the package lists may be missing on a fresh machine
                subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
                cmd = ["apt-get", "install", "-y", "-qq", pkg]
            if subprocess.run(cmd, env=env, capture_output=True).returncode == 0 and nginx_binary():
                return nginx_binary()
    return None


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {run}/nginx.pid;
error_log {run}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    types {{
        text/html html;
        application/rss+xml rss;
        application/xml xml;
        text/plain txt;
        application/json json;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/html text/plain application/xml application/rss+xml;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    gzip off;
    open_file_cache max=20000 inactive=60s;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        root {root};
        index index.html;
        location / {{ try_files $uri $uri/ =404; }}
    }}
}}
"""


class SiteServer:
    """Build the site into a temp dir and serve it; a context manager. ``site`` once entered."""

    def __init__(self, pages: int = 3000, *, server: str = "auto", per_feed: int = 100,
                 per_sitemap: int = 1000, workers: int = 1, keep: bool = False) -> None:
        self.pages = pages
        self.mode = server
        self.per_feed = per_feed
        self.per_sitemap = per_sitemap
        self.workers = workers
        self.keep = keep
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None
        self.site: Site | None = None
        self.note = ""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> Site:
        self.tmp = Path(tempfile.mkdtemp(prefix="mediawatch-bench-site-"))
        self.tmp.chmod(0o755)  # nginx workers drop to an unprivileged user
        root = self.tmp / "www"
        run = self.tmp / "run"
        root.mkdir()
        run.mkdir()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        site = build(root, base, self.pages, per_feed=self.per_feed, per_sitemap=self.per_sitemap)
        nginx = None
        if self.mode in ("auto", "nginx"):
            nginx = install_nginx()
            if nginx is None and self.mode == "nginx":
                raise RuntimeError("nginx is not installed and could not be installed")
        if nginx:
            user = "user nobody nogroup;" if os.geteuid() == 0 else ""
            conf = run / "nginx.conf"
            conf.write_text(NGINX_CONF.format(workers=self.workers, run=run, user=user, port=port, root=root))
            self.proc = subprocess.Popen([nginx, "-p", str(run), "-c", str(conf), "-e", str(run / "error.log")],
                                         stdout=subprocess.DEVNULL, stderr=open(run / "stderr.log", "wb"),
                                         start_new_session=True)
            site.server = f"nginx {self._nginx_version(nginx)}".strip()
        else:
            self.note = "nginx unavailable: served by the threaded Python fallback server"
            self.proc = subprocess.Popen([sys.executable, "-m", "bench.site", "--python-server", str(root), str(port)],
                                         cwd=str(Path(__file__).resolve().parents[1]),
                                         stdout=subprocess.DEVNULL, stderr=open(run / "stderr.log", "wb"),
                                         start_new_session=True)
            site.server = "python ThreadingHTTPServer"
        self._wait(base + "/robots.txt")
        (root / "site.json").write_text(json.dumps(site.manifest()), encoding="utf-8")
        self.site = site
        return site

    @staticmethod
    def _nginx_version(binary: str) -> str:
        out = subprocess.run([binary, "-v"], capture_output=True, text=True)
        text = (out.stderr or out.stdout).strip()
        return text.split("/", 1)[1] if "/" in text else text

    def _wait(self, url: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                log = (self.tmp / "run" / "error.log") if self.tmp else None
                detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
                raise RuntimeError(f"site server exited with {self.proc.returncode}: {detail}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"site server not answering at {url}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # nginx: fast shutdown
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.proc = None
        if self.tmp and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Site:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def load_manifest(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def python_server(root: str, port: int) -> None:
    """The fallback: HTTP/1.1 keep-alive, threaded, UTF-8 content types, no logging."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        extensions_map = {".html": "text/html; charset=utf-8", ".rss": "application/rss+xml; charset=utf-8",
                          ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
                          ".json": "application/json", "": "application/octet-stream"}

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    httpd = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=root))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=3000)
    ap.add_argument("--per-feed", type=int, default=100)
    ap.add_argument("--per-sitemap", type=int, default=1000)
    ap.add_argument("--server", choices=["auto", "nginx", "python"], default="auto")
    ap.add_argument("--serve", action="store_true", help="serve until Ctrl-C")
    ap.add_argument("--python-server", nargs=2, metavar=("ROOT", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.python_server:
        python_server(args.python_server[0], int(args.python_server[1]))
        return 0
    from bench.common import exit_on_sigterm

    exit_on_sigterm()
    with SiteServer(args.pages, server=args.server, per_feed=args.per_feed, per_sitemap=args.per_sitemap) as site:
        print(f"{len(site.pages)} articles ({site.bytes_total / 2**20:.0f} MiB) at {site.base_url}/ "
              f"served by {site.server}")
        print(f"sitemap: {site.sitemap_index}\nfeeds: {site.feeds[0]} .. ({len(site.feeds)}), big feed {site.big_feed}")
        if args.serve:
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
