"""Section-page link discovery: the links of a listing page, filtered by the source's rules.

    links = extract_links(html, page_url)               # [(absolute url, anchor text)]
    rules = LinkRules.for_source(source)
    verdict = rules.check(url)                          # None when followable, else a reason

Filtering order: scheme -> non-HTML extension -> domain (allowed_domains, else same site as
the entry points) -> deny patterns -> allow patterns (when any are given, one must match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from crawler.urls import same_site

__all__ = ["LinkRules", "extract_links", "host_allowed", "NON_HTML_EXTENSIONS"]

NON_HTML_EXTENSIONS = frozenset(
    "jpg jpeg png gif webp svg ico bmp tif tiff avif heic mp3 mp4 m4a m4v mov avi wmv webm ogg "
    "wav flac pdf zip gz tgz bz2 xz 7z rar tar exe dmg apk msi iso bin doc docx xls xlsx ppt pptx "
    "odt ods csv json css js woff woff2 ttf eot rss atom xml ics vcf epub mobi".split()
)
MAX_LINKS_PER_PAGE = 1000


def parse_page(html: str | bytes, page_url: str) -> tuple[lxml.html.HtmlElement, str] | None:
    """The page's tree and the URL its links resolve against (``<base href>``, else the page's own),
    or None for an empty or unparsable page."""
    if not html:
        return None
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    base = page_url
    for b in doc.iterfind(".//base[@href]"):
        try:
            base = urljoin(page_url, b.get("href", "").strip())
        except ValueError:  # "http://[::1": the page's own URL stays the base
            pass
        break
    return doc, base


def extract_links(html: str | bytes, page_url: str, *, limit: int = MAX_LINKS_PER_PAGE) -> list[tuple[str, str]]:
    """Absolute http(s) links of a page (``<base href>`` honoured), in document order, unique."""
    parsed = parse_page(html, page_url)
    if parsed is None:
        return []
    doc, base = parsed
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for a in doc.iter("a", "area"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        rel = (a.get("rel") or "").lower()
        if "nofollow" in rel.split() and "ugc" in rel.split():
            continue  # user-generated links (comments): not the site's own content
        try:
            url = urljoin(base, href)
        except ValueError:
            continue
        if not url.startswith(("http://", "https://")):
            continue
        url = url.split("#", 1)[0]
        if url in seen:
            continue
        seen.add(url)
        text = " ".join((a.text_content() or "").split())[:200] if a.tag == "a" else ""
        out.append((url, text))
        if len(out) >= limit:
            break
    return out


def host_allowed(url: str, allowed_domains: list[str], entry_points: list[str]) -> bool:
    """True when ``url`` is on an allowed domain (or, with none configured, the entry points' site)."""
    host = (urlsplit(url).hostname or "").casefold().rstrip(".")
    if not host:
        return False
    if allowed_domains:
        for dom in allowed_domains:
            dom = dom.casefold().strip().lstrip(".").strip("[]")
            if dom.count(":") == 1:  # "host:port" (an IPv6 address has several colons)
                dom = dom.split(":", 1)[0]
            if host == dom or host.endswith("." + dom):
                return True
        return False
    return any(same_site(url, ep) for ep in entry_points)


def _extension(url: str) -> str:
    path = urlsplit(url).path
    last = path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].casefold() if "." in last else ""


@dataclass
class LinkRules:
    allowed_domains: list[str] = field(default_factory=list)
    entry_points: list[str] = field(default_factory=list)
    allow: list[re.Pattern[str]] = field(default_factory=list)
    deny: list[re.Pattern[str]] = field(default_factory=list)

    @classmethod
    def build(cls, *, allowed_domains=(), entry_points=(), allow=(), deny=()) -> "LinkRules":
        return cls(
            allowed_domains=list(allowed_domains),
            entry_points=list(entry_points),
            allow=[re.compile(p) for p in allow],
            deny=[re.compile(p) for p in deny],
        )

    def domain_ok(self, url: str) -> bool:
        return host_allowed(url, self.allowed_domains, self.entry_points)

    def check(self, url: str, *, patterns: bool = True) -> str | None:
        """None when the link may be followed, else the reason it is not (for the accounting)."""
        if not url.startswith(("http://", "https://")):
            return "scheme"
        if _extension(url) in NON_HTML_EXTENSIONS:
            return "non_html"
        if not self.domain_ok(url):
            return "offsite"
        if patterns:
            if any(p.search(url) for p in self.deny):
                return "denied"
            if self.allow and not any(p.search(url) for p in self.allow):
                return "not_allowed"
        return None
