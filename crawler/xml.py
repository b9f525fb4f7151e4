"""Safe XML parsing for feeds and sitemaps fetched from the open web.

Every document we parse was written by someone else, so:

* entity declarations (``<!ENTITY ...>`` in a DOCTYPE internal subset) are refused outright:
  that closes billion-laughs / quadratic-blowup bombs and external-entity (XXE) reads alike;
* lxml never resolves entities, never touches the network, never loads a DTD, and refuses
  huge trees (``huge_tree=False`` keeps libxml2's depth and size limits);
* broken markup is recovered where libxml2 can (``recover=True``): a truncated feed still
  gives the items before the break;
* a document that names no encoding and is not UTF-8 is read under the HTTP header's charset;
  a missing or wrong encoding declaration otherwise falls back to a charset sniff.

Problems raise :class:`XMLRefused` (hostile: do not retry) or :class:`XMLBroken`
(unparseable) with a short machine ``reason`` for the run accounting and the log.
"""

from __future__ import annotations

import codecs
import re
import zlib

from lxml import etree

__all__ = ["XMLBroken", "XMLError", "XMLRefused", "guard_xml", "gunzip_capped", "is_gzip", "local", "looks_like_html",
           "parse_xml", "text_of", "without_declared_encoding"]

MAX_XML_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own cap (uncompressed)


class XMLError(ValueError):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):
        # rebuilt from (reason, detail), not from the message: it crosses the worker pool's pickling
        return type(self), (self.reason, self.detail)


class XMLRefused(XMLError):
    """The document is hostile (entity declarations, XXE, too big): refused, not parsed."""


class XMLBroken(XMLError):
    """The document is not XML we can recover anything from."""


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ROOT_START = re.compile(rb"<(?![?!])")
_XML_DECL = re.compile(rb"^\s*<\?xml(?:[^?]|\?(?!>)){0,400}\?>", re.IGNORECASE)  # to the first "?>"
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
# feedparser's reading of a declared encoding (its encodings.RE_XML_PI_ENCODING): the last "encoding="
# on the first line of a leading processing instruction
_PI_ENCODING = re.compile(rb"""^<\?.*(encoding=['"](.*?)['"]).*\?>""")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,
        collect_ids=False,
    )


def _to_utf8(body: bytes) -> bytes:
    """Re-encode UTF-16/32 (BOM) documents so the byte-level checks below see ASCII markup."""
    for bom, enc in _BOMS:
        if body.startswith(bom):
            if enc == "utf-8":
                return body[len(bom):]
            text = body[len(bom):].decode(enc, errors="replace")
            return _XML_DECL.sub(b"", text.encode("utf-8"), count=1)
    if body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        enc = "utf-16-le" if body[0] == 0x3C else "utf-16-be"
        return _XML_DECL.sub(b"", body.decode(enc, errors="replace").encode("utf-8"), count=1)
    return body


def check_prolog(body: bytes) -> None:
    """Refuse entity declarations anywhere in the DOCTYPE (internal subset), and any DOCTYPE
    that carries an internal subset at all (nothing legitimate in a feed needs one)."""
    m = _DOCTYPE.search(body)
    if not m:
        return
    root = _ROOT_START.search(body, m.end())
    prolog = body[m.start(): root.start() if root else len(body)]
    if _ENTITY.search(prolog) or _ENTITY.search(body, m.end(), m.end() + 1_000_000):
        raise XMLRefused("xml_entities", "entity declarations are refused (XML bomb / XXE)")
    if b"[" in prolog:
        raise XMLRefused("xml_dtd_subset", "a DOCTYPE internal subset is refused")


