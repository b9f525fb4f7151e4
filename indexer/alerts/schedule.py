"""When digests are due: hourly (top of each local hour) or daily at a local time.

A digest is identified by its rule and its *boundary* — the scheduled instant it closes. Everything a
rule matched before the most recent boundary and not yet mailed goes into that boundary's digest.
The schedule string is stored with every ledger row (``hourly Europe/Berlin``,
``daily 08:00 Europe/Berlin``) so pending digests survive a restart, and even the rule's deletion.
"""

from __future__ import annotations

from datetime import datetime, time as dtime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo


def local_zone_name() -> str:
    """The host's IANA zone if discoverable, else UTC."""
    import os

    tz = os.environ.get("TZ")
    if tz:
        try:
            ZoneInfo(tz.lstrip(":"))
            return tz.lstrip(":")
        except Exception:
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            ZoneInfo(name)
            return name
    except Exception:
        pass
    return "UTC"


def schedule_for(mode: str, daily_at: str = "08:00", tz: str | None = None) -> str:
    if mode == "instant":
        return "instant"
    zone = tz or local_zone_name()
    if mode == "hourly":
        return f"hourly {zone}"
    if mode == "daily":
        return f"daily {daily_at} {zone}"
    raise ValueError(f"unknown mode {mode!r}")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except Exception:
        return timezone.utc


# Every offset in use since the 1970s is a whole number of quarter hours (Nepal's +05:45 too), so each local
# top of the hour falls on a quarter hour in UTC: hourly boundaries are looked for on that grid.
_QUARTER = timedelta(minutes=15)
_HOURLY_REACH = 12  # quarters each way: 3 hours, past any DST change's gap


def _hourly(zone: tzinfo, now: datetime, after: bool) -> datetime:
    """The local top of the hour at or before ``now`` (or the first after it): a DST change moves the hour's
    start in UTC, skips one (a gap), repeats one, or shifts the clock by half an hour."""
    utc = now.astimezone(timezone.utc)
    base = utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)
    steps = range(1, _HOURLY_REACH + 1) if after else range(0, -_HOURLY_REACH - 1, -1)
    for k in steps:
        local = (base + k * _QUARTER).astimezone(zone)
        if local.minute == 0 and (not after or base + k * _QUARTER > utc):
            return local
    # an offset that is no quarter hour (before the 1970s): the wall clock's own top of the hour
    local = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return (local.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone) if after else local


def _daily(at: dtime, zone: tzinfo, day) -> datetime:
    # A time the clock skips that day (02:30 when it jumps from 02:00 to 03:00) is read with the offset before
    # the change, so it falls as far after the jump (03:30); a time it shows twice is its first showing.
    return datetime.combine(day, at, tzinfo=zone)


def _instant(value: datetime) -> datetime:
    # Two datetimes of one zone compare (and subtract) as wall times; in UTC they compare as instants.
    return value.astimezone(timezone.utc)


def last_boundary(schedule: str, now: datetime) -> datetime | None:
    """The most recent boundary at or before ``now`` (tz-aware, in the schedule's zone); None for instant."""
    parts = schedule.split()
    kind = parts[0]
    if kind == "instant":
        return None
    if kind == "hourly":
        return _hourly(_zone(parts[1] if len(parts) > 1 else "UTC"), now, after=False)
    if kind == "daily":
        at = dtime.fromisoformat(parts[1]) if len(parts) > 1 else dtime(8, 0)
        zone = _zone(parts[2] if len(parts) > 2 else "UTC")
        today = now.astimezone(zone).date()
        # the latest day's whose instant has come: today's, or tomorrow's where the clock went back over
        # midnight (Goose Bay, 00:01 -> 23:01), or yesterday's while today's is still to come
        for back in range(-1, 3):
            candidate = _daily(at, zone, today - timedelta(days=back))
            if _instant(candidate) <= _instant(now):
                return candidate
        return candidate
    raise ValueError(f"unknown schedule {schedule!r}")


def next_boundary(schedule: str, now: datetime) -> datetime | None:
    """The first boundary strictly after ``now``."""
    last = last_boundary(schedule, now)
    if last is None:
        return None
    parts = schedule.split()
    if parts[0] == "hourly":
        return _hourly(last.tzinfo, now, after=True)
    for ahead in range(1, 4):
        candidate = _daily(last.timetz().replace(tzinfo=None), last.tzinfo, last.date() + timedelta(days=ahead))
        if _instant(candidate) > _instant(now):
            return candidate
    return candidate


def digest_kind(schedule: str) -> str:
    return schedule.split()[0]


def digest_key(boundary: datetime) -> str:
    return boundary.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
