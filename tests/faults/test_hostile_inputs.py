"""Fault 5, hand-made: hostile feeds, sitemaps, pages and servers, each behind its own source in one
daemon, beside a well-behaved source. Each hostile URL ends with a final status and a logged reason,
the daemon stays up and healthy, and the good source's articles all land; an article title carrying
CR/LF, HTML and script reaches the alert mail as inert text in one Subject line.

Bounded: the slow server trickles for at most 8 s against a 4 s download timeout; the big responses
are 50 MB against the 5 MB page cap (so they are cut after a few MB)."""

from __future__ import annotations

import gzip
import random
import threading

import pytest

from tests.faults.conftest import base_config, once
from tests.harness.daemon import problems
from tests.harness.faults import RawServer, stream_without_length, trickle
from tests.harness.stores import index_urls

pytestmark = pytest.mark.timeout(180)

HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml; charset=utf-8"}
MB = 1024 * 1024

EVIL_TITLE = "Lukashenko\r\nBcc: victim@evil.example\r\nX-Injected: yes\n<script>alert('t')</script> <b>bold</b>"
EVIL_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{EVIL_TITLE}</title></head><body><article><h1>{EVIL_TITLE}</h1>
<p>Alexander Lukashenko spoke on Sunday in Minsk about the opposition figures held in jail, saying
that <img src=x onerror="alert(1)"> nothing would change &lt;script&gt;alert(2)&lt;/script&gt; this year.</p>
<p>Opposition groups said more than a hundred political prisoners remained in Belarusian prisons this
autumn and called on the authorities to release them without conditions before the winter.</p>
<p>The statement was read on state television and repeated by the official news agency later that day,
while lawyers for the detainees said they had not been allowed visits for several weeks.</p>
</article></body></html>"""


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>t{i}</title><link>{u}</link></item>" for i, u in enumerate(links))
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>h</title>{items}</channel></rss>".encode()


def urlset(locs: list[str]) -> str:
    return ("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            + "".join(f"<url><loc>{u}</loc></url>" for u in locs) + "</urlset>")


@pytest.fixture
def raw_server():
    server = RawServer()
    yield server
    server.close()


def test_hostile_inputs_logged_daemon_up_good_source_unaffected(project, daemons, fixture_site_factory, raw_server,
                                                                smtp_server, request):
    good = fixture_site_factory(5)
    bad = fixture_site_factory(2, offset=40)
    raw = raw_server
    rnd = random.Random(9)
    route = lambda path, status, headers, body: bad.route(path, lambda: (status, headers, body))  # noqa: E731

    # -- pages -----------------------------------------------------------------------------------
    route("/p/nested.html", 200, HTML, b"<!doctype html><html><body>" + b"<div>" * 100_000 + b"deep"
          + b"</div>" * 100_000 + b"</body></html>")
    route("/p/big.html", 200, HTML, b"<html><body>" + b"<p>" + b"x" * (50 * MB) + b"</p></body></html>")
    route("/p/binary.html", 200, HTML, bytes(rnd.getrandbits(8) for _ in range(200_000)))
    route("/p/latin1-says-utf8.html", 200, HTML,
          ("<html><head><title>Caf\xe9 cr\xe8me r\xe9sum\xe9</title></head><body><article><p>"
           + "Le caf\xe9 de la gare a ferm\xe9 ses portes apr\xe8s quarante ann\xe9es de service. " * 12
           + "</p></article></body></html>").encode("latin-1"))
    route("/p/bogus-charset.html", 200, {"Content-Type": "text/html; charset=x-no-such-charset-99"},
          ("<html><head><meta charset='utf-16'><title>\u041f\u0440\u0438\u0432\u0435\u0442</title></head><body>"
           "<article><p>" + "\u041d\u043e\u0432\u043e\u0441\u0442\u0438 \u0434\u043d\u044f. " * 60
           + "</p></article></body></html>").encode("cp1251"))
    route("/p/redirect-chain-0", 302, {"Location": "/p/redirect-chain-1"}, b"")
    for i in range(1, 12):
        route(f"/p/redirect-chain-{i}", 302, {"Location": f"/p/redirect-chain-{i + 1}"}, b"")
    route("/p/evil-title.html", 200, HTML, EVIL_PAGE.encode())
    route("/p/gzip-bomb.html", 200, {**HTML, "Content-Encoding": "gzip"},
          gzip.compress(b"<html><body>" + b" " * (60 * MB) + b"</body></html>", compresslevel=9))
    raw.routes["/slow.html"] = trickle(b"<html><body>" + b"<p>slow</p>" * 200 + b"</body></html>", every_s=0.2,
                                       bytes_per_tick=4, max_s=8)
    silence = threading.Event()
    request.addfinalizer(silence.set)
    raw.routes["/silent.html"] = lambda conn: silence.wait(30)  # accepts, never answers
    raw.routes["/endless.html"] = stream_without_length(50 * MB)
    pages = [bad.url(p) for p in ("/p/nested.html", "/p/big.html", "/p/binary.html", "/p/latin1-says-utf8.html",
                                  "/p/bogus-charset.html", "/redirect/loop", "/p/redirect-chain-0",
                                  "/p/evil-title.html", "/p/gzip-bomb.html")]
    pages += [raw.url(p) for p in ("/slow.html", "/silent.html", "/endless.html")]
    route("/feeds/pages.xml", 200, XML, rss(pages))

    # -- sitemaps --------------------------------------------------------------------------------
    route("/sm/self-index.xml", 200, XML, (
        "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<sitemap><loc>{bad.url('/sm/self-index.xml')}</loc></sitemap>"
        f"<sitemap><loc>{bad.url('/sm/deeper-0.xml')}</loc></sitemap></sitemapindex>").encode())
    for i in range(6):  # an index nested deeper than anyone should follow
        route(f"/sm/deeper-{i}.xml", 200, XML, (
            "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{bad.url(f'/sm/deeper-{i + 1}.xml')}</loc></sitemap></sitemapindex>").encode())
    route("/sm/bomb.xml.gz", 200, {"Content-Type": "application/x-gzip"},
          gzip.compress(b"<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                        + b" " * (80 * MB) + b"</urlset>", compresslevel=9))
    route("/sm/entities.xml", 200, XML, bad.hostile("bomb").replace(b"<rss version=\"2.0\"><channel><title>&lol9;",
                                                                     b"<urlset><url><loc>&lol9;"))
    route("/sm/truncated.xml", 200, XML, urlset([bad.url(a.path) for a in bad.articles]).encode()[:-40])
    route("/sm/many.xml", 200, XML, urlset([bad.url(f"/missing/{i}.html") for i in range(20_000)]).encode())
    sitemaps = [bad.url(p) for p in ("/sm/self-index.xml", "/sm/bomb.xml.gz", "/sm/entities.xml",
                                     "/sm/truncated.xml", "/sm/many.xml")]

    # -- a site whose robots.txt answers 503 -------------------------------------------------------
    robots_down = fixture_site_factory(2, offset=50)
    robots_down.robots_status = 503

    feeds = [bad.url(f"/hostile/{n}.xml") for n in ("bomb", "xxe", "garbage", "html", "huge", "broken", "latin1")]
    sources = [
        good.source("good", **once()),
        bad.source("bad-feeds", feeds=feeds, discovery="all", **once()),
        bad.source("bad-sitemaps", feeds=[], sitemaps=sitemaps, discovery="all", max_pages_per_run=60,
                   max_articles_per_run=30, **once()),
        bad.source("bad-pages", feeds=[bad.url("/feeds/pages.xml")], **once()),
        robots_down.source("robots-503", **once()),
        # no allow_private_addresses: the configured feed's own host is trusted, its links are not,
        # even on hosts the source allows
        {"name": "ssrf", "feeds": [bad.url("/hostile/ssrf.xml")], **once(),
         "allowed_domains": ["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost", "::1", "127.0.0.2"]},
    ]
    rules = [{"name": "belarus", "query": "Lukashenko AND (jail OR prison*)", "recipients": ["desk@example.org"]}]
    project.write(base_config(project.root, sources, rules=rules, smtp=smtp_server,
                              crawl={"download_timeout": 4, "obey_robots": True}))
    d = daemons(project, log_level="debug")
    names = [s["name"] for s in sources]
    d.wait_for(lambda ev: all(d.summaries(n) for n in names), 120, "a summary from every source")
    assert d.alive
    health = d.health()
    assert health["status"] == "ok", health
    summaries = {n: d.summaries(n)[0] for n in names}

    # The good source is untouched by its neighbours.
    assert summaries["good"]["counts"] == {"listing": 1, "new": len(good.articles)}, summaries["good"]
    assert not summaries["good"]["failed"]

    # Each hostile URL: one final status, logged (url_failed / url_skipped / url_done) with the URL.
    def outcome(url: str) -> dict:
        logged = [e for e in d.events if e.get("url") == url and e.get("event") in ("url_failed", "url_skipped",
                                                                                   "url_done")]
        assert logged, f"nothing logged for {url}"
        return logged[0]

    expect_error = {  # URL -> the status it must end with
        bad.url("/p/big.html"): "error:too_large",
        raw.url("/endless.html"): "error:too_large",
        bad.url("/p/gzip-bomb.html"): "error:too_large",
        raw.url("/slow.html"): "error:timeout",
        raw.url("/silent.html"): "error:timeout",
        bad.url("/redirect/loop"): "error:redirect_loop",
        bad.url("/p/redirect-chain-0"): "error:redirect_loop",
        bad.url("/hostile/bomb.xml"): "error:xml_entities",
        bad.url("/hostile/xxe.xml"): "error:xml_entities",
        bad.url("/hostile/garbage.xml"): "error:xml_malformed",
        bad.url("/hostile/html.xml"): "error:not_a_feed",
        bad.url("/hostile/huge.xml"): "error:too_large",
        bad.url("/sm/bomb.xml.gz"): "error:too_large",
        bad.url("/sm/entities.xml"): "error:xml_entities",
    }
    report, wrong = {}, []
    for url, status in expect_error.items():
        e = outcome(url)
        report[url] = (e["status"], e.get("reason", ""))
        if not (e["status"] == status and e["event"] == "url_failed" and e["level"] == "warning" and e.get("reason")):
            wrong.append(f"{url}: expected {status} logged as a warning with a reason, got {e['event']} "
                         f"{e['status']} ({str(e.get('reason'))[:150]})")
    for url in (bad.url("/p/nested.html"), bad.url("/p/binary.html"), bad.url("/p/latin1-says-utf8.html"),
                bad.url("/p/bogus-charset.html"), bad.url("/hostile/broken.xml"), bad.url("/hostile/latin1.xml"),
                bad.url("/sm/truncated.xml"), bad.url("/sm/many.xml"), bad.url("/sm/self-index.xml")):
        e = outcome(url)
        report[url] = (e["status"], e.get("reason", ""))
        assert e["status"] in ("new", "not_article", "listing") or e["status"].startswith(("error:", "skipped:")), e
        if e["status"] == "not_article" and not e.get("reason"):
            wrong.append(f"{url}: not_article, but the log line does not say why ({e['event']}, {e['level']})")
    # recoverable documents still gave what they held
    assert summaries["bad-feeds"]["counts"].get("listing") == 2, summaries["bad-feeds"]
    assert summaries["bad-sitemaps"]["counts"].get("skipped:cap", 0) > 0  # 20,000 URLs: bounded by the caps

    # robots.txt answering 503: nothing of that host fetched past robots.txt, said once with the reason
    assert [h.path for h in robots_down.requests] == ["/robots.txt"], robots_down.requests
    warned = d.named("robots_unavailable")
    assert warned and warned[0]["status"] == 503 and "disallow" in warned[0]["reason"]
    assert set(summaries["robots-503"]["counts"]) == {"skipped:robots"}, summaries["robots-503"]

    # links to private / loopback / link-local addresses: refused before connecting, with the address
    ssrf = [e for e in d.events if e.get("source") == "ssrf" and e.get("event") == "url_skipped"]
    assert len(ssrf) == 5 and all(e["status"] == "skipped:private_address" and "non-public" in e["reason"]
                                  for e in ssrf), ssrf
    # (localhost and [::1] would reach the fixture itself: nothing came in under those names)
    assert not [h.headers.get("host") for h in bad.requests if not h.headers.get("host", "").startswith("127.0.0.1:")]

    # The title with CR/LF, HTML and script: one alert mail, one Subject line, no injected header, inert HTML.
    mails = smtp_server.wait_for(1, timeout=20)
    evil = [m for m in mails if "Lukashenko" in m.subject and "evil-title" in m.part("plain")]
    assert len(evil) == 1, [m.subject for m in mails]
    m = evil[0]
    assert m.rcpt_tos == ["desk@example.org"]
    assert m.message["Bcc"] is None and m.message["X-Injected"] is None
    header_lines = m.raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace").split("\r\n")
    # the title may be folded over several Subject lines, but no line of it starts a header of its own
    assert not [h for h in header_lines if h.lower().startswith(("bcc:", "x-injected:"))], header_lines
    assert "victim@evil.example" not in str(m.message.get("To", "")) + str(m.message.get("Cc", ""))
    assert "\n" not in m.subject and "\r" not in m.subject
    html_part = m.part("html")
    assert "<script" not in html_part.lower() and "onerror=" not in html_part.replace("onerror=&quot;", "")
    assert "<b>bold</b>" not in html_part

    # The daemon never broke, and everything it indexed came from pages that were fine to index.
    assert not problems(d.events), problems(d.events)
    assert d.stop() == 0
    urls = set(index_urls(project.root / "data" / "index.sqlite3"))
    assert {good.url(a.path) for a in good.articles} <= urls
    print("hostile outcomes:", *(f"{u} -> {s} ({r[:100]})" for u, (s, r) in sorted(report.items())), sep="\n  ")
    assert not wrong, "\n".join(wrong)
