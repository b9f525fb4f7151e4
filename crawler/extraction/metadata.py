"""Title, description, section, tags, top image, canonical and original URL: one function per field."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath

from crawler.extraction.normalize import clean_inline
from crawler.extraction.page import Page
from crawler.urls import BadURL, canonicalize, same_site

_LINKS_WITH_REL = XPath("descendant::link[@rel]")
# Separators sites put between headline and site name in <title> / og:title.
# A bar needs no spaces around it, nor does a dash or bar beside CJK text, which has no spaces
# ("NEWS WEB EASY|子どもへの…", "…英雄的城！-新华网").
_CJK = "\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef"
_TITLE_SEPARATORS = re.compile(r"\s+(?:[|–—·•›»~⋆:]{1,2}|-{1,2}|::)\s+|\s*[|｜]\s*"
                               rf"|(?<=[{_CJK}])\s*[-_–—]\s*|\s*[-_–—]\s*(?=[{_CJK}])")


def _fold(value: str) -> str:
    return re.sub(r"\W+", " ", value).casefold().strip()


def _jsonld_str(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or ""
    return clean_inline(value if isinstance(value, str) else "")


def _suffixed(title: str, html_title: str) -> bool:
    """Whether the page's <title> is ``title`` and more after a separator: that more is the site's name,
    and ``title`` has none of its own."""
    rest = html_title[len(title):] if html_title.startswith(title) else ""
    return bool(rest.strip()) and _TITLE_SEPARATORS.match(rest) is not None


def _strip_site_name(title: str, names: set[str], *, guess: bool = True) -> str:
    """Drop the "| Site Name" part of a <title>-like string, keeping the headline span. Without a known
    name, a short end (or start) part is taken for the site's unless ``guess`` is False."""
    seps = list(_TITLE_SEPARATORS.finditer(title))
    if not seps:
        return title
    bounds = [0, *(m.start() for m in seps), len(title)]
    starts = [0, *(m.end() for m in seps)]
    parts = [(starts[i], bounds[i + 1]) for i in range(len(starts))]
    is_site = [_fold(title[a:b]) in names or any(_fold(title[a:b]) in n for n in names if len(_fold(title[a:b])) > 3)
               for a, b in parts]
    kept = [p for p, site in zip(parts, is_site) if not site]
    if kept and len(kept) < len(parts):
        longest = max(kept, key=lambda p: p[1] - p[0])
        if len(kept) > 1 and all(len(title[a:b].split()) <= 2 for a, b in kept if (a, b) != longest):
            # the rest is a breadcrumb of sections beside the site's name ("| iPhone | Forum |")
            return title[longest[0]:longest[1]].strip()
        return title[kept[0][0]:kept[-1][1]].strip()
    return _without_short_end(title, parts) if guess else title


def _without_short_end(title: str, parts: list[tuple[int, int]]) -> str:
    """No known name: a short end part (<= 4 words, much shorter than the rest) is the site's, or else a
    short first part (<= 3 words)."""
    (a0, b0), (a1, b1) = parts[0], parts[-1]
    head, tail = title[a0:b0], title[a1:b1]
    if len(tail.split()) <= 4 and len(tail) < 0.6 * (a1 - a0):
        return title[:parts[-2][1]].strip()
    if len(head.split()) <= 3 and len(head) < 0.6 * (b1 - parts[1][0]):
        return title[parts[1][0]:].strip()
    return title


def site_names(page: Page) -> set[str]:
    names = {page.meta_first("og:site_name"), page.meta_first("application-name"),
             page.meta_first("twitter:site").lstrip("@")}
    names.add(_jsonld_str(page.jsonld_article.get("publisher")))
    host = urlsplit(page.url).hostname or ""
    host = host[4:] if host.startswith("www.") else host
    names.update({host, host.rsplit(".", 1)[0]})
    return {_fold(n) for n in names if n}


def _shown_title(page: Page, references: list[str], names: set[str]) -> str | None:
    """The visible h1, which readers (and the truth sets) call the title, when the document's own
    metadata agrees with it; that also rules out h1 logos and section names. None when no h1 does."""
    folded_refs = [_fold(t) for t in references]
    for h1 in page.h1s:
        f = _fold(h1)
        if len(f) < 4:
            continue
        held = [(t, r) for t, r in zip(references, folded_refs) if r != f and r in f and len(r) > 0.6 * len(f)]
        if held:
            # the h1 holds the headline and more: a kicker before it ("Immobilienkrise", "Headline:"),
            # which the metadata leaves out, or a section before it or the site after it
            kicked = [t for t, r in held if f.endswith(r)]
            return kicked[0] if kicked else _strip_site_name(h1, names)
        if any(f == r or (f in r and len(f) > 0.3 * len(r)) for r in folded_refs):
            return h1
    return None


