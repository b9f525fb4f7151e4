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


def last_boundary(schedule: str, now: datetime) -> datetime | None:
    """The most recent boundary at or before ``now`` (tz-aware, in the schedule's zone); None for instant."""
    parts = schedule.split()
    kind = parts[0]
    if kind == "instant":
        return None
    if kind == "hourly":
        zone = _zone(parts[1] if len(parts) > 1 else "UTC")
        local = now.astimezone(zone)
        return local.replace(minute=0, second=0, microsecond=0)
    if kind == "daily":
        at = dtime.fromisoformat(parts[1]) if len(parts) > 1 else dtime(8, 0)
        zone = _zone(parts[2] if len(parts) > 2 else "UTC")
        local = now.astimezone(zone)
        candidate = datetime.combine(local.date(), at, tzinfo=zone)
        if candidate > local:
            candidate = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)
        return candidate
    raise ValueError(f"unknown schedule {schedule!r}")


def next_boundary(schedule: str, now: datetime) -> datetime | None:
    """The first boundary strictly after ``now``."""
    last = last_boundary(schedule, now)
    if last is None:
        return None
    kind = schedule.split()[0]
    if kind == "hourly":
        # add in UTC so DST changes can't skip or repeat an hour
        return (last.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(last.tzinfo)
    nxt = datetime.combine(last.date() + timedelta(days=1), last.timetz().replace(tzinfo=None), tzinfo=last.tzinfo)
    return nxt


def digest_kind(schedule: str) -> str:
    return schedule.split()[0]


def digest_key(boundary: datetime) -> str:
    return boundary.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
