"""The pool offloader on a real process pool: the loop stays free while the pool works, calls are
batched while it is busy, one bad call fails alone, a crashed worker fails only what the pool held
and the next calls get a new pool."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import time

import pytest
from concurrent.futures.process import BrokenProcessPool

from crawler.offload import Offloader
from crawler.pipelines import extract_page
from indexer.query import TEXT_QUERY_FIELDS, article_folded, folded_text
from indexer.signatures import band_keys, decode, signature


def square(x: int) -> int:
    return x * x


def wait_for_event(event) -> bool:
    return event.wait(30)


def fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("bad page")
    return x


def gc_frozen(_x: None) -> int:
    return gc.get_freeze_count()


def dies(_x: int) -> None:
    os._exit(3)  # what a segfault in a parser does to the worker


def _gather(off: Offloader, fn, xs):
    async def go():
        return await asyncio.gather(*(off.run(fn, x) for x in xs), return_exceptions=True)
    return asyncio.run(go())


def test_the_loop_runs_on_while_a_call_waits_in_the_pool():
    """A call blocked in a worker until the loop itself releases it: were calls run on the loop's
    thread, the release could never happen and the call would time out instead."""
    off = Offloader("process", 2, timeout=60)
    with multiprocessing.Manager() as manager:
        release = manager.Event()

        async def go():
            call = asyncio.ensure_future(off.run(wait_for_event, release))
            await asyncio.sleep(0)  # the call is handed to the pool
            assert not call.done()
            release.set()
            return await call

        assert asyncio.run(go()) is True


def test_busy_pool_gets_batches_and_every_call_its_own_answer():
    off = Offloader("process", 2, timeout=60)
    results = _gather(off, square, range(40))
    assert results == [x * x for x in range(40)]
    # the first workers + 1 calls go out alone, the rest in batches of up to MAX_BATCH
    assert off.pool_calls <= 3 + -(-37 // Offloader.MAX_BATCH) + 2 and off.pool_calls < 40


def test_an_exception_fails_only_its_own_call():
    off = Offloader("process", 2, timeout=60)
    results = _gather(off, fails_on_three, range(12))
    assert isinstance(results[3], ValueError) and str(results[3]) == "bad page"
    assert [r for i, r in enumerate(results) if i != 3] == [x for x in range(12) if x != 3]


def test_a_dead_worker_breaks_the_pool_once_then_calls_work_again():
    off = Offloader("process", 2, timeout=60)
    results = _gather(off, dies, [0])
    assert isinstance(results[0], BrokenProcessPool)
    assert _gather(off, fails_on_three, [5, 6]) == [5, 6]


def test_a_call_that_takes_too_long_times_out():
    off = Offloader("process", 1, timeout=0.5)

    async def go():
        with pytest.raises(asyncio.TimeoutError):
            await off.run(time.sleep, 3)
    asyncio.run(go())


def page(title: str) -> bytes:
    paragraphs = "".join(f"<p>Lukashenko held a meeting with the prisoners' families, day {i} of the talks.</p>"
                         for i in range(30))
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article>"
            "</body></html>").encode()


def extract_in_pool(title: str):
    return extract_page(page(title), b"text/html; charset=utf-8", "https://a.example/1", None, None, "a", False)


def test_articles_come_back_from_the_pool_signed_for_stories():
    """The worker computes the MinHash and folds the texts, so the writer's thread need not; the same ones it
    would compute."""
    off = Offloader("process", 2, timeout=60)
    [(outcome, article, _links, _how)] = _gather(off, extract_in_pool, ["Talks in a Minsk prison"])
    assert outcome == "article" and article.story_sig
    assert decode(article.story_sig).tolist() == signature(article.title, article.text).tolist()
    assert article.story_keys == band_keys(signature(article.title, article.text))
    # and folded for the index, which the writer then takes as it is
    assert article_folded(article) is article.folded.texts
    assert article.folded.texts == tuple(folded_text(getattr(article, f)) for f in TEXT_QUERY_FIELDS)


def test_a_worker_starts_with_its_inherited_heap_frozen():
    """The preloaded modules are out of the worker's garbage collector's sight from its first call on."""
    off = Offloader("process", 2, timeout=60)
    [frozen] = _gather(off, gc_frozen, [None])
    assert frozen > 10_000  # the extraction modules' objects, preloaded in the forkserver
