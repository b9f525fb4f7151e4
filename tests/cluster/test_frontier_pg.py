"""The frontier on a real PostgreSQL: what the SQLite frontier does, shared by several daemons."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from crawler.accounting import RunAccounting
from crawler.frontier_pg import PgFrontier
from tests.unit.crawler.frontier_checks import check_runs_forgotten
from indexer.pgconn import EngineUnavailable
from tests.harness.wait import wait_until

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_seen_store_validators_and_runs(pg_dsn):
    fr = PgFrontier(pg_dsn)
    url = "https://x.example/a"
    assert not fr.is_fresh(url)
    fr.discovered(url, url, source="s", kind="article")
    assert not fr.is_fresh(url), "discovered is not done"
    fr.mark_done(url, url=url, source="s", kind="article", status="new", lastmod=T0, content_hash="h")
    assert fr.is_fresh(url, T0) and not fr.is_fresh(url, T0 + timedelta(seconds=1))
    fr.mark_failed("u404", url="u404", source="s", kind="article", status="error:http_404", permanent=True)
    fr.mark_failed("u1", url="u1", source="s", kind="article", status="error:timeout")
    fr.mark_failed("u1", url="u1", source="s", kind="article", status="error:timeout")
    assert fr.is_fresh("u404") and not fr.is_fresh("u1") and fr.get("u1").fails == 2
    fr.save_document("f", url="f", source="s", kind="feed", status="listing", etag='"1"', last_modified="x",
                     body_hash="b1", full_fetch=True)
    fr.flag_unreliable_etag("f")
    fr.save_document("f", url="f", source="s", kind="feed", status="listing", etag='"1"', last_modified=None,
                     body_hash="b2")
    st = fr.get("f")
    assert st.etag_unreliable and st.body_hash == "b2" and st.last_full_fetch
    acc = RunAccounting("s")
    acc.record("u", "u", "new")
    summary = acc.summary()
    summary.run_id = fr.begin_run("s", summary.started_at)
    fr.finish_run(summary)
    fr.begin_run("c", T0)  # a run its daemon never finished: not shown
    assert set(fr.last_runs()) == {"s"} and fr.last_runs()["s"].articles == 1
    fr.close()
    with PgFrontier(pg_dsn) as other:  # another daemon sees it all
        assert other.is_fresh(url) and other.count(source="s") == 4


def test_two_daemons_marking_one_url_at_once_agree(pg_dsn):
    frontiers = [PgFrontier(pg_dsn), PgFrontier(pg_dsn)]
    errors: list[BaseException] = []

    def go(fr: PgFrontier, gate: threading.Barrier, n: int) -> None:
        try:
            gate.wait()
            fr.discovered(f"u{n}", f"u{n}", source="s", kind="article")
            fr.mark_done(f"u{n}", url=f"u{n}", source="s", kind="article", status="new")
        except BaseException as err:  # reported below
            errors.append(err)

    for n in range(30):
        gate = threading.Barrier(2)
        threads = [threading.Thread(target=go, args=(fr, gate, n)) for fr in frontiers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert not errors
    assert frontiers[0].count(done=True) == 30
    for fr in frontiers:
        fr.close()


def test_a_restarted_engine_is_reconnected_and_a_stopped_one_fails_fast(pg, pg_dsn):
    fr = PgFrontier(pg_dsn)
    fr.mark_done("a", url="a", source="s", kind="article", status="new")
    pg.restart()
    assert fr.is_fresh("a"), "the statement after a restart runs on a new connection"
    pg.stop()
    with pytest.raises(EngineUnavailable):
        fr.mark_done("b", url="b", source="s", kind="article", status="new")
    pg.start()

    def marked() -> bool:
        try:
            fr.mark_done("b", url="b", source="s", kind="article", status="new")
        except EngineUnavailable:  # asked again only after a short pause
            return False
        return True

    wait_until(marked, 5, "the frontier writing again once the engine is back")
    assert fr.count(done=True) == 2
    fr.close()


def test_old_runs_are_forgotten_but_each_sources_last(pg_dsn):
    with PgFrontier(pg_dsn) as fr:
        check_runs_forgotten(fr)
