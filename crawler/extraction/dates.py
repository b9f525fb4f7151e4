"""Published and modified dates: candidates from JSON-LD, meta tags, <time>, the URL and the feed.
A page whose markup states no date gets the day its text labels as the publication's
("Erschienen am: 01.11.2023"), else htmldate's reading of its text.

The first plausible candidate in priority order wins, unless the page's text shows another
candidate's day and not its own (shown_dates.py); its source is kept
(``published_at_source``) so odd dates can be traced back. Strings are read by
:func:`crawler.dates.parse_date`, the parser feeds and sitemaps use too: tz-aware, in the offset
they were written with; a date without a zone is taken as UTC, off by at most a few hours. A
winner in UTC is given the offset the page writes the same instant in elsewhere, so its calendar
day is the publisher's (the instant stays).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone

from crawler.dates import ZONES, parse_date
from crawler.extraction.page import Page
from crawler.extraction.shown_dates import headline_day, labelled_published, shown

# Clocks drift and naive times read as UTC may run a few hours ahead; beyond this a
# "future" date is a template default, an event date or an embargo stamp.
FUTURE_SKEW = timedelta(hours=2)
# Nothing we index predates the web; older values are epoch defaults or parse accidents.
OLDEST = datetime(1995, 1, 1, tzinfo=timezone.utc)

PUBLISHED_META = (
    "article:published_time", "og:published_time", "og:article:published_time", "published_time",
    "article:published", "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
    "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created", "sailthru.date",
    "parsely-pub-date", "article.published", "date", "dc.date", "dcterms.date", "og:pubdate",
    "cxenseparse:recs:publishtime", "article_date_original", "originalpublicationdate", "citation_publication_date",
)
MODIFIED_META = (
    "article:modified_time", "og:updated_time", "article:modified", "datemodified", "last-modified",
    "dc.date.modified", "dcterms.modified", "lastmod", "article.updated",
)
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:[/-]|$|\D)"
    r"|/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:/|\D)"
)
_PUBLISH_HINT = re.compile(r"publish|posted|created|pubdate|date-?time|entry-date|dateline", re.I)


def plausible(value: datetime | None, now: datetime) -> bool:
    return value is not None and OLDEST <= value <= now + FUTURE_SKEW


def _jsonld_values(page: Page, key: str) -> Iterator[str]:
    value = page.jsonld_article.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        yield value


def _time_values(page: Page, itemprop: str) -> Iterator[str]:
    """<time datetime>: an explicit itemprop first, then ones hinting at publication, then any."""
    times = [el for el in page.tree.iter("time") if el.get("datetime")]
    hinted = [el for el in times if (el.get("itemprop") or "").casefold() == itemprop]
    hinted += [el for el in times if el.get("pubdate") is not None
               or _PUBLISH_HINT.search(f"{el.get('class', '')} {el.getparent().get('class', '') if el.getparent() is not None else ''}")]
    for el in hinted + times:
        yield el.get("datetime", "")
    for el in page.itemprops.get(itemprop, ()):
        if el.tag in ("meta", "time"):
            continue  # read as meta tags and <time> above
        yield el.get("content") or el.get("datetime") or el.text_content()


def _url_values(page: Page) -> Iterator[str]:
    m = _URL_DATE.search(page.url)
    if m:
        y, mo, d = (g for g in m.groups() if g) if m.group(1) else m.groups()[3:]
        yield f"{y}-{int(mo):02d}-{int(d):02d}"


def published_candidates(page: Page) -> Iterator[tuple[str, str]]:
    """(source, raw value) in priority order: structured data first, then visible, then URL.

    Open Graph/meta before JSON-LD: where they disagree, JSON-LD is more often a plugin's
    stale or first-draft stamp while the meta tag follows what the page displays."""
    for name in PUBLISHED_META:
        for v in page.meta.get(name, ()):
            yield "meta", v
    for v in _jsonld_values(page, "datePublished"):
        yield "jsonld", v
    for v in _time_values(page, "datepublished"):
        yield "time", v
    for v in _jsonld_values(page, "dateCreated"):
        yield "jsonld", v
    for v in _url_values(page):
        yield "url", v


def modified_candidates(page: Page) -> Iterator[tuple[str, str]]:
    for v in _jsonld_values(page, "dateModified"):
        yield "jsonld", v
    for name in MODIFIED_META:
        for v in page.meta.get(name, ()):
            yield "meta", v
    for v in _time_values(page, "datemodified"):
        yield "time", v


def _has_time(raw: str) -> bool:
    return bool(re.search(r"\d{1,2}:\d{2}", raw))


Stamp = tuple[datetime, str, str]  # parsed, source, as written


def _parsed(candidates: Iterator[tuple[str, str]], now: datetime) -> Iterator[Stamp]:
    """The plausible ones of ``candidates``, parsed, in their order."""
    for source, raw in candidates:
        parsed = parse_date(raw)
        if plausible(parsed, now):
            yield parsed, source, raw


def _first(stamps: Iterable[Stamp]) -> tuple[datetime | None, str]:
    """First plausible candidate; a day-only winner borrows the time of a later candidate
    for the same calendar day (a bare "2020-10-10" meta beside a full JSON-LD stamp)."""
    found: tuple[datetime, str] | None = None
    for parsed, source, raw in stamps:
        if found is None:
            found = (parsed, source)
            if _has_time(raw):
                return found
        elif _has_time(raw) and parsed.date() == found[0].date():
            return parsed, found[1]
    return found if found else (None, "")


def _htmldate(page: Page) -> str | None:
    """htmldate's text heuristics, for pages whose date is only written in prose."""
    from htmldate import find_date

    try:
        return find_date(page.tree, url=page.url, original_date=True, extensive_search=True,
                         outputformat="%Y-%m-%d", deferred_url_extractor=True)
    except Exception:  # a third-party heuristic must never cost us the article
        return None


