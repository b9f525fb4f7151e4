"""The embedded index's newest-first search against a brute-force ordering of the same real index.

The FTS walk by time key (indexer.backends.sqlite_search) settles the exact order only within the buckets
it reads, so the corpus is made of the cases that could break it: many articles in one second, equal dates
ordered by URL against their insertion order, articles without a date sharing one batch's stamp, dates
before 1970 and after 2106 (clamped into the end buckets), copies of one story, small and large filters.
Both plans (FTS first, rows first) are forced in turn."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from structlog.testing import capture_logs

from indexer.article import Article
from indexer.backends.sqlite import SqliteBackend
from tests.harness.old_layouts import downgrade_to_v2
from tests.harness.search_order import brute, collapsed

BASE = datetime(2024, 5, 1, tzinfo=timezone.utc)
WORDS = [f"w{i}" for i in range(40)]
SOURCES = [f"src{i}" for i in range(6)]


def corpus() -> list[list[Article]]:
    rnd = random.Random(5)
    batches, batch = [], []
    for i in range(360):
        words = rnd.choices(WORDS, weights=[1 / (k + 1) for k in range(len(WORDS))], k=40)
        if i % 9 == 0:
            words += ["red", "fox"]
        text = " ".join(["common"] + words)
        kw = {}
        if i % 30 == 0:
            kw["published_at"] = None  # effective_at is the batch's indexed_at: one instant for all of them
        elif i % 53 == 0:
            kw["published_at"] = datetime(1950 + i % 3, 1, 1, tzinfo=timezone.utc)
        elif i % 61 == 0:
            kw["published_at"] = datetime(2150, 1, 1 + i % 2, tzinfo=timezone.utc)
        else:
            # a dozen articles per second, some at the very same instant
            kw["published_at"] = BASE + timedelta(seconds=i // 12, microseconds=(i % 4) * 1000)
        if i % 7 == 3 and batch:  # a copy of the previous article elsewhere: one story, two sources
            prev = batch[-1]
            text, kw["published_at"] = prev.text, prev.published_at
        batch.append(Article(url=f"https://{SOURCES[i % 6]}.example/{rnd.randrange(10**6):06d}-{i}",
                             title=f"story {i % 50}", text=text, source=SOURCES[i % 6],
                             language="de" if i % 10 == 0 else "en", **kw))
        if len(batch) == 45:
            batches.append(batch)
            batch = []
    return batches + ([batch] if batch else [])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    b = SqliteBackend(tmp_path_factory.mktemp("order") / "index.sqlite3")
    ids = []
    for batch in corpus():
        b.index(batch)
        ids += [a.id for a in batch]
    stored = [b.get(i) for i in ids]
    yield b, [a for a in stored if a is not None]
    b.close()


QUERIES = ["common", "w0", "w3 AND w7", "w20", '"red fox"', "w1 NOT w2", "w3*", "*", None, "nothingsuch",
           "w*", "title:stor*", "common NOT w1*", "zz*"]
FILTERS = [
    {},
    {"sources": ["src2"]},
    {"languages": ["de"]},
    {"sources": ["src1", "src4"], "languages": ["en"]},
    {"since": BASE + timedelta(seconds=5), "until": BASE + timedelta(seconds=17, microseconds=2000)},
    {"since": BASE + timedelta(seconds=9), "sources": ["src3"]},
    {"until": BASE},
]


def test_corpus_has_the_hard_cases(loaded):
    _b, stored = loaded
    dates = [a.published_at or a.indexed_at for a in stored]
    assert len(dates) - len(set(dates)) > 50  # equal instants: the URL decides
    assert sum(a.published_at is None for a in stored) >= 10
    stories = [a.story_id for a in stored]
    assert len(stories) - len(set(stories)) >= 20  # copies grouped into stories


# 3 words at most: every prefix query here holds more, so it stays a prefix query (else: the OR of its words)
PREFIX_WORDS = [(q, SqliteBackend.prefix_words_max) for q in QUERIES] + [
    (q, 3) for q in QUERIES if q and "*" in q and q != "*"]


@pytest.mark.parametrize("few_rows", [0, 10**9], ids=["fts-first", "rows-first"])
@pytest.mark.parametrize("q,prefix_words", PREFIX_WORDS)
def test_newest_first_is_the_brute_force_order(loaded, q, few_rows, prefix_words):
    b, stored = loaded
    b.few_rows = few_rows
    b.prefix_words_max = prefix_words
    try:
        for filters in FILTERS:
            want = brute(stored, q, **filters)
            assert b.count(q, **filters) == len(want), filters
            for limit in (1, 7, 20, 1000):
                got = b.search(q, limit=limit, **filters)
                assert [h.article.id for h in got] == [a.id for a in want[:limit]], (filters, limit)
                got = b.search(q, limit=limit, collapse=True, **filters)
                assert [(h.article.id, h.copies) for h in got] == collapsed(want)[:limit], (filters, limit)
            per_day: dict[tuple[str, str], int] = {}
            for a in want:
                day = (a.published_at or a.indexed_at).astimezone(timezone.utc).strftime("%Y-%m-%d")
                per_day[(day, a.source)] = per_day.get((day, a.source), 0) + 1
            assert b.counts_per_day(q, **filters) == per_day
            assert b.ids(q, **filters) == {a.id for a in want}
    finally:
        b.few_rows = SqliteBackend.few_rows
        b.prefix_words_max = SqliteBackend.prefix_words_max


def test_a_version_2_file_is_migrated_and_answers_the_same(tmp_path):
    path = tmp_path / "v2.sqlite3"
    b = SqliteBackend(path)
    for batch in corpus()[:3]:
        b.index(batch)
    before = [(h.article.id, h.copies) for h in b.search("common", limit=50, collapse=True)]
    b.close()
    downgrade_to_v2(path)
    b = SqliteBackend(path)
    done = b.init()
    assert done["schema_version"] == {"from": 2, "to": 5} and done["migrated"]["articles"] == 135
    assert [(h.article.id, h.copies) for h in b.search("common", limit=50, collapse=True)] == before
    extra = Article(url="https://late.example/1", title="late", text="common late", published_at=BASE)
    b.index([extra])
    assert b.get(extra.id) is not None and extra.id in b.ids("late")
    b.close()


def test_retention_deletes_in_slices_while_a_writer_goes_on(tmp_path):
    b = SqliteBackend(tmp_path / "r.sqlite3")
    b.retention_slice = 7
    now = datetime.now(timezone.utc)
    old = [Article(url=f"https://old.example/{i}", title="old", text=f"gone {i}",
                   published_at=now - timedelta(days=40, minutes=i)) for i in range(60)]
    b.index(old)
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            a = Article(url=f"https://new.example/{i}", title="new", text="kept", published_at=now)
            b.index([a])
            written.append(a.id)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        with capture_logs() as logs:
            assert b.delete_older_than(30) == 60
    finally:
        stop.set()
        t.join(timeout=30)
    assert [(e["deleted"], e["slices"]) for e in logs if e["event"] == "index.retention"] == [(60, 9)]
    assert b.ids("gone") == set() and b.count() == len(written) and b.ids("kept") == set(written)
    b.close()
