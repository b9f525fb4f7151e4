"""One date parser for feeds, sitemaps and pages: a string in, a tz-aware datetime or None out.

    parse_date("Sat, 10 Oct 2020 16:05:00 MEST")  # 2020-10-10 16:05+02:00
    parse_date("2020-10-10T16:05:00-01:01")         # 2020-10-10 16:05-01:01
    parse_date("9999-12-31T23:59:59-99:99")         # None

The result keeps the offset the date was written with (a named zone becomes its fixed
offset; no zone at all reads as UTC). Aware datetimes compare by instant, so discovery's
freshness checks and the frontier (which stores UTC) are indifferent to it, while extraction
keeps the publisher's calendar day: an article stamped 23:30-03:00 was published on that day
where it was written, not on the next one in UTC. ``.astimezone(timezone.utc)`` is one call
away, and safe, because years are bounded.

Formats: W3C-DTF and the rest of ISO 8601 (basic, week and ordinal dates), RFC 822 / 2822 /
850, asctime, and what dateutil reads ("October 10, 2020 4:05 pm EDT", "10.10.2020"), with
Greek and Hungarian month names and Korean a.m./p.m. markers (in KST) as feeds write them.

Never raises: garbage, impossible fields, offsets of a day or more and years outside
[MIN_YEAR, MAX_YEAR] all give None. Dates without a day ("2020", "2020-10") give None too:
they say nothing about when an article appeared, and a day filled in would outrank a real
date further down a page.
"""

from __future__ import annotations

import calendar
import re
import warnings
from datetime import datetime, timedelta, timezone

from dateutil import parser as dateutil_parser

__all__ = ["MAX_YEAR", "MIN_YEAR", "ZONES", "parse_date"]

# Nothing we crawl predates 1990; earlier years are epoch defaults or two-digit-year accidents.
MIN_YEAR = 1990
MAX_YEAR = 2200
_MAX_LEN = 80  # longer strings are prose, not a date

# Named zones seen in feeds and pages, as fixed offsets in minutes. Abbreviations are ambiguous
# in the wild (IST, CST); each takes the reading news sites use most. The generic US names
# (ET, CT, MT, PT) and Europe's MET/MEST follow the RFC 822 tradition feed readers share.
_Z = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "IST": 330,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "MEZ": 60, "MESZ": 120,
    "EET": 120, "EEST": 180, "MSK": 180, "TRT": 180, "GST": 240, "PKT": 300,
    "ICT": 420, "WIB": 420, "HKT": 480, "SGT": 480, "AWST": 480, "PHT": 480,
    "JST": 540, "KST": 540, "ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660,
    "NZST": 720, "NZDT": 780,
    "AST": -240, "ADT": -180, "AT": -240, "EST": -300, "EDT": -240, "ET": -300,
    "CST": -360, "CDT": -300, "CT": -360, "MST": -420, "MDT": -360, "MT": -420,
    "PST": -480, "PDT": -420, "PT": -480, "AKST": -540, "AKDT": -480, "HST": -600,
    "NST": -210, "NDT": -150, "BRT": -180, "ART": -180,
}
ZONES: dict[str, timezone] = {name: timezone(timedelta(minutes=m)) for name, m in _Z.items()}

