"""What a fixture site serves besides its articles: robots.txt, the RSS, Atom and RDF feeds, the
sitemaps (an index, two halves, a news sitemap), the section pages, the trap calendar and the hostile
feeds.

A mixin of :class:`tests.harness.sites.FixtureSite`, which holds the articles and the knobs these read
(``articles``, ``newest()``, ``url()``, ``disallowed``, ``crawl_delay``, ``robots_sitemaps``, ``trap``).
"""

from __future__ import annotations

import html as htmlmod
from datetime import datetime, timezone
from email.utils import format_datetime

from tests.harness.site_pages import FixtureArticle


def _xml_escape(s: str) -> str:
    return htmlmod.escape(s, quote=True)


class SiteDocuments:
    def robots_txt(self) -> str:
        lines = ["User-agent: *"]
        lines += [f"Disallow: {p}" for p in self.disallowed] or ["Disallow:"]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay}")
        lines += [f"Sitemap: {self.url(p) if p.startswith('/') else p}" for p in self.robots_sitemaps]
        return "\n".join(lines) + "\n"

    def rss(self) -> str:
        items = []
        for a in self.newest():
            items.append(
                f"<item><title>{_xml_escape(a.title)}</title><link>{self.url(a.path)}</link>"
                f"<guid isPermaLink='true'>{self.url(a.path)}</guid>"
                f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
                f"<description>{_xml_escape(a.title)}</description></item>"
            )
        return ("<?xml version='1.0' encoding='UTF-8'?>\n<rss version='2.0' xmlns:atom='http://www.w3.org/2005/Atom'>"
                f"<channel><title>Fixture News</title><link>{self.base}/</link><description>fixture</description>"
                + "".join(items) + "</channel></rss>")

    def atom(self) -> str:
        entries = []
        for a in self.newest():
            iso = a.published.isoformat().replace("+00:00", "Z")
            entries.append(
                f"<entry><title>{_xml_escape(a.title)}</title><link rel='alternate' type='text/html' href='{a.path}'/>"
                f"<id>tag:fixture,2024:{a.slug}</id><published>{iso}</published><updated>{iso}</updated></entry>"
            )
        return ("<?xml version='1.0' encoding='utf-8'?>\n"
                f"<feed xmlns='http://www.w3.org/2005/Atom' xml:base='{self.base}/'><title>Fixture News</title>"
                f"<id>{self.base}/</id><updated>{datetime.now(timezone.utc).isoformat()}</updated>"
                + "".join(entries) + "</feed>")

    def rdf(self) -> str:
        seq = "".join(f"<rdf:li resource='{self.url(a.path)}'/>" for a in self.newest())
        items = "".join(
            f"<item rdf:about='{self.url(a.path)}'><title>{_xml_escape(a.title)}</title>"
            f"<link>{self.url(a.path)}</link><dc:date>{a.published.isoformat()}</dc:date></item>"
            for a in self.newest()
        )
        return ("<?xml version='1.0' encoding='utf-8'?>\n"
                "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'"
                " xmlns:dc='http://purl.org/dc/elements/1.1/'>"
                f"<channel rdf:about='{self.base}/'><title>Fixture News</title><link>{self.base}/</link>"
                f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>")

    def _halves(self) -> tuple[list[FixtureArticle], list[FixtureArticle]]:
        arts = sorted(self.articles, key=lambda a: a.slug)
        mid = (len(arts) + 1) // 2
        return arts[:mid], arts[mid:]

    def urlset(self, arts: list[FixtureArticle]) -> str:
        urls = "".join(f"<url><loc>{self.url(a.path)}</loc><lastmod>{a.published.isoformat()}</lastmod></url>"
                       for a in arts)
        return ("<?xml version='1.0' encoding='UTF-8'?>\n"
                f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urls}</urlset>")

    def news_sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{self.url(a.path)}</loc><news:news><news:publication><news:name>Fixture News</news:name>"
            f"<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
            f"<news:title>{_xml_escape(a.title)}</news:title></news:news></url>"
            for a in self.newest()
        )
        return ("<?xml version='1.0' encoding='UTF-8'?>\n<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
                f" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{urls}</urlset>")

    def sitemap_index(self) -> str:
        first, second = self._halves()
        last = lambda arts: max((a.published for a in arts), default=datetime(2020, 1, 1, tzinfo=timezone.utc))  # noqa: E731
        entries = [("/sitemaps/pages.xml", last(first)), ("/sitemaps/pages-2.xml.gz", last(second)),
                   ("/sitemaps/news.xml", last(self.articles))]
        body = "".join(f"<sitemap><loc>{self.url(p)}</loc><lastmod>{d.isoformat()}</lastmod></sitemap>"
                       for p, d in entries)
        return ("<?xml version='1.0' encoding='UTF-8'?>\n"
                f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{body}</sitemapindex>")

    def section(self, page: int) -> str:
        arts = self.newest()
        cut = max(1, (2 * len(arts)) // 3)
        shown = arts[:cut] if page == 1 else arts[cut:]
        links = []
        for i, a in enumerate(shown):
            links.append(f"<li><a href='{a.path}'>{htmlmod.escape(a.title)}</a></li>")
            if i % 2 == 0:  # tracking-parameter and fragment variants of the same article
                links.append(f"<li><a href='{a.path}?utm_source=section&utm_medium=web&fbclid=x{i}'>more</a></li>")
                links.append(f"<li><a href='{self.url(a.path)}#comments'>comments</a></li>")
        nav = ["<a href='/section/news/page/2/'>older</a>"] if page == 1 else ["<a href='/section/news/'>newer</a>"]
        nav += ["<a href='https://twitter.example/share'>share</a>", "<a href='mailto:desk@example.org'>mail</a>",
                "<a href='/static/logo.png'>logo</a>", "<a href='/about/'>about</a>"]
        if self.trap:
            nav.append("<a href='/calendar/2020/01/'>calendar</a>")
        return ("<!doctype html><html><head><title>News section</title></head><body><nav>" + " ".join(nav)
                + "</nav><ul>" + "".join(links) + "</ul></body></html>")

    def calendar(self, year: int, month: int) -> str:
        def link(y: int, m: int) -> str:
            y, m = (y + (m - 1) // 12, (m - 1) % 12 + 1)
            return f"<a href='/calendar/{y:04d}/{m:02d}/'>{y}-{m:02d}</a>"

        days = "".join(f"<a href='/calendar/{year:04d}/{month:02d}/?day={d}'>{d}</a> " for d in range(1, 6))
        return (f"<!doctype html><html><head><title>Calendar {year}-{month:02d}</title></head><body>"
                f"{link(year, month - 1)} {link(year, month + 1)} {link(year + 1, month)} <p>{days}</p></body></html>")

    # -- hostile --------------------------------------------------------------------------------
    def hostile(self, name: str) -> bytes:
        a = self.newest()[0]
        item = f"<item><title>x</title><link>{self.url(a.path)}</link></item>"
        if name == "bomb":
            ents = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
            return ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol0 "lol">' + ents + ']>'
                    '<rss version="2.0"><channel><title>&lol9;</title>' + item + '</channel></rss>').encode()
        if name == "xxe":
            return ('<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                    '<rss version="2.0"><channel><title>&xxe;</title>' + item + '</channel></rss>').encode()
        if name == "broken":  # truncated mid-document: the first item is recoverable
            return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + item
                    + '<item><title>unterminated <b></title><link>').encode()
        if name == "garbage":
            return bytes(range(256)) * 20
        if name == "html":
            return b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
        if name == "latin1":  # declares UTF-8, is Latin-1
            return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Caf\xe9</title>'
                    + item.replace("<title>x</title>", "<title>r\xe9sum\xe9</title>")
                    + '</channel></rss>').encode("latin-1")
        if name == "ssrf":
            links = ["http://10.0.0.1/internal/article.html", "http://169.254.169.254/latest/meta-data/",
                     f"http://localhost:{self.port}{a.path}", f"http://[::1]:{self.port}{a.path}",
                     f"http://127.0.0.2:{self.port}{a.path}"]
            items = "".join(f"<item><title>p{i}</title><link>{u}</link></item>" for i, u in enumerate(links))
            return ('<?xml version="1.0"?><rss version="2.0"><channel><title>ssrf</title>' + items
                    + '</channel></rss>').encode()
        if name == "huge":
            return (b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
                    + b"A" * (12 * 1024 * 1024) + b"</title></channel></rss>")
        raise KeyError(name)