def _local_midnight(value: datetime) -> datetime:
    """A UTC stamp at exactly 22:00 or 23:00 is a date-only value a CMS east of Greenwich
    (UTC+1, UTC+2) stored as its local midnight: the same instant in that offset, so the
    calendar day is the one the publisher meant."""
    if value.utcoffset() == timedelta(0) and value.hour in (22, 23) and not (value.minute or value.second or value.microsecond):
        return value.astimezone(timezone(timedelta(hours=24 - value.hour)))
    return value


# A written time that says its zone: an offset ("+01:00", "-0500") or a name the date parser reads as
# one ("Z", "GMT", "CEST").
_ZONED = re.compile(r"(?:[+-]\d{2}:?\d{2}|(?<![A-Za-z])(?:" + "|".join(sorted(ZONES, key=len, reverse=True))
                    + r"))\s*$")
# The offsets in use: UTC-12 to UTC+14.
_OFFSETS = (timedelta(hours=-12), timedelta(hours=14))


def _in_own_offset(found: datetime, stamps: list[Stamp]) -> datetime:
    """A stamp in UTC in the offset the page writes the same instant in elsewhere: a stamp with
    that offset, or a local time without a zone ("2023-11-08 23:30:59" beside
    "2023-11-09T05:30:59Z"), whole hours apart to the second. The instant stays; the calendar day
    becomes the publisher's."""
    if found.utcoffset() != timedelta(0):
        return found
    for parsed, _, raw in stamps:
        if not _has_time(raw):
            continue
        if _ZONED.search(raw.strip()):
            offset = parsed.utcoffset() if parsed == found else None
        else:  # read as UTC by parse_date: the difference is the page's offset
            offset = parsed - found
        if offset and offset.total_seconds() % 3600 == 0 and _OFFSETS[0] <= offset <= _OFFSETS[1]:
            return found.astimezone(timezone(offset))
    return found


def _as_shown(page: Page, found: datetime, source: str, stamps: list[Stamp]) -> tuple[datetime, str]:
    """The first candidate, published or modified, whose calendar day the page shows, when it
    does not show ``found``'s: a stamp in UTC beside the local day in print, a first draft's
    "published" stamp on a page that prints only its update. The text is read only when the
    candidates disagree on the day."""
    others = [(parsed, other_source) for parsed, other_source, _ in stamps if parsed.date() != found.date()]
    if not others:
        return found, source
    shown_now = shown(page.tree, {found.date(), *(parsed.date() for parsed, _ in others)})
    if found.date() in shown_now:
        return found, source
    return next(((parsed, s) for parsed, s in others if parsed.date() in shown_now), (found, source))


def published_at(page: Page, *, feed_date: datetime | None = None, now: datetime | None = None,
                 fallback: Callable[[Page], str | None] | None = _htmldate) -> tuple[datetime | None, str]:
    """(date, source) where source is jsonld|meta|time|url|text|feed|htmldate, or (None, "").

    The date keeps the offset the page wrote it in; store it with ``.astimezone(utc)``."""
    now = now or datetime.now(timezone.utc)
    published = list(_parsed(published_candidates(page), now))
    stamps = published + list(_parsed(modified_candidates(page), now))  # each candidate parsed once
    found, source = _first(published)
    if found:
        return _as_shown(page, _in_own_offset(_local_midnight(found), stamps), source, stamps)
    labelled = labelled_published(page.tree) or headline_day(page.tree)
    if labelled is not None:
        return datetime(labelled.year, labelled.month, labelled.day, tzinfo=timezone.utc), "text"
    # The feed's date is the publisher's own statement; htmldate's is a guess among every date of the
    # page's text, a footer's copyright year among them.
    if feed_date is not None:
        feed = feed_date if feed_date.tzinfo else feed_date.replace(tzinfo=timezone.utc)
        if plausible(feed, now):
            return feed, "feed"
    if fallback is not None:
        parsed = parse_date(fallback(page))
        if plausible(parsed, now):
            return _as_shown(page, parsed, "htmldate", stamps)
    return None, ""


def modified_at(page: Page, published: datetime | None, *, now: datetime | None = None) -> datetime | None:
    found, _ = _first(_parsed(modified_candidates(page), now or datetime.now(timezone.utc)))
    # A "modified" before publication is a template artefact.
    if found and published and found < published:
        return None
    return found
