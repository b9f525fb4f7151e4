from __future__ import annotations

import pytest

from crawler.extraction import NotArticle, extract, extract_fields

PARAS = "".join(f"<p>Paragraph {i}: the council voted on the budget after a long debate about schools.</p>"
                for i in range(8))


def reason(html: str, url: str = "https://ex.com/x") -> str:
    with pytest.raises(NotArticle) as info:
        extract(html, url)
    return info.value.reason


def test_too_short():
    assert reason("<html><head><title>Stub</title></head><body><article><h1>Stub</h1>"
                  "<p>Only a line of text here.</p></article></body></html>") == "too_short"


def test_index_page():
    links = "".join(f'<li><a href="/news/story-{i}">Headline number {i} about the city council and its budget</a></li>'
                    for i in range(60))
    html = (f'<html><head><title>News</title><meta property="og:type" content="website"></head>'
            f"<body><h1>Latest news</h1><ul>{links}</ul></body></html>")
    assert reason(html, "https://ex.com/news/") == "index_page"


def test_video_without_text():
    html = ('<html><head><title>Watch</title><meta property="og:type" content="video.other"></head><body>'
            '<article><h1>Watch: the flood</h1><video src="/v.mp4"></video>'
            "<p>Footage shows the flooded streets of the old town on Sunday morning, after two days of rain "
            "that forced the evacuation of hundreds of residents from their homes near the river.</p>"
            "<p>Emergency services said the water level had started to fall in the afternoon.</p>"
            "</article></body></html>")
    assert reason(html) == "video_without_text"


@pytest.mark.parametrize("html, why", [("", "empty"), ("   ", "empty")])
def test_empty(html, why):
    assert reason(html) == why


def test_article_passes_and_reason_is_reported_by_extract_fields():
    html = f"<html><head><title>Budget</title></head><body><article><h1>Budget</h1>{PARAS}</article></body></html>"
    assert extract(html, "https://ex.com/budget").title == "Budget"
    assert extract_fields("<html><body><p>x</p></body></html>", "https://ex.com/")["not_article"] == "too_short"
