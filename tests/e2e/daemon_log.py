"""The daemon's stderr as JSON log events, for the end-to-end tests that run it: read on a thread into
a queue, and waited on with a deadline."""

from __future__ import annotations

import json
import queue
import threading
import time


def read_events(stream, out: queue.Queue) -> None:
    """Every line of ``stream`` as an event dict on ``out``; a line that is not JSON as ``{"event": "raw"}``."""
    for line in stream:
        try:
            out.put(json.loads(line))
        except json.JSONDecodeError:
            out.put({"event": "raw", "line": line})


def wait_for(events: queue.Queue, seen: list, predicate, timeout: float) -> None:
    """Until ``predicate(seen)``, every event read so far appended to ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(seen):
            return
        try:
            seen.append(events.get(timeout=0.5))
        except queue.Empty:
            pass
    raise AssertionError(f"timed out; events so far: {[e.get('event') for e in seen]}")


def wait_event(events: queue.Queue, seen: list, predicate, timeout: float) -> dict:
    """The first event of ``seen`` (then of those read on) for which ``predicate(event)``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in seen:
            if predicate(e):
                return e
        try:
            seen.append(events.get(timeout=0.5))
        except queue.Empty:
            pass
    raise AssertionError(f"timed out; events so far: {[e.get('event') for e in seen]}")


def listening_url(proc, event: str, timeout: float) -> str:
    """The ``url`` of the first ``event`` (``web_listening``, ``health_listening``) the process logs."""
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    wait_for(events, seen, lambda s: any(e.get("event") == event for e in s), timeout)
    return next(e for e in seen if e.get("event") == event)["url"]
