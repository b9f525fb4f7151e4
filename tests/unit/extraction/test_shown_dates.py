"""The date a page shows its readers wins over a stamp whose day it does not show (dates._as_shown)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from crawler.extraction import extract_fields
from crawler.extraction.dates import published_at
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page
from crawler.extraction.shown_dates import days_in, shown
from tests.unit.extraction._data import traf_page

NOW = datetime(2024, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("file_name, day", [
    # published 2021-03-08 (meta, URL); the page prints only "Updated ... March 14, 2021"
    ("edition.cnn.com-royal.html", "2021-03-14"),
    # meta and JSON-LD in UTC (2022-05-04T03:37Z); <time> in -04:00 and the text say May 3
    ("24ora.com-internationalschol.html", "2022-05-03"),
    # the first meta says 2021-12-14, a later one and the text 2022-02-04
    ("macwelt.de-warten.html", "2022-02-04"),
])
def test_the_day_the_page_prints_wins(file_name, day):
    html, url, truth = traf_page(file_name)
    assert truth["date"] == day
    assert extract_fields(html, url)["date"] == day


@pytest.mark.parametrize("file_name, day", [
    ("apolut.net-Sonja-Silberhorn.html", "2023-10-28"),  # modified 2023-11-01, not printed
    ("backenmachtgluecklich.de.zitronenkuchen.html", "2020-02-17"),  # modified 2020-03-09, not printed
])
def test_a_printed_published_day_keeps_it_over_an_update(file_name, day):
    html, url, truth = traf_page(file_name)
    assert truth["date"] == day
    assert extract_fields(html, url)["date"] == day


def _page(body: str) -> Page:
    head = ('<meta property="article:published_time" content="2023-05-02T08:00:00Z">'
            '<meta property="article:modified_time" content="2023-06-20T08:00:00Z">')
    return Page(load_html(f"<html><head>{head}</head><body>{body}</body></html>"), "https://ex.com/a")


def test_modified_day_in_text_replaces_unprinted_published():
    found, source = published_at(_page("<p>Aktualisiert am 20.06.2023</p>"), now=NOW, fallback=None)
    assert (found.date(), source) == (date(2023, 6, 20), "meta")


def test_no_printed_day_or_a_printed_published_day_keeps_the_first_candidate():
    for body in ("<p>no date here</p>", "<p>2. Mai 2023, updated 20.06.2023</p>",
                 "<script>var d = '20.06.2023';</script>"):
        found, _ = published_at(_page(body), now=NOW, fallback=None)
        assert found.date() == date(2023, 5, 2), body


@pytest.mark.parametrize("text, day", [
    ("Di., 25.01.2022 - 14:45", date(2022, 1, 25)),
    ("posted 2022-01-25T10:00", date(2022, 1, 25)),
    ("25. Januar 2022", date(2022, 1, 25)),
    ("le 3 mars 2021", date(2021, 3, 3)),
    ("3 de mayo de 2022", date(2022, 5, 3)),
    ("Updated 8:10 PM ET, Sun March 14, 2021", date(2021, 3, 14)),
    ("Jan. 5th, 2020", date(2020, 1, 5)),
])
def test_written_out_days(text, day):
    assert day in days_in(text)


def test_slashed_days_count_under_both_readings_and_nonsense_none():
    assert days_in("03/08/2021") == {date(2021, 8, 3), date(2021, 3, 8)}
    assert days_in("31.02.2021 2021-13-01 Marktplatz 3 2020 Maintenance 5, 2020") == set()


def test_text_run_together_from_adjacent_elements_still_reads():
    # "<time>28. Juni 2019</time><time>14. Januar 2020</time>" serialised without a gap
    assert days_in("28. Juni 201914. Januar 2020") == {date(2019, 6, 28), date(2020, 1, 14)}
    assert date(2023, 11, 6) in days_in("Alexandria DouziechNovember 6, 2023")


def test_only_visible_text_counts():
    tree = load_html("<html><head><title>1.1.2020</title></head><body><p>2.2.2021</p>"
                     "<style>/* 3.3.2022 */</style><noscript>4.4.2023</noscript></body></html>")
    days = {date(2020, 1, 1), date(2021, 2, 2), date(2022, 3, 3), date(2023, 4, 4)}
    assert shown(tree, days) == {date(2021, 2, 2)}


def test_only_the_asked_days_are_looked_for():
    tree = load_html("<html><body><p>Am 2.2.2021 und am 5. März 2019</p></body></html>")
    assert shown(tree, {date(2019, 3, 5), date(2019, 3, 6)}) == {date(2019, 3, 5)}
    assert shown(tree, {date(2020, 2, 2)}) == set()
