"""Finding article URLs: feeds (RSS 2.0, RSS 1.0/RDF, Atom), sitemaps, section-page links.

Pure functions over bytes/str: no Scrapy, no network. The spider fetches, these parse.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

_TZ_ABBR = {
    "UT": "+0000", "UTC": "+0000", "GMT": "+0000", "Z": "+0000",
    "EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500",
    "MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
    "CET": "+0100", "CEST": "+0200", "BST": "+0100", "IST": "+0530",
}
_ISO_LOOSE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_date(value: str | None) -> datetime | None:
    """RFC 822 (RSS), ISO 8601 / W3C-DTF (Atom, sitemaps, dc:date), tolerant; tz-aware UTC or None."""
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    dt: datetime | None = None
    m = _ISO_LOOSE.match(value)
    if m:
        y, mo, d, hh, mm, ss, tz = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        except ValueError:
            return None
        if tz and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            tz = tz[1:].replace(":", "")
            dt = dt - sign * timedelta(hours=int(tz[:2]), minutes=int(tz[2:4]))
        return dt.replace(tzinfo=timezone.utc)
    text = value
    last = text.rsplit(" ", 1)
    if len(last) == 2 and last[1].upper() in _TZ_ABBR:
        text = f"{last[0]} {_TZ_ABBR[last[1].upper()]}"
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    if not (1990 <= dt.year <= 2200):
        return None
    return dt