def title(page: Page) -> str:
    headline = _jsonld_str(page.jsonld_article.get("headline"))
    og = page.meta_first("og:title", "twitter:title")
    html_title = page.html_title
    names = site_names(page)
    shown = _shown_title(page, [t for t in (headline, og, html_title) if t], names)
    if shown is not None:
        return shown
    if headline:
        return _strip_site_name(headline, names, guess=not _suffixed(headline, html_title))
    if og:
        return _strip_site_name(og, names, guess=not _suffixed(og, html_title))
    if len(page.h1s) == 1 and len(page.h1s[0].split()) >= 2:
        return page.h1s[0]
    return _strip_site_name(html_title, names)


def description(page: Page) -> str:
    return (page.meta_first("og:description", "description", "twitter:description")
            or _jsonld_str(page.jsonld_article.get("description")))


def _breadcrumb(page: Page) -> list[str]:
    for obj in page.jsonld:
        kinds = obj.get("@type")
        if kinds == "BreadcrumbList" or (isinstance(kinds, list) and "BreadcrumbList" in kinds):
            items = obj.get("itemListElement") or []
            items = sorted((i for i in items if isinstance(i, dict)), key=lambda i: i.get("position", 0))
            names = [_jsonld_str(i.get("name") or i.get("item")) for i in items]
            return [n for n in names if n]
    return []


def section(page: Page) -> str:
    """Slash-joined section path ("Politics/Europe"): article:section values, JSON-LD, breadcrumb."""
    values = page.meta.get("article:section") or []
    if not values:
        js = page.jsonld_article.get("articleSection")
        values = js if isinstance(js, list) else [js] if js else []
    parts: list[str] = []
    for v in values:
        for p in re.split(r"\s*[/>›»|]\s*", clean_inline(str(v))):
            if p and p not in parts:
                parts.append(p)
    if parts:
        return "/".join(parts)
    crumbs = _breadcrumb(page)
    # The first crumb is "Home", the last the article itself.
    crumbs = [c for c in crumbs[1:-1] if _fold(c) not in {"home", "startseite", "accueil"}]
    return "/".join(crumbs)


def tags(page: Page) -> list[str]:
    raw: list[str] = list(page.meta.get("article:tag") or [])
    kw = page.jsonld_article.get("keywords")
    if isinstance(kw, list):
        raw.extend(str(k) for k in kw)
    elif isinstance(kw, str):
        raw.extend(kw.split(","))
    if not raw:
        raw.extend((page.meta_first("news_keywords", "keywords") or "").split(","))
    out: list[str] = []
    seen: set[str] = set()
    for t in raw:
        t = clean_inline(t)
        if t and t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    return out


def _jsonld_url(value: Any) -> str:
    """A JSON-LD image: a URL, an ImageObject's ``url``, or the first of a list of either."""
    if isinstance(value, list):
        return _jsonld_url(value[0]) if value else ""
    if isinstance(value, dict):
        return _jsonld_url(value.get("url"))
    return clean_inline(value) if isinstance(value, str) else ""


def image(page: Page) -> str:
    img = page.meta_first("og:image", "og:image:url", "twitter:image", "twitter:image:src") or \
        _jsonld_url(page.jsonld_article.get("image"))
    try:
        return urljoin(page.url, img) if img else ""
    except ValueError:  # "http://[::1": no address to show
        return ""


def _declared_canonicals(page: Page) -> list[str]:
    """rel=canonical links, then og:url, resolved and canonicalised (http(s) only); worked out
    once per page, as both ``canonical_url`` and ``original_url`` read them."""
    cached = page._cache.get("declared_canonicals")
    if cached is not None:
        return cached
    candidates = [el.get("href", "") for el in _LINKS_WITH_REL(page.tree)
                  if "canonical" in el.get("rel").casefold().split()]
    candidates.append(page.meta_first("og:url"))
    out = []
    for href in candidates:
        href = (href or "").strip()
        if not href:
            continue
        try:
            absolute = canonicalize(href, base=page.url)
        except BadURL:
            continue
        if absolute.startswith(("http://", "https://")):
            out.append(absolute)
    page._cache["declared_canonicals"] = out
    return out


def _port(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def _same_site(a: str, b: str) -> bool:
    # the port too: two servers on one address (127.0.0.1:8001, :8002) are two sites
    return same_site(a, b) and _port(a) == _port(b)


def canonical_url(page: Page) -> str:
    """rel=canonical (then og:url) only when it stays on the page's own site: a cross-site
    canonical is either syndication credit or a hijack, and the page we fetched is what we index
    (its document id derives from this URL)."""
    for absolute in _declared_canonicals(page):
        if _same_site(absolute, page.url):
            return absolute
    return canonicalize(page.url)


def original_url(page: Page) -> str:
    """A rel=canonical (or og:url) on another site: the original this page republishes, "" if none.
    It puts the copy in the original's story; it never names the copy's document."""
    for absolute in _declared_canonicals(page):
        if not _same_site(absolute, page.url):
            return absolute
    return ""
