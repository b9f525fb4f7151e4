"""Field extraction on non-English pages: real dev-set pages from ../shared, plus a built Arabic page
(neither dev set holds an Arabic-language article)."""

from __future__ import annotations

from datetime import datetime, timezone

import lxml.html
import pytest

from crawler.extraction import extract, extract_fields
from crawler.extraction.language import language
from crawler.extraction.page import Page

from ._data import aeb_page, fixture_page, traf_page


def test_german_traf_dev_page():
    html, url, truth = traf_page("utopia.de-Werbung.html")
    f = extract_fields(html, url)
    assert f["language"] == "de"
    assert f["title"] == truth["title"]
    assert f["date"] == truth["date"]
    assert f["authors"] == [truth["author"]]
    assert all(snippet in f["text"] for snippet in truth["with"][:3])


def test_russian_aeb_page():
    html, url, truth = aeb_page("wday.ru/articles/53-letnyaya-model")
    a = extract(html, url)
    assert a.language == "ru"
    assert a.title.startswith("53-летняя модель")
    assert a.published_at is not None and a.published_at.date().isoformat() == "2018-10-11"
    # "Текст Лида Буслаева" is a byline label plus the name: only the name is kept.
    assert a.authors == ["Лида Буслаева"]
    first = truth["articleBody"].split("\n")[0][:60]
    assert first in a.text


def test_chinese_traf_dev_page():
    html, url, truth = traf_page("banyuetan.org.1000200033136171577956287380194268_1.html")
    f = extract_fields(html, url)
    assert f["language"] == "zh"
    assert f["title"] == truth["title"]
    assert f["date"] == truth["date"]
    assert f["authors"] == [truth["author"]]
    assert all(snippet in f["text"] for snippet in truth["with"])


def test_arabic_page_without_declared_language():
    a = extract(fixture_page("arabic-news.html"), "https://news.example.com/local/2021/03/14/rain")
    assert a.language == "ar"  # no lang attribute: detected from the text
    assert a.title == "الأمطار الغزيرة تغمر شوارع المدينة وتعطل حركة المرور"
    assert a.authors == ["أحمد خالد"]
    # +03:00 on the page, kept: 09:15 local is 06:15 UTC, same calendar day
    assert a.published_at.isoformat() == "2021-03-14T09:15:00+03:00"
    assert a.published_at == datetime(2021, 3, 14, 6, 15, tzinfo=timezone.utc)
    assert a.text.startswith("شهدت المدينة صباح اليوم")
    assert "جميع الحقوق محفوظة" not in a.text
    assert len(a.text.split("\n")) == 4


@pytest.mark.parametrize("text, code", [
    ("Der Bundestag hat am Donnerstag ein neues Gesetz beschlossen, das die Rechte der Mieter stärkt und "
     "die Kosten für Sanierungen begrenzt.", "de"),
    ("Le gouvernement a annoncé jeudi une série de mesures pour soutenir les entreprises touchées par la crise "
     "et les salariés.", "fr"),
    ("Президент заявил, что правительство продолжит работу над реформой, несмотря на критику со стороны "
     "оппозиции.", "ru"),
    ("国务院新闻办公室今天举行新闻发布会，介绍今年经济运行情况和下一步工作安排。", "zh"),
    ("東京都は今日、新しい感染症対策を発表しました。", "ja"),
    ("short", ""),
])
def test_detector(text, code):
    undeclared = Page(lxml.html.fromstring("<html><body><p>x</p></body></html>"), "https://news.example.com/a")
    assert language(undeclared, text) == code
