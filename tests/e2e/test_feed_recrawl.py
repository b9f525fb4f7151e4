"""A crawl again through the real CLI: an RSS item whose pubDate moved forward is fetched again and its
changed article stored with version + 1; the items that did not move are not fetched."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.harness.project import fast_crawl
from tests.harness.site_pages import generated_article


def stored(project) -> dict[str, dict]:
    result = project.run("search", "*", "--json", "--all-copies", "--limit", "100")
    assert result.returncode == 0, result.stderr[-3000:]
    return {doc["url"]: doc for doc in map(json.loads, result.stdout.splitlines())}


def test_an_rss_item_whose_pubdate_moved_is_fetched_again_and_updated(project, fixture_site_factory):
    site = fixture_site_factory(0, seed=False)
    first, other = (site.add_article(html=generated_article(n)) for n in (1, 2))
    data = project.root / "data"
    project.write({"data_dir": str(data), "crawl": fast_crawl(data), "http": {"health_port": None},
                   "sources": [site.source("site")]})
    assert project.run("crawl", "site").returncode == 0
    before = stored(project)
    assert {doc["version"] for doc in before.values()} == {1}
    with site.lock:  # the publisher edits one story: its page, and its item's pubDate (RSS 2.0 has no updated)
        first.html = first.html.replace("Paragraph 0 of fixture story 1", "Corrected: paragraph 0 of fixture story 1")
        first.published += timedelta(hours=1)
    site.reset_log()
    again = project.run("crawl", "site")
    assert again.returncode == 0, again.stderr[-3000:]
    assert site.article_hits() == [first.path]  # the other item's date did not move: not fetched
    after = stored(project)
    edited = after[site.url(first.path)]
    assert edited["version"] == 2 and "Corrected: paragraph 0" in edited["text"]
    assert after[site.url(other.path)]["version"] == 1
