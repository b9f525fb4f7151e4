"""The daemon's daily housekeeping: what keeps the stores from growing for months on end."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:  # the daemon opens the stores (scheduler.app) only once it runs
    from scheduler.app import App

log = structlog.get_logger("mediawatch.daemon")


def housekeeping(app: App) -> None:
    """Retention where it is configured (and the alert ledger's copies of the deleted pages' text), then
    the index's own maintenance (a rollover where the cluster has no ILM to do it; SQLite's full-text
    segments merged again after the deletes), then the crawl runs past ``crawl.runs_keep_days`` (each
    source's last one stays: the Sources page and ``sources list`` show it)."""
    days = app.config.index.retention_days
    if days:
        deleted = app.backend.delete_older_than(days)
        log.info("retention_applied", job="housekeeping", days=days, deleted=deleted)
        cut = datetime.now(timezone.utc) - timedelta(days=days)
        texts = app.alerts.ledger.forget_texts(cut.timestamp())
        log.info("alert_texts_forgotten", job="housekeeping", days=days, alerts=texts)
    done = app.backend.maintenance()
    log.info("maintenance_done", job="housekeeping", **done)
    keep = app.config.crawl.runs_keep_days
    runs = app.frontier.forget_runs(datetime.now(timezone.utc) - timedelta(days=keep))
    log.info("runs_forgotten", job="housekeeping", days=keep, deleted=runs)
