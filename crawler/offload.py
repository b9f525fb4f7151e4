"""The extraction pool: processes (or one thread) shared by every crawl of the process, and the
:class:`Offloader` that sends calls to it from the loop thread, batched while it is busy.

Extraction (``crawler.extraction.extract``, CPU-bound lxml work) runs in a process pool
(``crawl.extraction_pool = "process"``, the default, ``extraction_workers`` processes) or in one
extra thread (``"thread"``: a single thread, because trafilatura's module-level lxml parser is
not thread-safe), never on the reactor thread. Feed parsing runs there too.

Pool processes run ``crawl.extraction_niceness`` steps below the daemon's own priority. Everything an
article goes through after extraction happens in the main process, one at a time (the reactor, then the
index's single writer and the alerts); the workers are parallel and only ever ahead of it. On a machine
where both compete for the cores, a main process that waits for a CPU holds up every article behind it;
a worker that waits only falls back a little from where it was, ahead of the main process.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import gc
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

__all__ = ["Offloader", "get_executor", "shutdown_executors"]


# -- executors, shared across runs of one process -------------------------------------------------
_EXECUTORS: dict[tuple[str, int, int], Executor] = {}
_EXEC_LOCK = threading.Lock()


def get_executor(kind: str, workers: int, niceness: int = 0) -> Executor:
    """The shared pool for ``kind`` (``"process"`` or ``"thread"``); a process pool's workers run
    ``niceness`` steps below this process."""
    key = (kind, workers, niceness if kind == "process" else 0)  # a thread runs at its process's priority
    with _EXEC_LOCK:
        ex = _EXECUTORS.get(key)
        if ex is None:
            if kind == "process":
                # forkserver: never fork a process that has reactor, loop and pool threads running
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["crawler.decoding", "crawler.extraction", "crawler.discovery.links",
                                            "crawler.discovery.feeds", "indexer.signatures"])
                # a worker's inherited heap (the preloaded modules) is frozen out of its garbage collector's
                # sight, as the main process's startup heap is (scheduler.app): what extraction leaves
                # behind is all the collector then walks
                ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_start,
                                         initargs=(niceness,))
            else:
                # One thread only: trafilatura parses with a module-level lxml parser, and an lxml
                # parser used from two threads at once corrupts memory (seen: "double free").
                ex = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mw-extract")
            _EXECUTORS[key] = ex
        return ex


def _worker_start(niceness: int) -> None:
    gc.freeze()
    if niceness:
        os.nice(niceness)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="mw-parent", daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    """End the worker when the process that owns the pool is gone (``kill -9``, OOM killer). A worker
    waits on its call queue, whose write end it holds itself, and it holds the forkserver's liveness
    pipe too: without this the pool and its forkserver would outlive the daemon for good."""
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)


def _discard_executor(ex: Executor) -> None:
    with _EXEC_LOCK:
        for key in [k for k, held in _EXECUTORS.items() if held is ex]:
            del _EXECUTORS[key]
    ex.shutdown(wait=False, cancel_futures=True)


def shutdown_executors() -> None:
    with _EXEC_LOCK:
        items = list(_EXECUTORS.values())
        _EXECUTORS.clear()
    for ex in items:
        ex.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_executors)


def _call_each(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """In a worker: each call's (True, result), or (False, exception), so one bad page fails alone."""
    out: list[tuple[bool, Any]] = []
    for fn, args in calls:
        try:
            out.append((True, fn(*args)))
        except Exception as err:
            out.append((False, err))
    return out


class Offloader:
    """Runs functions in the configured pool from the loop thread, with a timeout.

    Calls are batched while the pool is busy: at most ``workers + 1`` pool calls are in flight,
    and the calls that arrive meanwhile go out together as the next one (up to ``MAX_BATCH``).
    A busy crawl so pays one pickling round trip and one wake-up per batch instead of per page
    (most of the main process's share of a page's trip through the pool), and an idle one
    waits for nothing. A broken process pool (a worker killed by a pathological page) is
    replaced, not fatal; as before batching, the calls it held fail with ``BrokenProcessPool``."""

    MAX_BATCH = 8

    def __init__(self, kind: str, workers: int, timeout: float, niceness: int = 0) -> None:
        self.kind, self.workers, self.timeout, self.niceness = kind, workers, timeout, niceness
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future]] = []
        self._in_flight = 0
        self.pool_calls = 0  # batches sent so far

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((fn, args, fut))
        self._pump(loop)
        return await asyncio.wait_for(fut, timeout=self.timeout)

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._pending and self._in_flight < self.workers + 1:
            batch = [c for c in self._pending[:self.MAX_BATCH] if not c[2].done()]  # not timed out meanwhile
            del self._pending[:self.MAX_BATCH]
            if not batch:
                continue
            ex = get_executor(self.kind, self.workers, self.niceness)
            self._in_flight += 1
            self.pool_calls += 1
            try:
                done = loop.run_in_executor(ex, _call_each, [(fn, args) for fn, args, _ in batch])
            except Exception as err:  # a pool already broken or shut down
                self._in_flight -= 1
                self._fail(batch, err, ex)
                continue
            done.add_done_callback(functools.partial(self._done, loop, ex, batch))

    def _done(self, loop: asyncio.AbstractEventLoop, ex: Executor, batch: list, done: asyncio.Future) -> None:
        self._in_flight -= 1
        if done.cancelled():  # the loop is shutting down
            for _fn, _args, fut in batch:
                fut.cancel()
        elif done.exception() is not None:
            self._fail(batch, done.exception(), ex)
        else:
            for (_fn, _args, fut), (ok, value) in zip(batch, done.result()):
                if fut.done():
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)
        self._pump(loop)

    def _fail(self, batch: list, err: BaseException, ex: Executor) -> None:
        if isinstance(err, BrokenProcessPool):
            _discard_executor(ex)
        for _fn, _args, fut in batch:
            if not fut.done():
                fut.set_exception(err)
