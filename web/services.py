"""What the web app is handed: the stores and callbacks of whoever serves it (the daemon or `mediawatch web`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence

from indexer.alerts.rules import RuleSet
from indexer.backends.base import Backend


def _no_metrics() -> bytes:
    # `mediawatch web` alone: a scraper pointed here reads why it finds no series (a comment line of
    # the text format), not an empty answer
    return b"# mediawatch web serves pages only: the daemon's /metrics has the crawl, index and alert series\n"


@dataclass
class Services:
    """``backend``/``rules``/``frontier``/``ledger`` may be None while the daemon is still opening its stores
    (a full disk): the pages then answer 503 and only ``/healthz`` and ``/metrics`` work."""

    health: Callable[[], dict]
    metrics: Callable[[], bytes] = _no_metrics
    backend: Callable[[], Backend | None] = lambda: None
    rules: Callable[[], RuleSet | None] = lambda: None
    rules_dir: str | None = None
    notify_networks: Callable[[], Sequence[str]] = tuple  # http.notify_networks: what a typed notify URL may reach
    sources: Callable[[], list[Any]] = list  # crawler.sources.Source models, as configured now
    frontier: Callable[[], Any] = lambda: None  # crawler.frontier.Frontier: run summaries
    ledger: Callable[[], Any] = lambda: None  # indexer.alerts.ledger.Ledger: deliveries
    crawl_now: Callable[[str], bool] | None = None  # None: read-only (`mediawatch web`)
    # (source, its last run's start or None, now) → when the daemon runs it next: the scheduler's own rule
    next_run: Callable[[Any, datetime | None, datetime], datetime] | None = None
    # what a slot that has come is called: "due now" while a daemon runs (it has it queued or under way)
    due_label: Callable[[], str] = lambda: "at daemon start"
    # The Sources page's "add a source": (homepage, name or None) → the probe's proposal (``error`` set when
    # nothing can be added), on the app's event loop; then the proposal → written into the config (ValueError
    # saying why not) and picked up. None: read-only.
    find_source: Callable[[str, str | None], Awaitable[Any]] | None = None
    add_source: Callable[[Any], None] | None = None
    token: str | None = None  # required on every request but /healthz when set
