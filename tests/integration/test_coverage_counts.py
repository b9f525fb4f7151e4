"""Articles per day and source (the web app's coverage chart): the same counts from SQLite's GROUP BY and
Elasticsearch's date_histogram, and the same as counting the articles by hand."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from indexer.article import Article
from indexer.backends import open_backend
from indexer.config import IndexConfig

BASE = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)
CEST = timezone(timedelta(hours=2))


def corpus() -> list[Article]:
    out = []
    for i in range(24):
        out.append(Article(
            url=f"https://news{i % 3}.example/story-{i}", title=f"Story {i} about the harbour" if i % 2 else f"Story {i}",
            text=f"Body of story {i}: the council met." + (" Harbour works." if i % 2 else ""),
            source=f"news{i % 3}", language="en" if i % 4 else "de",
            published_at=BASE - timedelta(hours=11 * i)))
    # 00:30 CEST on the 11th is 22:30 UTC on the 10th: a day is a UTC day on both backends.
    out.append(Article(url="https://news0.example/late", title="Late harbour story", text="Harbour at night.",
                       source="news0", language="en", published_at=datetime(2024, 3, 11, 0, 30, tzinfo=CEST)))
    return out


def expected(articles, pred=lambda a: True) -> dict[tuple[str, str], int]:
    return dict(Counter((a.published_at.astimezone(timezone.utc).strftime("%Y-%m-%d"), a.source)
                        for a in articles if pred(a)))


@pytest.fixture(params=["sqlite", "elasticsearch"])
def loaded(request, tmp_path):
    if request.param == "sqlite":
        backend = open_backend(IndexConfig(sqlite_path=str(tmp_path / "index.sqlite3")))
    else:
        es_url = request.getfixturevalue("es_url")
        backend = open_backend(IndexConfig(url=es_url, prefix=f"mw-cov-{uuid.uuid4().hex[:8]}"))
    backend.init()
    articles = corpus()
    assert backend.index(articles).indexed
    backend.refresh()
    yield backend, articles
    if request.param == "elasticsearch":
        backend.destroy()
    backend.close()


def test_counts_per_day_and_source(loaded):
    backend, articles = loaded
    counts = backend.counts_per_day()
    assert counts == expected(articles)
    assert counts[("2024-03-10", "news0")] >= 2  # the late Berlin story falls on its UTC day
    assert sum(counts.values()) == backend.count()


def test_counts_follow_query_and_filters(loaded):
    backend, articles = loaded
    since, until = BASE - timedelta(days=5), BASE - timedelta(days=1)
    counts = backend.counts_per_day("harbour", since=since, until=until, sources=["news1", "news2"], languages=["en"])
    want = expected(articles, lambda a: "arbour" in a.title + a.text and since <= a.published_at < until
                    and a.source in ("news1", "news2") and a.language == "en")
    assert want and counts == want
    assert sum(counts.values()) == backend.count("harbour", since=since, until=until, sources=["news1", "news2"],
                                                 languages=["en"])


def test_counts_per_hour(loaded):
    backend, articles = loaded
    since = BASE - timedelta(days=2)
    counts = backend.counts_per_day(since=since, hourly=True)
    want = Counter((a.published_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H"), a.source)
                   for a in articles if a.published_at >= since)
    assert want and counts == dict(want)
