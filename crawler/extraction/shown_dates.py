"""The calendar days a page shows its readers: dates written out in its visible text.

Structured stamps (meta, JSON-LD, ``<time datetime>``) and the text can disagree: a stamp in
UTC where the page prints the local day, a "published" stamp left from a first draft while
the page prints only its update. What readers see is what the page means, so the date
chooser (dates.py) asks which of its candidates' days the text shows.

Only explicit day-month-year forms count ("25.01.2022", "2022-01-25", "25/01/2022",
"25. Januar 2022", "January 25, 2022", "3 de mayo de 2022"), with the month names of the
languages the sets and sources are written in; a slashed date counts under both the
European and the US reading, since only membership is asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from lxml.etree import XPath, iterwalk, tostring
from lxml.html import HtmlElement

_MONTH_NAMES = (
    "january jan januar jänner janvier enero gennaio januari janeiro",
    "february feb februar feber février fevrier febrero febbraio februari fevereiro",
    "march mar märz maerz mars marzo maart março",
    "april apr avril abril aprile",
    "may mai mayo maggio mei maio",
    "june jun juni juin junio giugno junho",
    "july jul juli juillet julio luglio julho",
    "august aug août aout agosto augustus",
    "september sep sept septembre septiembre settembre setembro",
    "october oct oktober okt octobre octubre ottobre outubro",
    "november nov novembre noviembre novembro",
    "december dec dezember dez décembre decembre diciembre dicembre dezembro",
)
MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR = r"((?:19|20)\d{2})"
_DMY_DOTS = re.compile(r"(\d{1,2})\.\s?(\d{1,2})\.\s?" + _YEAR)
_YMD = re.compile(r"((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})")
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/" + _YEAR)
_DAY_MONTH = re.compile(r"(\d{1,2})(?:\.|er|st|nd|rd|th)?\s+(?:de\s+)?(" + _MONTH + r")\.?,?\s+(?:de\s+)?"
                        + _YEAR, re.I)
_MONTH_DAY = re.compile(r"(" + _MONTH + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+" + _YEAR, re.I)
# Elements whose text no reader sees.
_UNSEEN = ("script", "style", "noscript", "template")
# A written-out date reaches at most this far before its year ("3 de septiembre de 2022") and
# this far after its start ("2022-09-03").
_BEFORE_YEAR, _AFTER_YEAR = 30, 10


def _day(year: str, month: int | str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def days_in(text: str) -> set[date]:
    """Every calendar day written out in ``text``."""
    found: list[date | None] = []
    found += [_day(y, m, d) for d, m, y in _DMY_DOTS.findall(text)]
    found += [_day(y, m, d) for y, m, d in _YMD.findall(text)]
    for a, b, y in _SLASHED.findall(text):
        found += [_day(y, b, a), _day(y, a, b)]
    found += [_day(y, MONTHS[m.casefold()], d) for d, m, y in _DAY_MONTH.findall(text)]
    found += [_day(y, MONTHS[m.casefold()], d) for m, d, y in _MONTH_DAY.findall(text)]
    return {d for d in found if d is not None}


def without_days(text: str, mark: str = " | ") -> str:
    """``text`` with each day written out in it replaced by ``mark``."""
    for pattern in (_DMY_DOTS, _YMD, _SLASHED, _DAY_MONTH, _MONTH_DAY):
        text = pattern.sub(mark, text)
    return text


def _visible_text(tree: HtmlElement, years: set[str]) -> str:
    """The body's text, without the unseen elements' strings that name one of ``years``: the
    others cannot show a day asked for, and taking a string out costs a scan of the text."""
    body = tree.find("body")
    if body is None:
        return ""
    # serialised in C; adjacent elements' text runs together ("Douziech</a><time>November 6",
    # "28. Juni 2019</time><time>14. Januar 2020"), which is why the patterns look neither
    # behind nor ahead: a day read out of such a run counts only if a candidate names it
    text = tostring(body, method="text", encoding=str, with_tail=False)
    for element in body.iter(*_UNSEEN):
        for piece in element.itertext():
            if any(year in piece for year in years):
                text = text.replace(piece, " ", 1)
    return text


def shown(tree: HtmlElement, days: set[date]) -> set[date]:
    """The days among ``days`` that the page's visible text writes out."""
    years = {str(day.year) for day in days}
    text = _visible_text(tree, years)
    windows = []
    for year in years:
        at = text.find(year)
        while at >= 0:
            windows.append(text[max(0, at - _BEFORE_YEAR):at + _AFTER_YEAR])
            at = text.find(year, at + 4)
    # a bar between windows: no date reads across it
    return days_in(" | ".join(" ".join(w.split()) for w in windows)) & days


