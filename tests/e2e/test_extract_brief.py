"""`mediawatch extract` on a short news brief gives the article, as a crawl would index it."""

from __future__ import annotations

from tests.unit.extraction._briefs import cut_to_brief
from tests.unit.extraction._data import aeb_page


def test_extract_cli_returns_a_short_brief_as_an_article(project):
    # A real page (billboard.com) with its article cut to ~60 words inside its own template:
    # before brief.py the extractor kept under 250 characters of it and the CLI said not_article.
    html, url, truth = aeb_page("billboard.com/articles/news/8544119")
    page, brief = cut_to_brief(html, truth["articleBody"], words=60)
    project.write({})
    article = project.extract(page, url, "brief.html")
    for line in brief.split("\n"):
        assert line in article["text"]
    assert article["word_count"] < 2 * len(brief.split())
