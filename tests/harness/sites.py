"""Fixture news sites served over HTTP on 127.0.0.1, for crawler and end-to-end tests.

A ``FixtureSite`` is a stdlib ``ThreadingHTTPServer`` (``httpserver.HarnessHTTPServer``) on a free port
in a background thread, serving real article pages from ``../shared/eval/aeb-dev/`` (and the DW seed page at
``tests/fixtures/seed/dw-article.html`` when present) under ``/news/<slug>.html``, with:

    /robots.txt                       (knobs: disallow(), crawl_delay, robots_status, robots_sitemaps)
    /feeds/rss.xml /feeds/atom.xml /feeds/rdf.xml           RSS 2.0, Atom, RSS 1.0 (RDF)
    /sitemap_index.xml -> /sitemaps/pages.xml, /sitemaps/pages-2.xml.gz, /sitemaps/news.xml
    /section/news/ -> articles (+ tracking-parameter variants) and /section/news/page/2/
    /section/news/page/2/ -> the older articles (depth 2 from the start page)
    /calendar/YYYY/MM/  an infinite calendar (linked from the section page when ``trap``)
    /hostile/{bomb,xxe,broken,garbage,html,latin1,ssrf,huge}.xml   hostile / broken feeds
    /redirect/loop                    a redirect loop

Knobs: ``seed=False`` (no DW seed page), ``add_article()``, ``disallow(prefix)``,
``throttle(path, status=429, retry_after=1)``, ``hold(path, until, then_s)`` (a page that answers late),
``trap = True``, ``etag_mode`` ("honest" | "constant_200" | "constant_304"), and the request
log ``requests`` (method, path, time, headers, status) for assertions.

The articles come from :mod:`tests.harness.site_pages`, the feeds, sitemaps and other documents from
:mod:`tests.harness.site_documents`; this module serves them. Pytest fixtures: ``fixture_site`` (function-scoped, one started site) and
``fixture_site_factory`` (function-scoped, call it for more sites; all stopped at teardown).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from tests.harness.httpserver import HarnessHTTPServer
from tests.harness.site_documents import SiteDocuments
from tests.harness.site_pages import SEED_HTML, FixtureArticle, aeb_pages, generated_article, slug_for, title_of


@dataclass
class Hit:
    method: str
    path: str
    time: float
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Throttle:
    status: int
    retry_after: str | None
    times: int



class FixtureSite(SiteDocuments):
    def __init__(self, n_articles: int = 10, *, start: bool = True, offset: int = 0, seed: bool = True) -> None:
        self.lock = threading.RLock()
        self.articles: list[FixtureArticle] = []
        self.requests: list[Hit] = []
        self.disallowed: list[str] = []
        self.crawl_delay: float | None = None
        self.robots_status = 200
        # Sitemap: lines of robots.txt; none by default, or a sections-only source would read them.
        self.robots_sitemaps: list[str] = []
        self.trap = False
        self.etag_mode = "honest"
        self.throttles: dict[str, _Throttle] = {}
        self.extra_routes: dict[str, Callable[[], tuple[int, dict[str, str], bytes]]] = {}
        self.holds: dict[str, tuple[Callable[[], bool], float, float]] = {}  # path -> (until, then_s, timeout)
        self.delay_s = 0.0  # latency added to every response
        self.basic_auth: str | None = None  # "user:password": every path but robots.txt answers 401 without it
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests served at the same time
        self._pool = list(aeb_pages())[offset:]
        self._used = 0
        self._n = 0
        self.server: HarnessHTTPServer | None = None
        self.thread: threading.Thread | None = None
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for i in range(n_articles):
            self._new_article(published=now - timedelta(hours=n_articles - i))
        if seed and SEED_HTML.exists():
            seed_html = SEED_HTML.read_text("utf-8", errors="replace")
            self.articles.append(FixtureArticle(slug=slug_for("dw-lukashenko-talks-jailed-rivals", 900),
                                                title=title_of(seed_html), html=seed_html,
                                                published=now - timedelta(minutes=30)))
        if start:
            self.start()

    # -- content ------------------------------------------------------------------------------
    def _new_article(self, *, published: datetime, title: str | None = None, html: str | None = None) -> FixtureArticle:
        self._n += 1
        original = truth = ""
        if html is None:
            if self._used < len(self._pool):
                html, original, truth = self._pool[self._used]
                self._used += 1
            else:
                html = generated_article(self._n)
        title = title or title_of(html)
        art = FixtureArticle(slug=slug_for(title, self._n), title=title, html=html, published=published,
                             original_url=original, truth=truth)
        self.articles.append(art)
        return art

    def add_article(self, title: str | None = None, html: str | None = None) -> FixtureArticle:
        """Publish one more article now: it appears in every feed, sitemap and the section page."""
        with self.lock:
            return self._new_article(published=datetime.now(timezone.utc).replace(microsecond=0), title=title,
                                     html=html)

    def newest(self) -> list[FixtureArticle]:
        with self.lock:
            return sorted(self.articles, key=lambda a: a.published, reverse=True)

    # -- knobs --------------------------------------------------------------------------------
    def disallow(self, *prefixes: str) -> None:
        with self.lock:
            self.disallowed.extend(prefixes)

    def throttle(self, path: str, status: int = 429, retry_after: float | str | None = 1, times: int = 1) -> None:
        """The next ``times`` requests of ``path`` answer ``status`` with ``Retry-After``."""
        with self.lock:
            self.throttles[path] = _Throttle(status, None if retry_after is None else str(retry_after), times)

    def route(self, path: str, fn: Callable[[], tuple[int, dict[str, str], bytes]]) -> None:
        self.extra_routes[path] = fn

    def hold(self, path: str, until: Callable[[], bool], then_s: float = 0.0, timeout: float = 60.0) -> None:
        """Answer ``path`` only once ``until()`` is true (or ``timeout`` passed), then ``then_s`` later:
        a slow page that keeps a crawl open until something else happened."""
        self.holds[path] = (until, then_s, timeout)

    # -- addresses ----------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def rss_url(self) -> str:
        return self.url("/feeds/rss.xml")

    @property
    def atom_url(self) -> str:
        return self.url("/feeds/atom.xml")

    @property
    def rdf_url(self) -> str:
        return self.url("/feeds/rdf.xml")

    @property
    def sitemap_index_url(self) -> str:
        return self.url("/sitemap_index.xml")

    @property
    def news_sitemap_url(self) -> str:
        return self.url("/sitemaps/news.xml")

    @property
    def section_url(self) -> str:
        return self.url("/section/news/")

    def source(self, name: str = "fixture", **overrides: Any) -> dict[str, Any]:
        """Source config (a dict for ``Source(**...)``): the RSS feed unless overridden."""
        cfg: dict[str, Any] = {"name": name, "feeds": [self.rss_url], "allow_private_addresses": True}
        cfg.update(overrides)
        return cfg

    # -- request log --------------------------------------------------------------------------
    def hits(self, prefix: str = "/") -> list[Hit]:
        with self.lock:
            return [h for h in self.requests if h.path.startswith(prefix)]

    def article_hits(self) -> list[str]:
        return [h.path for h in self.hits("/news/")]

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- HTTP -----------------------------------------------------------------------------------
    def _conditional(self, headers: dict[str, str], body: bytes, last_modified: datetime | None) -> tuple[int, dict[str, str]]:
        out: dict[str, str] = {}
        if self.etag_mode == "honest":
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            out["ETag"] = etag
            if last_modified is not None:
                out["Last-Modified"] = format_datetime(last_modified, usegmt=True)
            inm = headers.get("if-none-match")
            if inm is not None:
                return (304 if inm == etag else 200), out
            ims = headers.get("if-modified-since")
            if ims and last_modified is not None:
                try:
                    if last_modified <= parsedate_to_datetime(ims):
                        return 304, out
                except (TypeError, ValueError):
                    pass
            return 200, out
        out["ETag"] = '"static-v1"'
        if self.etag_mode == "constant_304" and headers.get("if-none-match") == '"static-v1"':
            return 304, out
        return 200, out

    def respond(self, method: str, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(raw_path).path
        with self.lock:
            th = self.throttles.get(path)
            if th is not None and th.times > 0:
                th.times -= 1
                extra = {"Retry-After": th.retry_after} if th.retry_after is not None else {}
                return th.status, {"Content-Type": "text/plain", **extra}, b"slow down"
            if self.basic_auth is not None and path != "/robots.txt" and headers.get("authorization") != (
                    "Basic " + base64.b64encode(self.basic_auth.encode()).decode()):
                return 401, {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="fixture"'}, b"who are you?"
            if path in self.extra_routes:
                return self.extra_routes[path]()
            xml = {"Content-Type": "application/xml; charset=utf-8"}
            html_t = {"Content-Type": "text/html; charset=utf-8"}
            newest = max((a.published for a in self.articles), default=None)
            if path == "/robots.txt":
                if self.robots_status != 200:
                    return self.robots_status, {"Content-Type": "text/plain"}, b"unavailable"
                return 200, {"Content-Type": "text/plain"}, self.robots_txt().encode()
            docs = {
                "/feeds/rss.xml": (self.rss, {"Content-Type": "application/rss+xml; charset=utf-8"}),
                "/feeds/atom.xml": (self.atom, {"Content-Type": "application/atom+xml; charset=utf-8"}),
                "/feeds/rdf.xml": (self.rdf, {"Content-Type": "application/rdf+xml; charset=utf-8"}),
                "/sitemap_index.xml": (self.sitemap_index, xml),
                "/sitemaps/pages.xml": (lambda: self.urlset(self._halves()[0]), xml),
                "/sitemaps/news.xml": (self.news_sitemap, xml),
            }
            if path in docs:
                make, hdrs = docs[path]
                body = make().encode("utf-8")
                status, cond = self._conditional(headers, body, newest)
                return status, {**hdrs, **cond}, (body if status == 200 else b"")
            if path == "/sitemaps/pages-2.xml.gz":
                body = gzip.compress(self.urlset(self._halves()[1]).encode("utf-8"), mtime=0)
                status, cond = self._conditional(headers, body, newest)
                return status, {"Content-Type": "application/x-gzip", **cond}, (body if status == 200 else b"")
            if path in ("/section/news/", "/section/news/page/2/"):
                return 200, html_t, self.section(1 if path == "/section/news/" else 2).encode()
            m = re.fullmatch(r"/calendar/(\d{4})/(\d{2})/", path)
            if m and self.trap:
                return 200, html_t, self.calendar(int(m.group(1)), int(m.group(2))).encode()
            if path.startswith("/news/"):
                for a in self.articles:
                    if a.path == path:
                        page = a.html
                        if a.original_url:
                            page = page.replace(a.original_url, self.url(a.path))
                        return 200, html_t, page.encode("utf-8")
            if path == "/about/":
                return 200, html_t, b"<!doctype html><html><body><h1>About us</h1><p>We are a fixture.</p></body></html>"
            if path == "/static/logo.png":
                return 200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"\0" * 64
            m = re.fullmatch(r"/hostile/(\w+)\.xml", path)
            if m:
                try:
                    return 200, xml, self.hostile(m.group(1))
                except KeyError:
                    pass
            if path == "/redirect/loop":
                return 302, {"Location": "/redirect/loop2"}, b""
            if path == "/redirect/loop2":
                return 302, {"Location": "/redirect/loop"}, b""
            return 404, {"Content-Type": "text/html"}, b"<html><body>not found</body></html>"

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self, head: bool) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                hit = Hit(self.command, self.path, time.monotonic(), headers)
                with site.lock:
                    site.requests.append(hit)
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    if site.delay_s:
                        time.sleep(site.delay_s)
                    held = site.holds.get(urlsplit(self.path).path)
                    if held is not None:
                        until, then_s, timeout = held
                        deadline = time.monotonic() + timeout
                        while not until() and time.monotonic() < deadline:
                            time.sleep(0.02)
                        time.sleep(then_s)
                    status, hdrs, body = site.respond(self.command, self.path, headers)
                except Exception as err:  # a fixture bug shows up as a 500, not a hung test
                    status, hdrs, body = 500, {"Content-Type": "text/plain"}, repr(err).encode()
                finally:
                    with site.lock:
                        site.in_flight -= 1
                hit.status = status
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                if status not in (204, 304):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and status not in (204, 304):
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._serve(False)

            def do_HEAD(self) -> None:
                self._serve(True)

        return Handler

    def start(self) -> "FixtureSite":
        self.server = HarnessHTTPServer(("127.0.0.1", 0), self._handler())
        # stop() returns once the serving loop next polls: the default 0.5 s poll held up the teardown
        # of every test that made a site
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=f"fixture-site-{self.port}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def fixture_site():
    """A started fixture news site (10 aeb-dev articles + the DW seed when present)."""
    site = FixtureSite()
    yield site
    site.stop()


@pytest.fixture
def fixture_site_factory():
    """``make(n_articles=10, offset=0, seed=True) -> FixtureSite``; every site made is stopped at teardown."""
    made: list[FixtureSite] = []

    def make(n_articles: int = 10, offset: int = 0, seed: bool = True) -> FixtureSite:
        site = FixtureSite(n_articles, offset=offset, seed=seed)
        made.append(site)
        return site

    yield make
    for site in made:
        site.stop()
