"""URL canonicalisation shared by the frontier (seen-URL store) and extraction (canonical_url).

w3lib's ``canonicalize_url`` (the one Scrapy uses) does the RFC 3986 work: lower-case scheme
and host, IDNA, dot segments resolved, unreserved escapes decoded and the rest upper-cased,
query arguments sorted, fragment dropped. It never folds two addresses a server may tell
apart: ``%2F`` is not ``/``, ``%3B`` is not ``;``, ``//`` is not ``/``, and a non-UTF-8 escape
(``%E9``) stays itself. On top: tracking parameters removed, the default port and a trailing
dot on the host dropped. Idempotent: a canonical URL canonicalises to itself.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["BadURL", "canonicalize", "check_http_url", "origin", "registrable_domain", "same_site",
           "split_credentials"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that identify the visit, not the document.
_TRACKING_EXACT = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
    "mc_cid", "mc_eid", "igshid", "igsh", "_ga", "_gl", "_hsenc", "_hsmi", "hsctatracking",
    "ref_src", "ref_url", "wt.mc_id", "wt_mc_id", "oly_anon_id", "oly_enc_id", "vero_id",
    "mkt_tok", "s_cid", "cmpid", "ocid", "ncid", "sr_share", "spm", "at_medium", "at_campaign",
    "rss", "xtor", "smid", "cid_source", "__twitter_impression",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "piwik_", "at_", "ga_", "hmb_")


_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class BadURL(ValueError):
    """Not a URL anything can fetch ("http://[::1", a port that is not a number): log it, skip it."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"bad URL {url[:200]!r}: {why}")
        self.url = url
        self.why = why


def _is_tracking(name: str) -> bool:
    low = unquote_plus(name).casefold()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def _without_tracking(query: str) -> str:
    # On the raw text: decoding and re-encoding here would fold escapes w3lib keeps apart.
    return "&".join(p for p in query.split("&") if p and not _is_tracking(p.split("=", 1)[0]))


def check_http_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host and a port that is a port; else ValueError saying why. For
    the URLs a user writes (a source's feeds, sitemaps, section pages, a homepage): said at once, not when
    the crawl meets them."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # read for its ValueError: a port out of range
    except ValueError as err:
        raise ValueError(f"not a URL: {url!r} ({err})") from None
    if not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r} (no host)")
    return url


def canonicalize(url: str, base: str | None = None) -> str:
    """Canonical form of ``url`` (resolved against ``base`` when relative).

    Only http(s) URLs are rewritten; ``mailto:``, ``javascript:``, ``data:``... come back as
    given. Raises :class:`BadURL` for an http(s) URL that cannot be parsed.
    """
    url = (url or "").strip()
    try:
        if base:
            url = urljoin(base, url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise BadURL(url, str(err)) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return url
    netloc = parts.netloc
    if not netloc:  # "http:example.com": no host to normalise, and urlunsplit would invent "///"
        return canonicalize_url(url, keep_blank_values=True)
    host = netloc.rpartition("@")[2]
    if port is not None and port == _DEFAULT_PORTS[scheme]:
        host = host.rpartition(":")[0]
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    if "@" in netloc:
        host = netloc.rpartition("@")[0] + "@" + host
    url = urlunsplit((scheme, host, parts.path, _without_tracking(parts.query), ""))
    # Dropping an empty "?", "#..." or a tracking parameter can leave a space or control character at
    # the end, which w3lib strips as the edge of the URL: it is part of the path or query, so escape it.
    bare = url.rstrip("".join(map(chr, range(0x21))))
    url = bare + "".join(f"%{ord(c):02X}" for c in url[len(bare):])
    # A "%" that starts no escape is a literal percent sign: written as one ("%25"), so that what
    # follows cannot pair with it into an escape on the next pass ("%a%41" -> "%aA" -> "%AA").
    url = _LONE_PERCENT.sub("%25", url)
    try:
        return canonicalize_url(url, keep_blank_values=True)
    except (ValueError, UnicodeError) as err:
        raise BadURL(url, str(err)) from None


# Second-level labels under which the registrable domain has three labels (bbc.co.uk, abc.net.au).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go", "gv", "nic"})


def registrable_domain(url: str) -> str:
    """Registrable-domain-ish host: "www.bbc.co.uk" -> "bbc.co.uk", "edition.cnn.com" -> "cnn.com".

    A heuristic, not the Public Suffix List: good enough to tell a site's own hosts from others
    without shipping (or fetching) the list.
    """
    host = (urlsplit(url if "//" in url else "//" + url).hostname or "").casefold().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    if re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host):
        return host  # an IP address has no parent domain
    return ".".join(labels[-2:])


def same_site(a: str, b: str) -> bool:
    """True when both URLs belong to the same registrable domain (www./m./edition. alike)."""
    sa, sb = registrable_domain(a), registrable_domain(b)
    return bool(sa) and sa == sb


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its user info, and the (user, password) it held, percent-decoded; None when it held none."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment)), (unquote(user), unquote(password))


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``url`` (the default port filled in): what HTTP credentials are scoped to."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").rstrip("."), port or _DEFAULT_PORTS.get(parts.scheme.lower())
