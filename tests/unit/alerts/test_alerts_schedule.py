"""Digest boundaries: hourly at the top of the local hour, daily at a local time, DST-safe."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings, strategies as st

from indexer.alerts.schedule import digest_key, last_boundary, next_boundary, schedule_for


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def test_schedule_strings():
    assert schedule_for("instant") == "instant"
    assert schedule_for("hourly", tz="Europe/Berlin") == "hourly Europe/Berlin"
    assert schedule_for("daily", "07:30", "Asia/Kolkata") == "daily 07:30 Asia/Kolkata"


def test_hourly_boundary_in_half_hour_zone():
    b = last_boundary("hourly Asia/Kolkata", utc(2024, 5, 1, 10, 45))  # 16:15 IST
    assert b.astimezone(timezone.utc) == utc(2024, 5, 1, 10, 30)  # 16:00 IST
    assert last_boundary("hourly UTC", utc(2024, 5, 1, 10, 0)) == utc(2024, 5, 1, 10, 0)
    assert next_boundary("hourly UTC", utc(2024, 5, 1, 10, 0)) == utc(2024, 5, 1, 11, 0)


def test_daily_at_local_time():
    s = "daily 08:00 Europe/Berlin"  # CEST = UTC+2 in May
    assert last_boundary(s, utc(2024, 5, 1, 5, 59)).astimezone(timezone.utc) == utc(2024, 4, 30, 6, 0)
    assert last_boundary(s, utc(2024, 5, 1, 6, 0)).astimezone(timezone.utc) == utc(2024, 5, 1, 6, 0)
    # winter: CET = UTC+1
    assert last_boundary(s, utc(2024, 1, 10, 12, 0)).astimezone(timezone.utc) == utc(2024, 1, 10, 7, 0)
    assert next_boundary(s, utc(2024, 3, 30, 12, 0)).astimezone(timezone.utc) == utc(2024, 3, 31, 6, 0)


def test_daily_at_with_seconds():
    s = "daily 08:00:30 UTC"
    assert last_boundary(s, utc(2024, 5, 1, 8, 0, 29)) == utc(2024, 4, 30, 8, 0, 30)
    assert last_boundary(s, utc(2024, 5, 1, 8, 0, 30)) == utc(2024, 5, 1, 8, 0, 30)
    assert next_boundary(s, utc(2024, 5, 1, 8, 0, 30)) == utc(2024, 5, 2, 8, 0, 30)


def test_digest_key_is_utc():
    assert digest_key(last_boundary("daily 08:00 Europe/Berlin", utc(2024, 5, 1, 7))) == "2024-05-01T06:00Z"


def _changes(zone: str, year: int) -> list[datetime]:
    """The instants of ``year`` at which ``zone`` changes its UTC offset (DST, a new standard time)."""
    tz = ZoneInfo(zone)

    def offset(t: datetime) -> timedelta | None:
        return t.astimezone(tz).utcoffset()

    months = [datetime(year, m, 1, tzinfo=timezone.utc) for m in range(1, 13)] + [datetime(year + 1, 1, 1,
                                                                                             tzinfo=timezone.utc)]
    found = []
    for lo, hi in zip(months, months[1:]):
        if offset(lo) == offset(hi):
            continue
        while hi - lo > timedelta(minutes=1):
            mid = lo + (hi - lo) / 2
            lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
        found.append(hi)
    return found


@st.composite
def _instants(draw, zone: str) -> datetime:
    """Any instant, or more often one within three hours of one of the zone's offset changes."""
    year = draw(st.integers(2000, 2037))
    changes = _changes(zone, year)
    if changes and draw(st.booleans()):
        return draw(st.sampled_from(changes)) + timedelta(minutes=draw(st.integers(-180, 180)))
    return draw(st.datetimes(min_value=datetime(year, 1, 1), max_value=datetime(year, 12, 31),
                             timezones=st.just(timezone.utc)))


# Every zone Python knows, any instant of 2000-2037 and most often one near an offset change (DST, zones that
# moved their standard time, half-hour zones), hourly or daily at any minute: the digest due now closes at or
# before now, the next one after it, each boundary is a boundary of its own schedule (a restart finds the same
# one), and none is skipped or repeated. Differences are taken in UTC: two datetimes of one zone subtract as
# wall time.
@settings(max_examples=400, deadline=None)
@given(zone_now=st.sampled_from(sorted(available_timezones())).flatmap(
           lambda zone: st.tuples(st.just(zone), _instants(zone))),
       kind=st.sampled_from(["hourly", "daily"]), at=st.times().map(lambda t: t.replace(second=0, microsecond=0)))
def test_boundaries_follow_each_other_in_every_zone(zone_now, kind, at):
    zone, now = zone_now
    schedule = schedule_for(kind, at.strftime("%H:%M"), zone)
    last, nxt = (b.astimezone(timezone.utc) for b in (last_boundary(schedule, now), next_boundary(schedule, now)))
    assert last <= now < nxt
    assert last_boundary(schedule, nxt).astimezone(timezone.utc) == nxt
    assert digest_key(last) != digest_key(nxt)
    if kind == "daily":  # a day is 23 to 25 hours long; Antarctica/Casey moved 3 hours in one go (2009)
        assert timedelta(hours=20) <= nxt - last <= timedelta(hours=28)
    else:  # a half-hour shift of the clock (Lord Howe, Colombo 2006) makes one hour 30 or 90 minutes long
        assert timedelta(minutes=30) <= nxt - last <= timedelta(minutes=90)
        assert nxt.astimezone(ZoneInfo(zone)).minute == 0