# Month names of the non-English formats feeds are written in (Greek RFC 822, Hungarian
# W3C-DTF), lower case, accents and all, to the English abbreviation; Greek weekdays go.
_FOREIGN = {
    **dict.fromkeys(("ιαν", "ιανουαρίου"), "Jan"), **dict.fromkeys(("φεβ", "φεβρουαρίου"), "Feb"),
    **dict.fromkeys(("μαρ", "μάρ", "μαρτίου"), "Mar"), **dict.fromkeys(("απρ", "απριλίου"), "Apr"),
    **dict.fromkeys(("μαΐ", "μαϊ", "μάι", "μαι", "μαΐου"), "May"), **dict.fromkeys(("ιουν", "ιούν", "ιουνίου"), "Jun"),
    **dict.fromkeys(("ιουλ", "ιούλ", "ιουλίου"), "Jul"), **dict.fromkeys(("αυγ", "αύγ", "αυγούστου"), "Aug"),
    **dict.fromkeys(("σεπ", "σεπτεμβρίου"), "Sep"), **dict.fromkeys(("οκτ", "οκτωβρίου"), "Oct"),
    **dict.fromkeys(("νοε", "νοέ", "νοεμβρίου"), "Nov"), **dict.fromkeys(("δεκ", "δεκεμβρίου"), "Dec"),
    **dict.fromkeys(("κυρ", "δευ", "τρι", "τετ", "πεμ", "πέμ", "παρ", "σαβ", "σάβ"), ""),
    "január": "Jan", "február": "Feb", "március": "Mar", "április": "Apr", "május": "May", "június": "Jun",
    "július": "Jul", "augusztus": "Aug", "szeptember": "Sep", "október": "Oct", "november": "Nov",
    "december": "Dec",
}
_WORD = re.compile(r"[^\W\d_]+")
# Korean blogs: "2004-05-25 오후 11:23:17" (오전 a.m., 오후 p.m.), "2004년 05월 28일 01:31:15", in KST.
_KOREAN_HALF = re.compile(r"(오전|오후)\s*(\d{1,2}:\d{2}(?::\d{2})?)")
_KOREAN_UNITS = str.maketrans({"년": "-", "월": "-", "일": " "})
_ENDS_WITH_ZONE = re.compile(r"(?:[+-]\d{2}:?\d{2}|\b(?!AM\b|PM\b)[A-Za-z]{1,5})$")

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# "GMT+01:00" is an offset east of Greenwich, as written (not POSIX's inverted "GMT+1").
_OFFSET = r"(?P<tz>(?:(?:GMT|UTC|UT)\s*)?[+-]\d{2}(?::?\d{2})?|Z|[A-Za-z]{1,5})"
# W3C-DTF / ISO 8601 (Atom, sitemaps, dc:date, JSON-LD, <time>), extended or basic form.
_ISO = re.compile(
    r"(?P<y>\d{4})-?(?P<mo>\d{2})-?(?P<d>\d{2})"
    r"(?:[Tt ]?(?P<h>\d{2}):?(?P<mi>\d{2})(?::?(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"\s*" + _OFFSET + r"?"
)
# RFC 822 / 2822 (RSS pubDate, HTTP dates): [Weekday,] day month year [hh:mm[:ss]] [zone] [(comment)].
_RFC822 = re.compile(
    r"(?:[A-Za-z]+\.?,?\s*)?(?P<d>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3,9})\.?,?[\s-]+(?P<y>\d{2,4}),?"
    r"(?:\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
    r"\s*" + _OFFSET + r"?\s*(?:\([^)]*\))?"
)
_ZONE_PREFIX = re.compile(r"^(?:GMT|UTC|UT)\s*(?=[+-])")
_ORDINAL = re.compile(r"(\d{4})-?(\d{3})")
_NO_DAY = re.compile(r"\d{4}(?:-\d{2})?")
# "2020/10/09" is year-month-day wherever it stands; "10/09/2020" is read day first (Europe's order).
_YEAR_FIRST = re.compile(r"^\d{4}|(?<!\d)\d{4}[/.-]\d{1,2}[/.-]\d")
_HAS_DATE = re.compile(r"\d{4}|\d{1,2}[./-]\d{1,2}[./-]\d{2}|\d{1,2}\s+[A-Za-z]{3}")


def _zone(text: str | None) -> timezone | None | bool:
    """The zone a suffix names: a timezone, None for "no zone", False for an impossible one."""
    if not text:
        return None
    text = _ZONE_PREFIX.sub("", text)
    if text[0] in "+-":
        digits = text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            return False
        sign = -1 if text[0] == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    # An unknown name is read as UTC, as if no zone had been given: off by hours, not days.
    return ZONES.get(text.upper(), timezone.utc)