def gunzip_capped(body: bytes, limit: int = MAX_XML_BYTES) -> bytes:
    """Decompress gzip without trusting the stream: stop (and refuse) past ``limit`` bytes."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as err:
        raise XMLBroken("gzip_corrupt", str(err)) from None
    if len(out) > limit:
        raise XMLRefused("too_large", f"decompressed size exceeds {limit} bytes (gzip bomb?)")
    return out


def is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"


def _declared_encoding(body: bytes) -> str | None:
    m = _XML_DECL.match(body)
    if not m:
        return None
    enc = _DECL_ENCODING.search(m.group(0))
    return enc.group(1).decode("ascii").lower() if enc else None


def _sniff_decode(body: bytes, declared: str | None) -> str:
    """Decode bytes whose declared encoding lied: UTF-8 if it is, else the declaration, else cp1252."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for enc in (declared, "cp1252"):
        if enc:
            try:
                return body.decode(enc)
            except (LookupError, UnicodeError):  # UnicodeError: "undefined", "idna" raise it, not its subclass
                continue
    return body.decode("latin-1")


def guard_xml(body: bytes, *, limit: int = MAX_XML_BYTES, charset: str | None = None) -> bytes:
    """The bytes of an untrusted XML document (gzip allowed), checked before any parser sees them:
    decompressed within ``limit``, no bigger than it, UTF-16/32 re-encoded as UTF-8, no entity
    declarations. ``charset``: the HTTP header's (``decoding.header_charset``), for a document that
    names none. Raises XMLRefused / XMLBroken."""
    if not body or not body.strip():
        raise XMLBroken("empty", "empty document")
    if is_gzip(body):
        body = gunzip_capped(body, limit)
    if len(body) > limit:
        raise XMLRefused("too_large", f"{len(body)} bytes > {limit}")
    body = _to_utf8(body)
    check_prolog(body)
    return _as_labelled(body, charset)


def _as_labelled(body: bytes, charset: str | None) -> bytes:
    """Bytes that are not UTF-8 and declare no encoding (no BOM, none in the XML declaration), re-encoded
    from the HTTP header's charset when they decode under it: a parser would take them for UTF-8, and
    read a windows-1251 feed's titles as windows-1252. Where the document names its encoding, that wins
    (a server's default label is wrong more often than a document's own)."""
    # most labels say utf-8, which tells a parser nothing it would not assume: no need to decode the whole
    # document to find that out
    if not charset or charset == "utf-8" or _declared_encoding(body) is not None:
        return body
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    try:
        return body.decode(charset).encode("utf-8")
    except (UnicodeError, LookupError):
        return body


def without_declared_encoding(body: bytes) -> bytes:
    """The document without the ``encoding="..."`` of its leading processing instruction, found as
    feedparser finds it (the last one on the first line; dropping it may uncover another): a parser then
    sniffs the charset, as for a document that declares none."""
    while (m := _PI_ENCODING.match(body)) is not None:
        body = body[:m.start(1)] + body[m.end(1):]
    return body


def parse_xml(body: bytes, *, limit: int = MAX_XML_BYTES, charset: str | None = None) -> etree._Element:
    """Parse untrusted XML bytes (gzip allowed) into an lxml root element, safely. ``charset``: as for
    :func:`guard_xml`."""
    body = guard_xml(body, limit=limit, charset=charset)
    declared = _declared_encoding(body)
    root = None
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError):
        root = None
    bad_encoding = False
    if root is not None and declared in (None, "utf-8", "utf8"):
        # libxml2 "recovers" invalid UTF-8 by truncating: check, and re-decode if it lied.
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            bad_encoding = True
    if root is None or bad_encoding:
        text = _sniff_decode(body, declared)
        text = _XML_DECL.sub(b"", text.encode("utf-8"), count=1).decode("utf-8")
        try:
            root = etree.fromstring(text.encode("utf-8"), _parser())
        except (etree.XMLSyntaxError, ValueError) as err:
            raise XMLBroken("xml_malformed", str(err)[:200]) from None
    if root is None:
        raise XMLBroken("xml_malformed", "nothing recoverable")
    return root


_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)


def looks_like_html(body: bytes) -> bool:
    """An HTML page (an error page, a login wall) where XML was expected."""
    return bool(_HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")))


def local(tag: object) -> str:
    """Local name of an lxml tag ('{ns}item' -> 'item'); '' for comments / PIs."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def text_of(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()

