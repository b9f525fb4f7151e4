"""A UTC stamp at 22:00 or 23:00 sharp is a European CMS's local midnight (dates._local_midnight)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crawler.extraction import extract_fields
from crawler.extraction.dates import published_at
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page
from tests.unit.extraction._data import traf_page


@pytest.mark.parametrize("file_name, day", [
    ("kas.de-nordmazedonien.html", "2021-11-05"),  # <meta ... content="2021-11-04T23:00Z">
    ("beige.de.suedfrankreich.html", "2022-11-07"),  # "2022-11-06T23:00:00.000Z"
])
def test_real_pages_get_the_day_their_publisher_meant(file_name, day):
    html, url, truth = traf_page(file_name)
    assert truth["date"] == day
    assert extract_fields(html, url)["date"] == day


def _page(stamp: str) -> Page:
    html = f'<html><head><meta property="article:published_time" content="{stamp}"></head><body></body></html>'
    return Page(load_html(html), "https://ex.com/a")


@pytest.mark.parametrize("stamp, day", [
    ("2021-11-04T22:00:00Z", 5),  # summer time, UTC+2
    ("2021-11-04T23:15:00Z", 4),  # a real time of day
    ("2021-11-04T23:00:00+01:00", 4),  # already in the publisher's offset
])
def test_only_a_sharp_utc_hour_before_midnight_moves_the_day(stamp, day):
    found, _ = published_at(_page(stamp), now=datetime(2024, 1, 1, tzinfo=timezone.utc), fallback=None)
    assert found.day == day
    assert found.astimezone(timezone.utc) == datetime.fromisoformat(stamp.replace("Z", "+00:00"))