# Around the first headline with text: the elements with text of their own (icons and wrappers
# left out) this many before and after it, where a page prints its date line and byline. A
# line is shorter than _LINE_CHARS (the article itself is no such line). At most _LOOK_AT
# elements are looked at on each side, so a page pays for a short walk, not for its size.
_BEFORE, _AFTER, _LINE_CHARS, _LOOK_AT = 6, 8, 100, 200
_H1 = XPath("//body//h1")
# What XPath's normalize-space() takes for blank: a no-break space is text a page shows.
_BLANK = " \t\r\n"


def _own_text(element: HtmlElement) -> bool:
    return bool((element.text or "").strip(_BLANK)) or any((child.tail or "").strip(_BLANK) for child in element)


def _short(element: HtmlElement) -> bool:
    size = 0
    for piece in element.itertext():
        size += len(piece)
        if size >= _LINE_CHARS:
            return False
    return True


def _preceding(element: HtmlElement) -> Iterator[HtmlElement]:
    """XPath's preceding axis, nearest first: no ancestors."""
    node: HtmlElement | None = element
    while node is not None:
        for sibling in node.itersiblings(preceding=True):
            yield from reversed(list(sibling.iter()))
        node = node.getparent()


def _following(element: HtmlElement) -> Iterator[HtmlElement]:
    """XPath's following axis, nearest first: no descendants."""
    node: HtmlElement | None = element
    while node is not None:
        for sibling in node.itersiblings():
            yield from sibling.iter()
        node = node.getparent()


def _lines(elements: Iterator[HtmlElement], wanted: int) -> list[HtmlElement]:
    out: list[HtmlElement] = []
    for looked, element in enumerate(elements):
        if len(out) == wanted or looked == _LOOK_AT:
            break
        if isinstance(element.tag, str) and _own_text(element):
            out.append(element)
    return [element for element in out if _short(element)]


def near_headline(tree: HtmlElement) -> list[HtmlElement]:
    """The short elements printed around the headline, in document order."""
    h1 = next((h for h in _H1(tree) if "".join(h.itertext()).strip(_BLANK)), None)
    if h1 is None:
        return []
    return _lines(_preceding(h1), _BEFORE)[::-1] + _lines(_following(h1), _AFTER)


def headline_day(tree: HtmlElement) -> date | None:
    """The day written in the first line around the headline that writes exactly one."""
    for element in near_headline(tree):
        days = days_in(" ".join(element.text_content().split()))
        if days:
            return days.pop() if len(days) == 1 else None
    return None


# A date the text labels as the publication's: "Erschienen am: 01.11.2023", "Written: 2023-11-07".
_PUBLISHED_LABEL = re.compile(
    r"\b(?:published|publication date|written|posted|veröffentlicht|erschienen|publiziert|publié|"
    r"publicado|pubblicato|gepubliceerd)(?:\s+(?:on|am|le|el|il|em|op))?\s*:?\s*", re.I)
_LABELLED_SPAN = 40


def labelled_published(tree: HtmlElement) -> date | None:
    """The first day the visible text writes right after a publication label; for pages whose
    markup carries no date at all, before the generic heuristics guess among every date."""
    body = tree.find("body")
    if body is None:
        return None
    pieces: list[str] = []
    skipping = 0
    for event, element in iterwalk(body, events=("start", "end")):
        if event == "start":
            if skipping or not isinstance(element.tag, str) or element.tag in _UNSEEN:
                skipping += 1  # comments too: nobody reads them
            elif element.text:
                pieces.append(element.text)
        else:
            skipping -= bool(skipping)
            if element is not body and element.tail and not skipping:
                pieces.append(element.tail)  # an unseen element's tail is its parent's text
    text = " ".join(" ".join(pieces).split())
    for m in _PUBLISHED_LABEL.finditer(text):
        window = text[m.end():m.end() + _LABELLED_SPAN]
        days = days_in(window)
        if len(days) == 1:
            return days.pop()
    return None
