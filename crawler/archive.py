"""Pages from archives: WARC / WARC.gz files (through warcio) and folders of saved .html pages
(or .html.gz: a saved page is read gunzipped whenever its bytes are gzip, whatever its name says).

``read_archive(path)`` yields one ``ArchivedPage`` per HTML response record (or saved page) and
one ``BadRecord`` per record it cannot use, with the reason, so the importer logs and counts it
and goes on. A file that stops making sense (truncated gzip, garbage where a record header
should be) ends with a ``BadRecord`` for the rest of that file: WARC records cannot be
resynchronised without their headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import structlog

from crawler.xml import XMLError, gunzip_capped, is_gzip

log = structlog.get_logger("crawler.archive")

__all__ = ["ArchivedPage", "BadRecord", "PageUnreadable", "archive_files", "read_archive", "saved_page_bytes"]

WARC_SUFFIXES = (".warc", ".warc.gz")
HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
# A compressed page is refused past this many bytes unpacked: the extractor takes no page of more
# than 6 million characters (crawler.extraction.MAX_HTML_CHARS, at most 4 bytes each in UTF-8),
# and a small .gz file can unpack to gigabytes.
MAX_SAVED_PAGE_BYTES = 24_000_000
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Browsers' "Save page as" writes where the page came from; the canonical link is the next best.
_SAVED_FROM = re.compile(rb"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.I)
_CANONICAL = re.compile(rb"<link\b[^>]*\brel=[\"']?canonical[\"']?[^>]*>", re.I)
_HREF = re.compile(rb"\bhref=[\"']?([^\"' >]+)", re.I)
_OG_URL = re.compile(rb"<meta\b[^>]*\bproperty=[\"']?og:url[\"']?[^>]*>", re.I)
_CONTENT = re.compile(rb"\bcontent=[\"']?([^\"' >]+)", re.I)


@dataclass
class ArchivedPage:
    url: str
    body: bytes
    content_type: str | None  # the HTTP Content-Type header, for decoding as a crawl would
    fetched_at: datetime | None
    where: str  # file and record offset, for logs


@dataclass
class BadRecord:
    where: str
    url: str
    reason: str


class PageUnreadable(ValueError):
    """A saved page whose bytes cannot be used (a corrupt or oversized gzip stream)."""


def saved_page_bytes(body: bytes) -> bytes:
    """The HTML bytes of a saved page: gunzipped when the file holds gzip (a ``.html.gz``, or a
    page saved as the server sent it, compressed). Raises PageUnreadable."""
    if not is_gzip(body):
        return body
    try:
        return gunzip_capped(body, MAX_SAVED_PAGE_BYTES)
    except XMLError as err:  # the gzip guard is shared with feeds and sitemaps
        raise PageUnreadable(f"gzip: {err}") from None


def archive_files(paths: list[str | Path]) -> list[Path]:
    """The WARC files and saved pages under the given paths (folders walked, sorted); raises
    FileNotFoundError naming a path that does not exist."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and _usable(f)))
        else:
            out.append(p)
    return out


def _usable(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(WARC_SUFFIXES) or name.endswith(HTML_SUFFIXES)


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def read_archive(path: Path) -> Iterator[ArchivedPage | BadRecord]:
    if is_warc(path):
        yield from _read_warc(path)
    else:
        yield _read_saved_page(path)


def _read_warc(path: Path) -> Iterator[ArchivedPage | BadRecord]:
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        try:
            for record in records:
                if record.rec_type != "response":
                    continue  # request, metadata, warcinfo records carry no page
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                page = _page(record, url, lambda: f"{path}@{records.get_record_offset()}")
                if page is not None:
                    yield page
        except Exception as err:
            # warcio cannot read the next record (no record header where one should start, a response record
            # without its WARC-Target-URI raises AttributeError: it raises what its parsing meets); the rest
            # of this file is lost, the other files are imported
            yield BadRecord(where=f"{path}@{stream.tell()}", url="", reason=f"unreadable WARC: {err!r}"[:300])


def _page(record, url: str, locate) -> ArchivedPage | BadRecord | None:
    """``locate()`` gives the record's offset; warcio knows it only once the body was read."""
    http = record.http_headers
    try:
        body = record.content_stream().read()
    except Exception as err:  # a broken chunked/gzip body: warcio raises what the codec raises
        return BadRecord(locate(), url, f"unreadable body: {err}")
    where = locate()
    if not url.startswith(("http://", "https://")):
        return BadRecord(where, url, "response record without an http(s) WARC-Target-URI")
    if http is None:
        return BadRecord(where, url, "response record without HTTP headers")
    status = http.get_statuscode()
    if not status or not status.isdigit():
        return BadRecord(where, url, f"unreadable HTTP status line {http.statusline!r}")
    if status != "200":
        return None  # redirects, errors: no page, nothing wrong with the archive
    ctype = http.get_header("Content-Type")
    if ctype and ctype.split(";")[0].strip().lower() not in _HTML_TYPES:
        return None
    return ArchivedPage(url=url, body=body, content_type=ctype, fetched_at=_warc_date(record), where=where)


def _warc_date(record) -> datetime | None:
    value = record.rec_headers.get_header("WARC-Date")
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _read_saved_page(path: Path) -> ArchivedPage | BadRecord:
    try:
        body = saved_page_bytes(path.read_bytes())
    except OSError as err:
        return BadRecord(str(path), "", f"cannot read: {err.strerror}")
    except PageUnreadable as err:
        return BadRecord(str(path), "", str(err))
    mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return ArchivedPage(url=saved_page_url(path, body), body=body, content_type=None, fetched_at=mtime,
                        where=str(path))


def saved_page_url(path: Path, body: bytes) -> str:
    """Where a saved page came from: the browser's "saved from" note, its canonical link, its Open Graph
    URL, else its file:// URI (so the document id is stable across re-imports of the same folder)."""
    head = body[:65536]
    m = _SAVED_FROM.search(head)
    if m and m.group(1).startswith((b"http://", b"https://")):
        return m.group(1).decode("ascii", "replace")
    for tags, value in ((_CANONICAL, _HREF), (_OG_URL, _CONTENT)):
        for tag in tags.finditer(head):
            found = value.search(tag.group(0))
            if found and found.group(1).startswith((b"http://", b"https://")):
                return found.group(1).decode("ascii", "replace")
    return path.resolve().as_uri()
