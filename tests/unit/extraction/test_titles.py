"""Titles: the headline without the site's name, its section or a breadcrumb around it, on short
pages written for the test (metadata.title)."""

from __future__ import annotations

from crawler.extraction.htmlparse import load_html
from crawler.extraction.metadata import title
from crawler.extraction.page import Page


def _title(head: str, body: str = "", url: str = "https://www.hafenblatt.example/a/1") -> str:
    return title(Page(load_html(f"<html><head>{head}</head><body>{body}</body></html>"), url))


def test_an_h1_that_holds_the_headline_and_a_section_or_the_site_name_loses_them():
    og = '<meta property="og:title" content="New ferry timetable for the islands">'
    assert _title(og, "<h1>Politics | New ferry timetable for the islands</h1>") == "New ferry timetable for the islands"
    assert _title(f"<title>New ferry timetable for the islands | Hafenblatt</title>{og}",
                  "<h1>New ferry timetable for the islands | Hafenblatt</h1>") == "New ferry timetable for the islands"


def test_an_h1_equal_to_the_headline_or_inside_it_is_kept_as_written():
    og = '<meta property="og:title" content="New ferry timetable: what changes for commuters">'
    assert _title(og, "<h1>New Ferry Timetable: What Changes for Commuters</h1>") \
        == "New Ferry Timetable: What Changes for Commuters"


def test_a_breadcrumb_of_sections_beside_the_site_name_goes():
    assert _title("<title>No ferries over Easter? | Forum | Boats | Hafenblatt.example</title>") \
        == "No ferries over Easter?"


def test_a_second_long_part_stays_with_the_headline():
    assert _title("<title>Ferries: the new timetable | What changes for commuters | Hafenblatt</title>") \
        == "Ferries: the new timetable | What changes for commuters"


def test_separators_without_spaces_in_cjk_titles():
    assert _title("<title>武汉的声音：有英勇的你，才有英雄的城！-新华网</title>") == "武汉的声音：有英勇的你，才有英雄的城！"
    assert _title('<meta property="og:site_name" content="NEWS WEB EASY">'
                  "<title>NEWS WEB EASY|子どもへの体罰を禁止する法律ができる</title>") == "子どもへの体罰を禁止する法律ができる"


def test_a_hyphen_inside_a_latin_title_is_no_separator():
    assert _title("<title>Covid-19: Berlin-Brandenburg opens its test-centres</title>") \
        == "Covid-19: Berlin-Brandenburg opens its test-centres"


def test_a_kicker_before_the_headline_in_the_h1_is_left_out():
    og = '<meta property="og:title" content="New ferry timetable for the islands">'
    # a kicker in an element of its own runs into the headline's text without a space
    assert _title(og, '<h1><span class="kicker">Harbour</span>New ferry timetable for the islands</h1>') \
        == "New ferry timetable for the islands"
    assert _title(og, "<h1>Headline: New ferry timetable for the islands</h1>") == "New ferry timetable for the islands"


def test_a_subtitle_after_a_dash_stays_when_the_page_title_adds_the_site_name_after_it():
    og = "Snow on the deck and ice in the harbour – a dog in winter"
    assert _title(f'<meta property="og:title" content="{og}"><title>{og} - Harbour Times</title>') == og
    # where the page title says no more, a short end part is still taken for the site's name
    same = "What the new winter timetable changes for island ferries – Harbour Times"
    assert _title(f'<meta property="og:title" content="{same}"><title>{same}</title>') \
        == "What the new winter timetable changes for island ferries"


def test_the_headline_and_the_short_labels_above_it_leave_the_body():
    from crawler.extraction import _drop_leading_title

    story = "First paragraph of the story, long enough to be one.\nSecond paragraph."
    title = "Atendimento Domiciliar registra arrombamento em veículos"
    assert _drop_leading_title(f"{title}\n{story}", title) == story
    assert _drop_leading_title(f"Categorias\n{title.upper()}\n{story}", title) == story  # folded alike
    assert _drop_leading_title(f"21. Jan 2022 // Dominik Ricker\nHeadline:\n{title}\n{story}", title) == story
    # a sentence above the headline is the story's (a standfirst set above it): nothing goes
    lead = "A lead paragraph that the site sets above its headline, as some do."
    assert _drop_leading_title(f"{lead}\n{title}\n{story}", title) == f"{lead}\n{title}\n{story}"
    # the headline further down, or the whole text, stays
    far = "a\nb\nc\n"
    assert _drop_leading_title(f"{far}{title}\n{story}", title) == f"{far}{title}\n{story}"
    assert _drop_leading_title(title, title) == title
