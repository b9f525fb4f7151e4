"""Waiting in tests: on a condition, with a deadline, never for a fixed time."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(predicate: Callable[[], Any], timeout: float, what: str | Callable[[], str] = "", *,
               poll_s: float = 0.05) -> Any:
    """Return ``predicate()``'s first truthy value; AssertionError naming ``what`` after ``timeout`` seconds
    (``what`` may be a function, to describe the state at the timeout).

    For conditions only observable by looking (a file, a row, a counter in another process);
    where the code under test sets an event, wait on the event instead."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {said or predicate!r}")
        time.sleep(min(poll_s, remaining))
