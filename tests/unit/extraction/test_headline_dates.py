"""A page whose markup carries no date and labels none: the day printed in the line beside its
headline wins over htmldate's guess among every date on the page (shown_dates.headline_day)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from crawler.extraction.dates import published_at
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page
from crawler.extraction.shown_dates import headline_day

NOW = datetime(2024, 1, 10, tzinfo=timezone.utc)
PROSE = "".join(f"<p>Paragraph {i}: the council met again to discuss the ferry timetable.</p>" for i in range(6))


def _page(body: str) -> Page:
    return Page(load_html(f"<html><body>{body}</body></html>"), "https://hafen.example.de/fahrplan")


def test_the_day_beside_the_headline_wins_over_later_dates_in_the_text():
    page = _page('<header><h1><img src="logo.png"></h1></header><article><h1>Neuer Fahrplan</h1>'
                 f'<p class="date">31.03.2023</p>{PROSE}<p>Die Sitzung am 2. Juni 2023 entscheidet.</p>'
                 '<footer>Stand: 12.06.2023</footer></article>')
    assert headline_day(page.tree) == date(2023, 3, 31)
    found, source = published_at(page, now=NOW)
    assert (found.date(), source) == (date(2023, 3, 31), "text")


def test_a_stated_date_in_the_markup_still_comes_first():
    page = Page(load_html('<html><head><meta property="article:published_time" content="2023-04-02T10:00:00+02:00">'
                          f'</head><body><h1>Neuer Fahrplan</h1><p>02.04.2023</p>{PROSE}</body></html>'),
                "https://hafen.example.de/fahrplan")
    found, source = published_at(page, now=NOW)
    assert (found.date(), source) == (date(2023, 4, 2), "meta")


def test_no_day_or_two_days_beside_the_headline_give_nothing():
    assert headline_day(_page(f"<h1>Neuer Fahrplan</h1>{PROSE}{PROSE}<p>31.03.2023</p>").tree) is None
    assert headline_day(_page(f"<h1>Neuer Fahrplan</h1><p>Erstellt 01.03.2023, geändert 31.03.2023</p>{PROSE}").tree) is None
    assert headline_day(_page("<h1>Neuer Fahrplan</h1><p>11/08/2020</p>").tree) is None  # reads two ways
