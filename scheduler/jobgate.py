"""The daemon's own jobs in flight: the stores close only after the last one has returned.

APScheduler runs a plain-function job on a worker thread, and its ``shutdown(wait=False)`` stops
the scheduling but not a job already running. A flush or an alert sweep that was still running
when the daemon closed its stores would write into a closed spool or ledger. Jobs enter the gate;
once it is closed, no job starts, and the daemon waits (bounded) for the ones inside, beside its wait
for the crawls: the two bounds overlap rather than add up.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future
from typing import Callable


class JobGate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._closed = False

    def guard(self, job: Callable[[], None]) -> Callable[[], None]:
        """``job``, run only while the gate is open; a call after ``close`` returns at once."""

        @functools.wraps(job)
        def run() -> None:
            with self._cond:
                if self._closed:
                    return
                self._inside += 1
            try:
                job()
            finally:
                with self._cond:
                    self._inside -= 1
                    self._cond.notify_all()

        return run

    def close(self, timeout: float) -> bool:
        """No job starts from now on; True once none is running, False if one still is at ``timeout``."""
        with self._cond:
            self._closed = True
            return self._cond.wait_for(lambda: self._inside == 0, timeout)

    def closing(self, timeout: float) -> Future[bool]:
        """``close`` on a thread of its own, whose result the caller collects later: a busy shared thread
        pool cannot hold it up, and the daemon awaits it beside the rest of its shutdown."""
        with self._cond:
            self._closed = True  # from the return on, as with close: no job starts
        done: Future[bool] = Future()
        threading.Thread(target=lambda: done.set_result(self.close(timeout)), name="jobgate-close",
                         daemon=True).start()
        return done
