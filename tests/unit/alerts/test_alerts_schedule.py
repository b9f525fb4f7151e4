"""Digest boundaries: hourly at the top of the local hour, daily at a local time, DST-safe."""

from __future__ import annotations

from datetime import datetime, timezone

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
