"""The embedded SQLite/FTS5 backend, plus the ingest path (batches, spool, quarantine) on a real SQLite file.

An "outage" of the embedded index is real too: another connection holding an exclusive lock."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest

from indexer.article import Article
from indexer.backends import open_backend
from indexer.backends.sqlite import SqliteBackend
from indexer.config import IndexConfig
from indexer.ingest import Ingestor
from indexer.spool import Spool
from tests.harness.wait import wait_until

BASE = datetime(2024, 5, 1, tzinfo=timezone.utc)


def art(i: int, title: str | None = None, **kw) -> Article:
    kw.setdefault("published_at", BASE + timedelta(minutes=i))
    return Article(url=f"https://s.example/{i}", title=title or f"Title {i} budget", text=f"text {i}", **kw)


def test_open_backend_creates_parent_dirs_and_schema(tmp_path):
    path = tmp_path / "a" / "b" / "index.sqlite3"
    b = open_backend(IndexConfig(sqlite_path=str(path)))
    assert isinstance(b, SqliteBackend)
    first = b.init()
    assert set(first["created"]) == {"articles", "articles_fts", "meta"}
    second = b.init()
    assert second["created"] == [] and second["added_columns"] == [] and second["schema_version"] == 5
    assert path.exists()
    b.close()


def test_init_upgrades_an_older_schema(tmp_path):
    path = tmp_path / "old.sqlite3"
    b = SqliteBackend(path)
    b.init()
    b.index([art(1)])
    b.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE articles DROP COLUMN original_url")  # as if written by an older version
    db.execute("PRAGMA user_version=0")
    db.commit()
    db.close()
    b = SqliteBackend(path)
    done = b.init()
    assert done["added_columns"] == ["original_url"] and done["created"] == []
    assert done["schema_version"] == {"from": 0, "to": 5}
    assert b.get(art(1).id).title == "Title 1 budget"
    b.index([art(2, original_url="https://elsewhere.example/2")])
    assert b.get(art(2).id).original_url == "https://elsewhere.example/2"
    b.close()


@pytest.mark.parametrize("q", [
    'NEAR', '"NEAR(a b)"', 'title', 'kw', '"a""b"', 'x^2', '"*"x', "AND\\:OR", "zzall", "s62",
    "title:kw", "\"title: budget\"", "col\\:umn", "'quoted'",
])
def test_fts5_special_input_is_harmless(tmp_path, q):
    b = SqliteBackend(tmp_path / "x.sqlite3")
    b.index([art(1, title='NEAR AND OR NOT "quoted" title: kw zzall'), art(2)])
    from indexer.query import QueryError, matches, parse

    try:
        node = parse(q)
    except QueryError:
        return
    want = {a.id for a in (art(1, title='NEAR AND OR NOT "quoted" title: kw zzall'), art(2)) if matches(node, a)}
    assert b.ids(q) == want
    b.close()


def _segments(path) -> int:
    # FTS5's %_idx shadow table has rows per segment (its documented on-disk structure)
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(DISTINCT segid) FROM articles_fts_idx").fetchone()[0]
    finally:
        db.close()


def test_status_and_maintenance_merges_segments_after_deletes(tmp_path):
    path = tmp_path / "s.sqlite3"
    b = SqliteBackend(path)
    for i in range(0, 40, 2):  # one transaction, so one new segment, per call
        b.index([art(i), art(i + 1)])
    st = b.status()
    assert st["count"] == 40 and st["health"] == "green" and st["size_bytes"] > 0
    b.delete_older_than(0)  # every test article is dated in the past: deletes leave marks in the segments
    b.index([art(100), art(101)])
    before_ids = b.ids("*")
    assert _segments(path) > 1
    done = b.maintenance()
    assert done["merge_slices"] >= 1
    assert _segments(path) == 1
    assert b.ids("*") == before_ids and b.count() == 2
    assert b.maintenance()["merge_slices"] == 0  # nothing left to merge
    b.close()


# ------------------------------------------------------------------ ingest + spool on SQLite

def _ingestor(backend, spool, landed, **kw):
    kw.setdefault("batch_size", 3)
    return Ingestor(backend, spool, batch_interval_s=60, on_indexed=landed.extend, retry_attempts=1,
                    retry_backoff_s=0.01, probe_interval_s=0.05, background=kw.pop("background", False), **kw)


def test_batches_by_size_and_time(tmp_path):
    b = SqliteBackend(tmp_path / "i.sqlite3")
    spool = Spool(tmp_path / "spool")
    landed: list[Article] = []
    ing = Ingestor(b, spool, batch_size=3, batch_interval_s=0.2, on_indexed=landed.extend, background=True)
    for i in range(4):
        ing.submit(art(i))
    wait_until(lambda: len(landed) >= 3, 5, "the size-triggered batch")
    assert len(landed) == 3
    wait_until(lambda: ing.maybe_flush() or len(landed) >= 4, 5, "the 4th article, by age")
    assert [a.url for a in landed] == [art(i).url for i in range(4)]  # the 4th went by age
    ing.close()
    assert b.count() == 4
    b.close()
    spool.close()


def test_outage_spools_then_replays_in_order_exactly_once(tmp_path):
    path = tmp_path / "locked.sqlite3"
    b = SqliteBackend(path, timeout=0.05)
    b.init()
    spool = Spool(tmp_path / "spool")
    landed: list[Article] = []
    ing = _ingestor(b, spool, landed)

    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the embedded index is "down"
    sent = [art(i) for i in range(7)] + [art(3, title="Title 3 second version")] + [art(i) for i in range(7, 10)]
    t0 = time.monotonic()
    for a in sent:
        ing.submit(a)
    ing.flush()
    assert time.monotonic() - t0 < 5
    assert spool.depth() == len(sent) and landed == []
    assert ing.pending() == len(sent)

    blocker.execute("ROLLBACK")
    blocker.close()
    # the first probe of the index is due probe_interval_s after the failure; it replays the spool in order
    wait_until(lambda: ing.maybe_flush() or spool.depth() == 0, 5, "the probe replaying the spool")
    ing.submit(art(10))  # new work goes out after what was spooled
    ing.flush()
    assert spool.depth() == 0
    assert [a.url for a in landed] == [a.url for a in sent] + [art(10).url]  # in order, each once
    assert b.count() == 11
    assert b.get(art(3).id).title == "Title 3 second version"  # later version wins: order kept
    assert ing.drain() == 0
    assert ing.stats()["spooled"] == len(sent)  # the probe replayed the spool before art 10 went out


def test_replay_after_crash_between_index_and_ack_does_not_duplicate(tmp_path):
    b = SqliteBackend(tmp_path / "c.sqlite3")
    spool = Spool(tmp_path / "spool")
    spool.append([art(i) for i in range(5)])
    entries = spool.peek(10)
    b.index([e.article for e in entries[:3]])  # indexed, then "crash" before ack
    spool2 = Spool(tmp_path / "spool")  # restart: the spool is durable
    assert spool2.depth() == 5
    landed: list[Article] = []
    ing = _ingestor(b, spool2, landed)
    assert ing.drain() == 5
    assert b.count() == 5 and spool2.depth() == 0


def test_rejected_document_is_quarantined_rest_goes_in(tmp_path):
    b = SqliteBackend(tmp_path / "q.sqlite3")
    spool = Spool(tmp_path / "spool")
    landed: list[Article] = []
    ing = _ingestor(b, spool, landed)
    bad = art(1, word_count=2**40)
    for a in (art(0), bad, art(2)):
        ing.submit(a)
    ing.flush()
    assert [a.url for a in landed] == [art(0).url, art(2).url]
    q = spool.quarantined()
    assert [e.id for e in q] == [bad.id] and "word_count" in q[0].reason and q[0].article.url == bad.url
    assert b.count() == 2 and spool.depth() == 0


def test_submit_after_close_is_durable(tmp_path):
    b = SqliteBackend(tmp_path / "z.sqlite3")
    spool = Spool(tmp_path / "spool")
    ing = _ingestor(b, spool, [], background=True)
    ing.submit(art(0))
    ing.close()
    ing.submit(art(1))
    assert b.count() == 1 and spool.depth() == 1
