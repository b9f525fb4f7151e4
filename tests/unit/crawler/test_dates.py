"""crawler.dates: the one date parser of feeds, sitemaps and pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dates import MAX_YEAR, MIN_YEAR, ZONES, parse_date

UTC = timezone.utc


def tz(hours: int, minutes: int = 0) -> timezone:
    sign = -1 if hours < 0 or minutes < 0 else 1
    return timezone(sign * timedelta(hours=abs(hours), minutes=abs(minutes)))


@pytest.mark.parametrize("zone, offset", [
    ("MET", tz(1)), ("MEST", tz(2)), ("PT", tz(-8)), ("ET", tz(-5)), ("CT", tz(-6)), ("MT", tz(-7)),
    ("EST", tz(-5)), ("EDT", tz(-4)), ("CEST", tz(2)), ("CET", tz(1)), ("GMT", UTC), ("UT", UTC), ("Z", UTC),
    ("+0530", tz(5, 30)), ("-0101", tz(-1, -1)), ("-01:01", tz(-1, -1)),
])
def test_named_zones_and_offsets_are_read_not_taken_as_utc(zone, offset):
    got = parse_date(f"Sat, 10 Oct 2020 16:05:00 {zone}")
    assert got == datetime(2020, 10, 10, 16, 5, tzinfo=offset)
    assert got.utcoffset() == offset.utcoffset(None)


def test_iso_offset_kept_and_instant_right():
    got = parse_date("2020-10-10T16:05:00-01:01")
    assert got.utcoffset() == timedelta(hours=-1, minutes=-1)
    assert got.astimezone(UTC) == datetime(2020, 10, 10, 17, 6, tzinfo=UTC)
    # the publisher's calendar day survives: 23:30 in Buenos Aires is the 10th there
    assert parse_date("2020-10-10T23:30:00-03:00").date().isoformat() == "2020-10-10"


@pytest.mark.parametrize("value, expected", [
    ("Sat, 10 Oct 20 14:05:00 GMT", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),  # RFC 2822 two-digit year
    ("10 Oct 2020 14:05 +0200", datetime(2020, 10, 10, 14, 5, tzinfo=tz(2))),  # no weekday, no seconds
    ("Sat, 10 Oct 2020 14:05:00 GMT (comment)", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("Saturday, 10-Oct-2020 14:05:00 GMT", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),  # RFC 850
    ("Sat Oct 10 14:05:00 2020", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),  # asctime
    ("20201010T140500Z", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),  # ISO 8601 basic form
    ("2020-10-10 14:05:00.5", datetime(2020, 10, 10, 14, 5, 0, 500000, tzinfo=UTC)),
    ("2020-10-10T24:00:00Z", datetime(2020, 10, 11, tzinfo=UTC)),
    ("October 10, 2020 4:05 pm EDT", datetime(2020, 10, 10, 16, 5, tzinfo=tz(-4))),
    ("10.10.2020", datetime(2020, 10, 10, tzinfo=UTC)),
    ("Sat, 10 Oct 2020 14:05:00 XYZ", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),  # unknown zone: as none
    ("Sat, 10 Oct 2020 14:05:00 GMT+01:00", datetime(2020, 10, 10, 14, 5, tzinfo=tz(1))),  # east, as written
    ("Sat, 10 Oct 2020 14:05:00 UTC-0330", datetime(2020, 10, 10, 14, 5, tzinfo=tz(-3, -30))),
    ("2020-284", datetime(2020, 10, 10, tzinfo=UTC)),  # ISO ordinal date
    ("2020284", datetime(2020, 10, 10, tzinfo=UTC)),
    ("2020-W41-6", datetime(2020, 10, 10, tzinfo=UTC)),  # ISO week date
    ("2020/10/10 14:05:00", datetime(2020, 10, 10, 14, 5, tzinfo=UTC)),
    ("Fri, 2020/10/09 08:19:53 EDT", datetime(2020, 10, 9, 8, 19, 53, tzinfo=tz(-4))),  # Perforce
    ("Σαβ, 10 Οκτ 2020 16:05:00 +0300", datetime(2020, 10, 10, 16, 5, tzinfo=tz(3))),  # Greek RFC 822
    ("Κυρ, 11 Ιούλ 2004 12:00:00 EST", datetime(2004, 7, 11, 12, tzinfo=tz(-5))),
    ("2020-október-10T9:15-05:00", datetime(2020, 10, 10, 9, 15, tzinfo=tz(-5))),  # Hungarian
    ("2020-10-10 오후 11:23:17", datetime(2020, 10, 10, 23, 23, 17, tzinfo=tz(9))),  # Korean, p.m., KST
    ("2020년 10월 10일 01:31:15", datetime(2020, 10, 10, 1, 31, 15, tzinfo=tz(9))),
])
def test_formats(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", [
    "9999-12-31T23:59:59-99:99", "Sun, 31 Dec 9999 23:59:59 -9999", "2020-10-10T14:05:00+25:00",
    "Sat, 10 Oct zz 14:05:00 GMT", "zz-10-10", "0001-01-01T00:00:00+01:00", "1970-01-01T00:00:00Z",
    "9999-12-31", "2020-13-45", "2021-366", "2020-000", "2020-02-30T00:00:00Z", "Tuesday", "3 hours ago", "", "   ", "2020", "2020-10",
    "x" * 500, None, 20201010,
])
def test_garbage_and_out_of_range_give_none(value):
    assert parse_date(value) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_never_raises(value):
    got = parse_date(value)
    if got is not None:
        assert got.tzinfo is not None and MIN_YEAR <= got.year <= MAX_YEAR
        got.astimezone(UTC)  # bounded years: converting never overflows


_instants = st.datetimes(min_value=datetime(MIN_YEAR, 1, 2), max_value=datetime(MAX_YEAR - 1, 12, 30))
_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=300, deadline=None)
@given(_instants, _offsets)
def test_rfc822_round_trip(when, zone):
    when = when.replace(microsecond=0, tzinfo=zone)
    got = parse_date(format_datetime(when))
    assert got == when and got.utcoffset() == when.utcoffset()


@settings(max_examples=300, deadline=None)
@given(_instants, _offsets)
def test_w3cdtf_round_trip(when, zone):
    when = when.replace(tzinfo=zone)
    got = parse_date(when.isoformat())
    assert got == when and got.utcoffset() == when.utcoffset()


@settings(max_examples=200, deadline=None)
@given(_instants, st.sampled_from(sorted(ZONES)))
def test_every_named_zone_round_trips(when, name):
    when = when.replace(microsecond=0)
    got = parse_date(when.strftime("%a, %d %b %Y %H:%M:%S ") + name)
    assert got == when.replace(tzinfo=ZONES[name])
