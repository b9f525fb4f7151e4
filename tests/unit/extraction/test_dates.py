from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crawler.extraction import extract, extract_fields
from crawler.extraction.dates import parse_date, published_at
from crawler.extraction.page import Page
from trafilatura.utils import load_html

from ._data import traf_page

NOW = datetime(2024, 1, 10, 12, 0, tzinfo=timezone.utc)
BODY = "<article>" + "".join(f"<p>Paragraph {i} of a reasonably long article body that says something.</p>"
                             for i in range(12)) + "</article>"


def page(head: str = "", body: str = BODY, url: str = "https://ex.com/news/story") -> Page:
    return Page(load_html(f"<html><head><title>T</title>{head}</head><body>{body}</body></html>"), url)


def test_parse_date_keeps_offset_and_is_aware():
    d = parse_date("2020-10-10T23:30:00-03:00")
    assert d.tzinfo is not None and d.date().isoformat() == "2020-10-10"
    assert d.astimezone(timezone.utc).isoformat() == "2020-10-11T02:30:00+00:00"
    assert parse_date("2020-10-10").tzinfo == timezone.utc
    assert parse_date("Tuesday") is None and parse_date("") is None


def test_several_candidates_priority_and_source():
    p = page('<meta property="article:published_time" content="2023-05-02T08:00:00Z">'
             '<script type="application/ld+json">{"@type":"NewsArticle","headline":"T",'
             '"datePublished":"2023-04-30T10:00:00Z"}</script>',
             body='<time datetime="2023-05-01T09:00:00Z">May 1</time>' + BODY,
             url="https://ex.com/2023/04/29/story")
    found, source = published_at(p, now=NOW, fallback=None)
    assert (found.isoformat(), source) == ("2023-05-02T08:00:00+00:00", "meta")


def test_future_dates_are_skipped_for_the_next_candidate():
    future = (NOW + timedelta(days=30)).isoformat()
    p = page(f'<meta property="article:published_time" content="{future}">',
             body='<time datetime="2024-01-09T07:00:00Z">yesterday</time>' + BODY)
    found, source = published_at(p, now=NOW, fallback=None)
    assert (found.isoformat(), source) == ("2024-01-09T07:00:00+00:00", "time")


def test_small_future_skew_is_tolerated():
    soon = (NOW + timedelta(minutes=30)).isoformat()
    found, _ = published_at(page(f'<meta property="article:published_time" content="{soon}">'), now=NOW, fallback=None)
    assert found == NOW + timedelta(minutes=30)


def test_url_pattern_then_feed_date():
    found, source = published_at(page(url="https://ex.com/2021/07/04/fireworks"), now=NOW, fallback=None)
    assert (found.date().isoformat(), source) == ("2021-07-04", "url")
    feed = datetime(2022, 2, 2, 6, 0, tzinfo=timezone.utc)
    found, source = published_at(page(), feed_date=feed, now=NOW, fallback=None)
    assert (found, source) == (feed, "feed")


def test_page_without_a_date():
    found, source = published_at(page(), now=NOW, fallback=None)
    assert (found, source) == (None, "")
    a = extract(f"<html><head><title>No date here</title></head><body><h1>No date here</h1>{BODY}</body></html>",
                "https://ex.com/about/story")
    assert a.published_at is None and a.published_at_source == ""


def test_day_only_winner_borrows_time_of_same_day():
    p = page('<meta name="date" content="2020-10-10">'
             '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2020-10-10T14:32:00Z"}</script>')
    found, source = published_at(p, now=NOW, fallback=None)
    assert found.isoformat() == "2020-10-10T14:32:00+00:00" and source == "meta"


def test_real_page_with_conflicting_candidates():
    # JSON-LD says 2023-11-03, the Open Graph tag and the visible <time> say 2023-11-06.
    html, url, truth = traf_page("utopia.de-Werbung.html")
    assert extract_fields(html, url)["date"] == truth["date"] == "2023-11-06"


def _no_fallback(page: Page) -> str | None:
    raise AssertionError("the expensive text search ran although the page states its date")


def test_machine_readable_date_never_reaches_the_text_search():
    p = page('<script type="application/ld+json">{"@type":"NewsArticle","headline":"T",'
             '"datePublished":"2023-04-30T10:00:00Z"}</script>')
    found, source = published_at(p, now=NOW, fallback=_no_fallback)
    assert (found.isoformat(), source) == ("2023-04-30T10:00:00+00:00", "jsonld")


def test_the_feed_date_wins_over_the_text_search():
    """A page stating no date, whose footer has a copyright year: the feed said when it was published."""
    feed = datetime(2026, 12, 6, 13, 40, tzinfo=timezone.utc)
    footer = page(body=BODY + "<footer><p>Copyright Local News 2025.</p></footer>")
    found, source = published_at(footer, feed_date=feed, now=NOW.replace(year=2027), fallback=_no_fallback)
    assert (found, source) == (feed, "feed")
    a = extract(f"<html><head><title>Union</title></head><body><h1>Union</h1>{BODY}"
                "<footer><p>Copyright Local News 2025.</p></footer></body></html>",
                "https://ex.com/news/union-leader", feed_date=feed, fetched_at=feed)
    assert (a.published_at, a.published_at_source) == (feed, "feed")


def test_text_search_only_for_pages_without_a_stated_date():
    calls = []
    found, source = published_at(page(), now=NOW, fallback=lambda p: calls.append(1) or "2023-03-01")
    assert calls == [1] and (found.date().isoformat(), source) == ("2023-03-01", "htmldate")


def test_a_utc_stamp_takes_the_offset_the_page_writes_the_same_instant_in():
    utc = '<meta property="article:published_time" content="2023-11-09T05:30:59Z">'
    for written in ("2023-11-08 23:30:59", "2023-11-08T23:30:59-06:00"):  # local time without a zone, or zoned
        p = page(utc, body=f'<time class="published" datetime="{written}">Nov 8</time>' + BODY)
        found, source = published_at(p, now=NOW, fallback=None)
        assert (found.isoformat(), source) == ("2023-11-08T23:30:59-06:00", "meta"), written
    # another instant (not whole hours apart to the second), or another UTC stamp: the day stays UTC's
    for written in ("2023-11-08 23:31:10", "2023-11-08T23:30:59Z"):
        p = page(utc, body=f'<time class="published" datetime="{written}">Nov 8</time>' + BODY)
        found, _ = published_at(p, now=NOW, fallback=None)
        assert found.isoformat() == "2023-11-09T05:30:59+00:00", written
