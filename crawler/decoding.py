"""Bytes of an HTML page -> text, for a crawl, an import and ``mediawatch extract`` alike.

Servers lie about charsets: ``ISO-8859-1`` and ``windows-1252`` are everyday defaults on pages
whose bytes are UTF-8, and a page's ``<meta>`` is sometimes right where its header is not. The
order, first answer wins:

1. a byte-order mark;
2. bytes that are valid UTF-8 and not pure ASCII are UTF-8, whatever the labels say (text in
   another encoding is almost never valid UTF-8 by chance);
3. the HTTP header's charset, if the bytes decode under it; when it is only a server default
   (latin-1 / windows-1252) and the ``<meta>`` names another charset that fits, the ``<meta>``;
4. the ``<meta>`` (or XML declaration) charset, if the bytes decode under it;
5. detection (charset-normalizer);
6. the declared charset, or windows-1252, with replacement characters.

Label parsing, the ``<meta>`` prescan and WHATWG label mapping are w3lib's (Scrapy's own).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import charset_normalizer
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

__all__ = ["Decoded", "decode_html", "header_charset", "log_decision"]

# Labels a server sends when nobody configured one; a page's own <meta> knows better.
_SERVER_DEFAULTS = {"cp1252", "latin_1", "iso8859_1", "ascii"}


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the Python codec used
    why: str  # which rule decided: bom, utf8, header, meta, detected, fallback
    header: str | None = None  # the header's charset, resolved, for the log


def _codec(label: str | None) -> str | None:
    """The Python codec a charset label names, if it is one a page can be written in. w3lib resolves any
    codec's name, and a label on the web may name ``rot13``, ``base64``, ``idna`` or ``undefined``: codecs
    that are no text encoding, or refuse to replace what they cannot read. Such a label is no label."""
    if not label:
        return None
    name = resolve_encoding(label)
    if not name:
        return None
    try:
        name = codecs.lookup(name).name
        b"<".decode(name, "replace")  # (an empty probe is answered without the codec)
    except (LookupError, UnicodeError):
        return None
    return name


def _strict(body: bytes, encoding: str | None) -> str | None:
    if encoding is None:
        return None
    try:
        return body.decode(encoding)
    except (UnicodeError, LookupError):  # UnicodeError: some codecs (punycode) raise it, not its subclass
        return None


def header_charset(content_type: str | bytes | None) -> str | None:
    """The codec a ``Content-Type`` header's charset names, if a page can be written in it."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return _codec(http_content_type_encoding(content_type)) if content_type else None


def decode_html(body: bytes, content_type: str | bytes | None = None) -> Decoded:
    header = header_charset(content_type)

    bom, mark = read_bom(body)
    if bom:
        return Decoded(body[len(mark):].decode(bom, "replace"), codecs.lookup(bom).name, "bom", header)

    if not body.isascii():
        text = _strict(body, "utf-8")
        if text is not None:
            return Decoded(text, "utf-8", "utf8", header)

    meta = _codec(html_body_declared_encoding(body))
    text = _strict(body, header)
    if text is not None:
        if header in _SERVER_DEFAULTS and meta and meta != header and not body.isascii():
            by_meta = _strict(body, meta)
            if by_meta is not None:
                return Decoded(by_meta, meta, "meta", header)
        return Decoded(text, header, "header", header)

    text = _strict(body, meta)
    if text is not None:
        return Decoded(text, meta, "meta", header)

    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii", "ascii", header)

    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        detected = _codec(best.encoding) or best.encoding
        text = _strict(body, detected)
        if text is not None:
            return Decoded(text, detected, "detected", header)

    fallback = header or meta or "cp1252"
    return Decoded(body.decode(fallback, "replace"), fallback, "fallback", header)


def log_decision(logger, url: str, decoded: Decoded, **context) -> None:
    """The decision at debug level, where a wrong text can be traced to the label that misled it."""
    logger.debug("charset", url=url, charset_header=decoded.header, charset_used=decoded.encoding, why=decoded.why,
                 **context)
