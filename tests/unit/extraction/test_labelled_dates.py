"""A page whose markup carries no date: the day its text labels as the publication's wins over
htmldate's guess among every date on the page (shown_dates.labelled_published)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from crawler.extraction.dates import published_at
from crawler.extraction.htmlparse import load_html
from crawler.extraction.page import Page
from crawler.extraction.shown_dates import labelled_published

NOW = datetime(2024, 1, 10, tzinfo=timezone.utc)


def _page(body: str) -> Page:
    return Page(load_html(f"<html><body>{body}</body></html>"), "https://review.example.de/r/30063")


def test_the_labelled_publication_day_wins_over_an_earlier_edit_stamp():
    page = _page("<h1>Rezension</h1><p>Text der Rezension.</p><p>Gelesen 2023-09-02</p>"
                 "<p class='foot'>Letzte Änderung: 31.10.2023 - 14:49<br>Erschienen am: 01.11.2023</p>")
    assert labelled_published(page.tree) == date(2023, 11, 1)
    found, source = published_at(page, now=NOW)
    assert (found.date(), source) == (date(2023, 11, 1), "text")


def test_labels_in_several_languages_and_forms():
    assert labelled_published(_page("<p>Written: 2023-11-07 15:03:30 / Updated: 2023-11-08</p>").tree) \
        == date(2023, 11, 7)
    assert labelled_published(_page("<p>Publié le 3 mars 2022 à 10h</p>").tree) == date(2022, 3, 3)
    assert labelled_published(_page("<span>Published on</span> <b>March 4, 2021</b>").tree) == date(2021, 3, 4)


def test_unseen_text_and_labels_without_a_near_date_give_nothing():
    assert labelled_published(_page('<script>var x = "published: 2020-01-01";</script><p>Hello</p>').tree) is None
    assert labelled_published(_page("<!-- published: 2020-01-01 --><p>Hello</p>").tree) is None
    assert labelled_published(_page(
        "<p>Published by the city council, which met again on 2020-01-01 after a long recess</p>").tree) is None
    # a slashed day that reads two ways is no answer
    assert labelled_published(_page("<p>Posted: 03/04/2021</p>").tree) is None
