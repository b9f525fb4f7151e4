"""robots.txt as a discovery document: the sitemaps its ``Sitemap:`` lines name.

    robots_url("https://example.com/news/")              # "https://example.com/robots.txt"
    sitemaps_in_robots(body, "https://example.com/robots.txt")   # absolute sitemap URLs, in order

Parsing goes through Protego, the parser Scrapy's robots middleware uses, so the spider and
``sources add`` read a file the way the politeness rules do.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from protego import Protego

__all__ = ["robots_url", "robots_urls", "sitemaps_in_robots"]

MAX_SITEMAPS = 50  # a robots.txt naming more is hostile or generated; the first ones are enough


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def robots_urls(urls: list[str]) -> list[str]:
    """The robots.txt of each distinct host of ``urls``, in first-seen order."""
    return list(dict.fromkeys(robots_url(u) for u in urls if u.startswith(("http://", "https://"))))


def sitemaps_in_robots(body: bytes | str, url: str) -> list[str]:
    """The http(s) sitemap URLs of a robots.txt, resolved against its URL, without repeats."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    found: list[str] = []
    for loc in Protego.parse(text).sitemaps:
        absolute = urljoin(url, loc.strip())
        if absolute.startswith(("http://", "https://")) and absolute not in found:
            found.append(absolute)
        if len(found) >= MAX_SITEMAPS:
            break
    return found
