"""Stories and versions in both real backends: copies share a story_id, a restart keeps it, the window
bounds it, a cross-site canonical joins the original's story, a changed page is a new version, an
unchanged one writes nothing, and search collapses copies."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from indexer.article import Article
from indexer.backends import open_backend, sqlite_stories
from indexer.backends.base import Backend
from indexer.backends.sqlite import SqliteBackend
from indexer.config import IndexConfig
from indexer.signatures import BANDS
from tests.harness.story_texts import SAME_EVENT, WIRE

NOW = datetime.now(timezone.utc).replace(microsecond=0)
UTC = timezone.utc
COPY = WIRE.replace("The bizarre yet officially reported", "The strange but officially reported") + \
    " Another big protest is planned for this Sunday."


def art(url: str, text: str = WIRE, title: str = "Lukashenko meets jailed rivals", **kw) -> Article:
    kw.setdefault("published_at", NOW - timedelta(hours=1))
    kw.setdefault("source", url.split("/")[2])
    return Article(url=url, title=title, text=text, **kw)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def config(request, tmp_path) -> IndexConfig:
    if request.param == "sqlite":
        return IndexConfig(sqlite_path=str(tmp_path / "idx.sqlite3"))
    return IndexConfig(url=request.getfixturevalue("es_url"), prefix=f"mwt-s-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def backend(config) -> Backend:
    b = open_backend(config)
    b.init()
    yield b
    if config.url:
        b.destroy()
    b.close()


def story(b: Backend, url: str) -> str:
    got = b.get(Article(url=url, title="", text="").id)
    assert got is not None, url
    return got.story_id


def test_copies_share_a_story_across_batches_and_a_restart(backend, config):
    backend.index([art("https://a.example/wire")])
    backend.index([art("https://b.example/copy", COPY, title="Belarus leader visits jailed opponents")])
    backend.refresh()
    first = story(backend, "https://a.example/wire")
    assert first and story(backend, "https://b.example/copy") == first
    # a new process on the same index (no memory of the above) still finds the story
    again = open_backend(config)
    try:
        again.index([art("https://c.example/third", COPY + " Reporting by agencies.")])
        again.index([art("https://d.example/other", SAME_EVENT, title="Lukashenko talks to critics")])
        again.refresh()
        assert story(again, "https://c.example/third") == first
        assert story(again, "https://d.example/other") not in ("", first)
    finally:
        again.close()


def test_copies_in_one_batch_share_a_story_and_the_window_bounds_it(backend):
    old = NOW - timedelta(days=30)
    backend.index([art("https://a.example/1"), art("https://b.example/1", COPY),
                   art("https://c.example/old", COPY, published_at=old)])
    backend.refresh()
    assert story(backend, "https://a.example/1") == story(backend, "https://b.example/1")
    assert story(backend, "https://c.example/old") != story(backend, "https://a.example/1")


def test_a_cross_site_canonical_joins_the_original_story_and_keeps_its_own_document(backend):
    # the copy first: its story is named after the original it credits, so the original joins it
    copy = art("https://b.example/syndicated", "A short rewrite that shares few words with the original at all.",
               original_url="https://a.example/original")
    backend.index([copy])
    backend.refresh()
    backend.index([art("https://a.example/original")])
    backend.refresh()
    assert story(backend, "https://a.example/original") == story(backend, "https://b.example/syndicated")
    assert backend.count() == 2
    got = backend.get(copy.id)
    assert got.url == "https://b.example/syndicated" and got.source == "b.example"
    # and a later copy crediting a stored original joins it by the link alone
    backend.index([art("https://c.example/x", "Nothing alike here, a caption and two lines of other words.",
                       original_url="https://a.example/original")])
    backend.refresh()
    assert story(backend, "https://c.example/x") == story(backend, "https://a.example/original")


def test_a_changed_page_is_a_new_version_and_an_unchanged_one_writes_nothing(backend):
    first = art("https://a.example/v", fetched_at=NOW - timedelta(minutes=30))
    backend.index([first])
    backend.refresh()
    stored = backend.get(first.id)
    res = backend.index([art("https://a.example/v", fetched_at=NOW)])
    assert res.unchanged == [first.id] and res.indexed == []
    backend.refresh()
    assert backend.get(first.id).indexed_at == stored.indexed_at  # nothing was written
    changed = art("https://a.example/v", COPY, fetched_at=NOW)
    res = backend.index([changed])
    assert res.indexed == [first.id]
    backend.refresh()
    got = backend.get(first.id)
    assert got.version == 2 and got.modified_at == NOW and got.story_id == stored.story_id
    assert got.published_at == stored.published_at and got.text == COPY


def test_search_collapses_copies_unless_asked_for_all(backend):
    backend.index([art("https://a.example/1"), art("https://b.example/1", COPY),
                   art("https://c.example/1", SAME_EVENT, title="Lukashenko talks to critics")])
    backend.refresh()
    assert len(backend.search("Lukashenko")) == 3
    hits = backend.search("Lukashenko", collapse=True)
    assert sorted(h.copies for h in hits) == [1, 2]
    copies = backend.story_articles([story(backend, "https://a.example/1")])
    assert {a.url for v in copies.values() for a in v} == {"https://a.example/1", "https://b.example/1"}
    # reads leave out the story state the index keeps for lookups
    assert all(not h.article.story_sig and not h.article.story_keys for h in hits)


def _band_rows(path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sqlite_stories.tables(db)}
    finally:
        db.close()


def _reopened(path, version: int, rewrite) -> tuple[SqliteBackend, dict]:
    """The closed file rewritten as an older version left it, then opened: the backend and what init() did."""
    db = sqlite3.connect(path)
    rewrite(db)
    db.execute(f"PRAGMA user_version={version}")
    db.commit()
    db.close()
    b = SqliteBackend(path)
    return b, b.init()


def test_a_version_3_file_keeps_its_stories_and_its_band_rows_follow_rewrites_and_retention(tmp_path):
    """Schema 3 kept band keys as text rows with a second index; the upgrade converts them into a table per
    month, a copy indexed after it joins the story of an article indexed before, and a rewrite or retention
    leaves no stale row (and no month table retention emptied)."""
    path = tmp_path / "v3.sqlite3"
    b = SqliteBackend(path)
    b.index([art("https://a.example/1"), art("https://c.example/old", published_at=NOW - timedelta(days=400))])
    b.close()

    def as_version_3(db: sqlite3.Connection) -> None:  # rows as version 3 wrote them
        db.execute("CREATE TABLE story_keys (key TEXT NOT NULL, at TEXT NOT NULL, seq INTEGER NOT NULL,"
                   " PRIMARY KEY (key, at, seq)) WITHOUT ROWID")
        db.execute("CREATE INDEX story_keys_seq ON story_keys(seq)")
        db.execute("INSERT INTO story_keys SELECT j.value, a.effective_at, a.seq FROM articles a,"
                   " json_each(a.story_keys) j")
        for table in sqlite_stories.tables(db):
            db.execute(f"DROP TABLE {table}")

    b, done = _reopened(path, 3, as_version_3)
    assert done["schema_version"] == {"from": 3, "to": 5} and done["migrated_story_bands"]["rows"] == 2 * BANDS
    old_month, this_month = sqlite_stories.table_of(sqlite_stories.seconds(NOW - timedelta(days=400))), \
        sqlite_stories.table_of(sqlite_stories.seconds(NOW))
    assert _band_rows(path) == {old_month: BANDS, this_month: BANDS}
    b.index([art("https://b.example/2", text=COPY, title="Lukashenko holds talks in prison")])
    assert story(b, "https://b.example/2") == story(b, "https://a.example/1")
    b.index([art("https://a.example/1", text=SAME_EVENT)])  # rewritten: its old rows go, its new ones come
    assert _band_rows(path) == {old_month: BANDS, this_month: 2 * BANDS}
    assert b.delete_older_than(300) == 1 and _band_rows(path) == {this_month: 2 * BANDS}
    b.close()


def test_a_copy_across_a_month_boundary_and_a_version_4_file(tmp_path):
    """Band rows live in a table per month: a copy dated just after midnight on the 1st joins the story of one
    dated just before it (the window reads both months), and a schema 4 file's single table is split by month
    on opening, its stories kept."""
    path = tmp_path / "v4.sqlite3"
    first = datetime(NOW.year - 1, 12, 31, 23, 30, tzinfo=timezone.utc)
    b = SqliteBackend(path)
    b.index([art("https://a.example/nye", published_at=first)])
    b.index([art("https://b.example/nye", text=COPY, published_at=first + timedelta(hours=1))])
    assert story(b, "https://b.example/nye") == story(b, "https://a.example/nye")
    # dated before 1970 (SQLite's integer division truncates toward zero there), and on the first and last days
    # of the calendar, where a story window cannot reach a week further
    b.index([art("https://d.example/old", text=SAME_EVENT, published_at=datetime(1969, 12, 31, 23, tzinfo=UTC)),
             art("https://e.example/old", text=SAME_EVENT, published_at=datetime(1, 1, 1, tzinfo=UTC))])
    b.index([art("https://f.example/odd", text=SAME_EVENT, published_at=datetime(9999, 12, 31, tzinfo=UTC))])
    months = sorted(_band_rows(path))
    assert months == ["story_bands_000101", "story_bands_196912", f"story_bands_{first.year}12",
                      f"story_bands_{first.year + 1}01", "story_bands_999912"]
    b.close()

    def as_version_4(db: sqlite3.Connection) -> None:  # every row in one table
        db.execute("CREATE TABLE story_bands (key INTEGER NOT NULL, at INTEGER NOT NULL, seq INTEGER NOT NULL,"
                   " PRIMARY KEY (key, at, seq)) WITHOUT ROWID")
        for table in months:
            db.execute(f"INSERT INTO story_bands SELECT * FROM {table}")
            db.execute(f"DROP TABLE {table}")

    b, done = _reopened(path, 4, as_version_4)
    assert done["schema_version"] == {"from": 4, "to": 5} and done["migrated_story_bands"]["rows"] == 5 * BANDS
    assert _band_rows(path) == {month: BANDS for month in months}
    b.index([art("https://c.example/nye", text=COPY + " More later.", published_at=first + timedelta(hours=2))])
    assert story(b, "https://c.example/nye") == story(b, "https://a.example/nye")
    b.close()


def test_month_tables_give_every_key_its_newest_holders_in_the_window(tmp_path):
    """What a lookup returns, against brute force over rows spread across four months: every article holding
    one of a key's newest PER_KEY rows in the window is among them (Stories keeps those), and none outside it."""
    import random

    from indexer.stories import PER_KEY

    rnd = random.Random(5)
    db = sqlite3.connect(tmp_path / "bands.sqlite3")
    db.execute("CREATE TABLE articles (seq INTEGER PRIMARY KEY, id TEXT)")
    start = sqlite_stories.seconds(datetime(2026, 9, 20, tzinfo=timezone.utc))
    keys = [f"{b:02d}{rnd.getrandbits(64):016x}" for b in range(6)]
    rows = []
    for seq in range(1, 400):
        at = start + rnd.randrange(0, 100 * 86400)
        db.execute("INSERT INTO articles VALUES (?, ?)", (seq, f"a{seq}"))
        rows += sqlite_stories.rows_of(rnd.sample(keys, 3), datetime.fromtimestamp(at, timezone.utc), seq)
    sqlite_stories.insert(db, rows)
    assert len(sqlite_stories.tables(db)) == 4
    for lo_day, days in ((0, 5), (38, 9), (41, 30), (70, 60), (-20, 25)):
        since = datetime.fromtimestamp(start + lo_day * 86400, timezone.utc)
        until = since + timedelta(days=days)
        lo, hi = sqlite_stories.seconds(since), sqlite_stories.seconds(until)
        statement = sqlite_stories.candidates(sqlite_stories.tables(db), "a.seq", keys, since, until)
        got = {r[0] for r in db.execute(*statement)} if statement else set()
        wanted, within = set(), set()
        for key in keys:
            held = sorted((at, seq) for k, at, seq in rows if k == sqlite_stories.band_int(key) and lo <= at <= hi)
            wanted |= {seq for _, seq in held[-PER_KEY:]}
            within |= {seq for _, seq in held}
        assert wanted <= got <= within, (lo_day, days)
        assert wanted, (lo_day, days)
    db.close()
