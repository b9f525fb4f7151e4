"""URL canonicalisation shared by the frontier (seen-URL store) and extraction (canonical_url)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

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
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"


def _is_tracking(name: str) -> bool:
    low = name.casefold()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def _clean_path(path: str) -> str:
    if not path:
        return "/"
    # Re-quote so "%7E" and "~" (or "é" and "%C3%A9") canonicalise to one form.
    path = quote(unquote(path), safe=_SAFE_PATH)
    return re.sub(r"/{2,}", "/", path)


def canonicalize(url: str, base: str | None = None) -> str:
    """Canonical form of ``url`` (resolved against ``base`` when relative).

    Lower-case scheme and host, default port dropped, fragment stripped, tracking
    parameters removed, remaining parameters sorted, empty path as "/".
    """
    url = (url or "").strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.casefold()
    if scheme not in ("http", "https"):
        return url  # mailto:, javascript:, data: ... nothing sensible to normalise
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError:
        pass
    host = host.casefold()
    netloc = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    query.sort()
    return urlunsplit((scheme, netloc, _clean_path(parts.path), urlencode(query, quote_via=quote), ""))


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
