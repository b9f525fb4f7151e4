"""What the daemon's /healthz answers: the facts read from its stores, jobs, crawl queue and cluster,
judged by :func:`scheduler.health.assess`, and the spool's depth over the last minutes."""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

import structlog

from scheduler.health import Facts, assess

log = structlog.get_logger("mediawatch.daemon")

# The spool is "growing" when it is deeper now than it was this long ago: one slow flush is not
# a trend, a backlog that rose over minutes is.
SPOOL_WINDOW_S = 120.0


class Healthz:
    def __init__(self, daemon: Any) -> None:
        """``daemon``: the scheduler.daemon.Daemon it reports on (read, never changed)."""
        self.daemon = daemon
        self._spool_samples: deque[tuple[float, int]] = deque()  # (monotonic, depth), the last few minutes

    def sample_spool(self, depth: int) -> None:
        now = time.monotonic()
        self._spool_samples.append((now, depth))
        while self._spool_samples and now - self._spool_samples[0][0] > SPOOL_WINDOW_S:
            self._spool_samples.popleft()

    def facts(self) -> Facts:
        d = self.daemon
        enabled = [src.name for src in d.cfg.sources if src.enabled]
        stats = d.app.ingestor.stats()
        samples = self._spool_samples
        grew = (len(samples) >= 2 and samples[-1][1] > samples[0][1]
                and samples[-1][0] - samples[0][0] >= SPOOL_WINDOW_S / 2)
        try:
            failing_deliveries = d.app.alerts.ledger.failing()  # mails and channel messages
        except Exception as err:  # the ledger's own trouble shows as a failing storage elsewhere
            log.warning("health_ledger_unreadable", error=str(err))
            failing_deliveries = 0
        now = datetime.now(timezone.utc)
        late = {}
        for job in d.scheduler.get_jobs():
            behind = (now - job.next_run_time).total_seconds() if job.next_run_time else 0.0
            if behind > d.cfg.http.late_after_s:
                late[job.id] = behind
        for name, due in d.queue.waiting().items():  # runs waiting for a place under the cap
            behind = now.timestamp() - due
            if behind > d.cfg.http.late_after_s:
                late[f"crawl:{name}"] = behind
        return Facts(
            storage_error=d.app.ingestor.health()["reason"],
            failure_streaks={name: d.book.failure_streaks.get(name, 0) for name in enabled},
            failing_after=d.cfg.http.failing_after_runs,
            index_down=bool(stats.get("backend_down")),
            spool_depth=stats.get("spool_depth", 0),
            spool_grew=grew,
            deliveries_failing=failing_deliveries,
            late_jobs=late,
            cluster_error=d.cluster.health() if d.cluster is not None else None,
        )

    def report(self) -> dict:
        d = self.daemon
        if d.app is None:
            facts = (Facts(cluster_error=d.start_engine_error) if d.start_engine_error
                     else Facts(storage_error=d.start_error or "starting"))
        else:
            facts = self.facts()
        status, reasons = assess(facts)
        if d.stopping:
            status = "stopping"
        d.metrics.set_health(status, reasons)
        return {
            "status": status,
            "reasons": [r.text for r in reasons],
            "started_at": d.started_at.isoformat(),
            "running": sorted(d.running),
            "spool_depth": d.app.spool.depth() if d.app is not None else None,
            "last_success": {k: v.isoformat() for k, v in d.book.last_success.items()},
            "failing_runs": {k: v for k, v in d.book.failure_streaks.items() if v},
            **({"cluster": d.cluster.report()} if d.cluster is not None else {}),
        }