def _build(y: int, mo: int, d: int, h: int, mi: int, s: int, zone: timezone | None | bool,
           us: int = 0) -> datetime | None:
    if zone is False or not MIN_YEAR <= y <= MAX_YEAR:
        return None
    extra = timedelta(0)
    if h == 24 and mi == 0 and s == 0:  # ISO 8601's end of day
        h, extra = 0, timedelta(days=1)
    try:
        return datetime(y, mo, d, h, mi, s, us, tzinfo=zone or timezone.utc) + extra
    except (ValueError, OverflowError):
        return None


def _iso(value: str) -> datetime | None:
    m = _ISO.fullmatch(value)
    if not m:
        return None
    g = m.group
    if g("h") is None and g("tz") not in (None, "Z"):
        return None  # "2020-10-10 GMT" is unusual enough to leave to the general parser
    return _build(int(g("y")), int(g("mo")), int(g("d")), int(g("h") or 0), int(g("mi") or 0), int(g("s") or 0),
                  _zone(g("tz")), int((g("f") or "0")[:6].ljust(6, "0")))


def _iso_other(value: str) -> datetime | None:
    """The rest of ISO 8601 that Python reads: week dates ("2020-W41-6"), ordinal dates ("2020-284")."""
    if not value[:4].isdigit():
        return None
    ordinal = _ORDINAL.fullmatch(value)
    if ordinal:
        year, day = int(ordinal.group(1)), int(ordinal.group(2))
        start = _build(year, 1, 1, 0, 0, 0, None)
        if start is None or not 1 <= day <= 365 + calendar.isleap(year):
            return None
        return start + timedelta(days=day - 1)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    zone = timezone(parsed.utcoffset()) if parsed.tzinfo is not None else None
    return _build(parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second, zone,
                  parsed.microsecond)


def _rfc822(value: str) -> datetime | None:
    m = _RFC822.fullmatch(value)
    if not m:
        return None
    g = m.group
    month = _MONTHS.get(g("mon")[:3].lower())
    if month is None:
        return None
    year = int(g("y"))
    if len(g("y")) == 2:  # RFC 2822 section 4.3
        year += 2000 if year < 50 else 1900
    elif len(g("y")) == 3:
        year += 1900
    return _build(year, month, int(g("d")), int(g("h") or 0), int(g("mi") or 0), int(g("s") or 0), _zone(g("tz")))


def _general(value: str) -> datetime | None:
    """Everything else (asctime, "October 10, 2020 4:05 pm EDT", "10.10.2020"), via dateutil."""
    if not _HAS_DATE.search(value):
        return None  # "Tuesday" or "3 hours ago" parse to today: never a publication date
    try:
        with warnings.catch_warnings():
            # an unknown zone name parses as naive, which reads as UTC below
            warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
            parsed = dateutil_parser.parse(value, dayfirst=not _YEAR_FIRST.search(value), tzinfos=ZONES)
            offset = parsed.utcoffset()  # raises for an offset of a day or more
    except (ValueError, OverflowError, TypeError, ArithmeticError):
        return None
    zone = timezone(offset) if offset is not None else None
    return _build(parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second, zone,
                  parsed.microsecond)


def _in_english(value: str) -> str:
    """Greek, Hungarian and Korean dates rewritten in the words the parsers read."""
    korean = "년" in value or bool(_KOREAN_HALF.search(value))
    if korean:
        value = _KOREAN_HALF.sub(lambda m: f"{m.group(2)} {'AM' if m.group(1) == '오전' else 'PM'}", value)
        # "2004-05-28 " from "2004년 05월 28일 ": units to separators, then the spaces they leave
        value = re.sub(r"\s*-\s*", "-", " ".join(value.translate(_KOREAN_UNITS).split()))
    value = _WORD.sub(lambda m: _FOREIGN.get(m.group().lower(), m.group()), value).strip(" ,")
    if korean and not _ENDS_WITH_ZONE.search(value):
        value += " KST"
    return value


def parse_date(value: object) -> datetime | None:
    """A tz-aware datetime in the offset ``value`` was written with (UTC when none), or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _MAX_LEN:
        return None
    if not value.isascii():
        value = _in_english(value)
    if _NO_DAY.fullmatch(value):
        return None
    return _iso(value) or _iso_other(value) or _rfc822(value) or _general(value)
