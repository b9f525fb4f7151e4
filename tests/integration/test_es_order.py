"""Elasticsearch's newest-first search against a brute-force ordering of the same real index, and against the
same search over the whole range at once.

``IndexSearch.search`` looks for the newest hits in the last day, then the last 32 days, before the whole
range (``NEWEST_WINDOWS``), so the corpus spreads its articles over those spans in densities that take each
path: words found in every hour, only over weeks, only long ago; equal instants ordered by URL against their
insertion order; articles without a date (the batch's stamp, now); dates in the future; copies of one story
across the windows' edges; and filters that cut the windows short (``since``) or move them (``until``)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from indexer.article import Article
from indexer.backends import es_search
from indexer.backends.elasticsearch import ElasticsearchBackend
from indexer.config import IndexConfig
from tests.harness.search_order import brute, collapsed

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SOURCES = [f"src{i}" for i in range(4)]
FILLER = [f"f{i}" for i in range(60)]


def when(i: int) -> datetime | None:
    """Article i's date: a third within the last day, a third over the last 40 days, the rest a year back."""
    if i % 25 == 0:
        return None  # effective_at is the batch's indexed_at: now
    if i % 31 == 0:
        return NOW + timedelta(days=1 + i % 3)  # a wrong date from the future
    if i % 3 == 0:
        return NOW - timedelta(minutes=20 * (i // 6))  # two articles to an instant
    if i % 3 == 1:
        return NOW - timedelta(days=1 + i % 40, hours=i % 5)
    return NOW - timedelta(days=60 + i % 300)


def corpus() -> list[list[Article]]:
    rnd = random.Random(7)
    batches, batch = [], []
    for i in range(240):
        words = ["every"]
        words += ["hourly"] if i % 3 == 0 else []
        words += ["weekly"] if i % 3 == 1 and i % 4 == 0 else []
        words += ["yearly"] if i % 3 == 2 and i % 5 == 0 else []
        words += rnd.sample(["alpha", "beta", "gamma", "delta"], 2)
        words += rnd.choices(FILLER, k=40)  # enough words that a copy is told from a neighbour
        text = " ".join(words + [f"n{i}"])
        at = when(i)
        if i % 11 == 5 and batch:  # a copy of the previous article elsewhere: one story, two sources
            text, at = batch[-1].text, batch[-1].published_at
        batch.append(Article(url=f"https://{SOURCES[i % 4]}.example/{rnd.randrange(10**6):06d}-{i}",
                             title=f"story {i % 50}", text=text, source=SOURCES[i % 4], published_at=at))
        if len(batch) == 40:
            batches.append(batch)
            batch = []
    return batches + ([batch] if batch else [])


@pytest.fixture(scope="module")
def loaded(es_url):
    b = ElasticsearchBackend(IndexConfig(url=es_url, prefix=f"mwt-ord-{uuid.uuid4().hex[:8]}", refresh="wait_for",
                                         refresh_interval="1s"))
    b.init()
    ids = []
    for batch in corpus():
        assert not b.index(batch).failed
        ids += [a.id for a in batch]
    b.refresh()
    stored = [b.get(i) for i in ids]
    yield b, [a for a in stored if a is not None]
    b.destroy()
    b.close()


QUERIES = ["every", "hourly", "weekly", "yearly", "alpha AND NOT beta", "(hourly OR weekly) NOT gamma", "n1*",
           "n7", None, "nothingsuch"]
FILTERS = [
    {},
    {"sources": ["src1"]},
    {"since": NOW - timedelta(hours=6)},
    {"since": NOW - timedelta(days=10)},
    {"until": NOW - timedelta(days=2)},
    {"since": NOW - timedelta(days=300), "until": NOW - timedelta(hours=3), "sources": ["src0", "src2"]},
]


def test_corpus_takes_every_path(loaded):
    _b, stored = loaded
    dates = [a.published_at or a.indexed_at for a in stored]
    assert len(dates) - len(set(dates)) > 20  # equal instants: the URL decides
    assert sum(a.published_at is None for a in stored) >= 5
    assert sum(d > NOW for d in dates) >= 3
    assert len(stored) - len({a.story_id for a in stored}) >= 10  # copies grouped into stories
    last_day = [a for a in brute(stored, "hourly") if (a.published_at or a.indexed_at) >= NOW - timedelta(days=1)]
    assert len(last_day) >= 20  # the day's window answers
    weekly = brute(stored, "weekly")
    assert 0 < sum((a.published_at or NOW) >= NOW - timedelta(days=1) for a in weekly) < 7 <= len(weekly)


@pytest.mark.parametrize("q", QUERIES)
def test_newest_first_is_the_brute_force_order(loaded, q):
    b, stored = loaded
    for filters in FILTERS:
        want = brute(stored, q, **filters)
        for limit in (1, 7, 20, 1000):
            got = b.search(q, limit=limit, **filters)
            assert [h.article.id for h in got] == [a.id for a in want[:limit]], (filters, limit)
            got = b.search(q, limit=limit, collapse=True, **filters)
            assert [(h.article.id, h.copies) for h in got] == collapsed(want)[:limit], (filters, limit)


@pytest.mark.parametrize("q", QUERIES)
def test_windows_change_nothing_the_whole_range_gives(loaded, q, monkeypatch):
    """Same hits, order, scores, snippets and copies as one search over the whole range."""
    b, _stored = loaded

    def answers():
        return [[(h.article.id, h.score, h.snippet, h.copies) for h in b.search(q, limit=limit, collapse=c, **f)]
                for f in FILTERS for limit in (1, 7, 20) for c in (False, True)]

    windowed = answers()
    monkeypatch.setattr(es_search, "NEWEST_WINDOWS", ())
    assert answers() == windowed
