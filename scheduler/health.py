"""What /healthz and /metrics say (the web app serves them): Prometheus metrics and the health verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = structlog.get_logger("mediawatch.health")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.urls = Counter("mediawatch_urls", "URLs handled by crawls, by final status", ["source", "status"], registry=r)
        self.articles = Counter("mediawatch_articles_found", "New or changed articles found", ["source"], registry=r)
        self.crawl_failures = Counter("mediawatch_crawl_failures", "Crawls that failed outright", ["source"], registry=r)
        self.crawl_seconds = Histogram("mediawatch_crawl_duration_seconds", "Crawl duration", ["source"], registry=r,
                                       buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800))
        self.crawl_lateness = Histogram("mediawatch_crawl_lateness_seconds",
                                        "From a crawl's scheduled time to its start (waiting for a place included)",
                                        registry=r, buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600))
        self.last_success = Gauge("mediawatch_last_success_timestamp", "Last successful crawl (unix time)", ["source"], registry=r)
        self.indexed = Gauge("mediawatch_indexed_total", "Articles indexed since start", registry=r)
        self.spool_depth = Gauge("mediawatch_spool_depth", "Documents waiting in the spool", registry=r)
        self.alerts_sent = Gauge("mediawatch_alerts_sent_total", "Alert emails accepted since start", registry=r)
        self.quiet = Gauge("mediawatch_source_quiet", "1 when a source found nothing for several intervals", ["source"], registry=r)
        self.status = Gauge("mediawatch_health_status", "0 ok, 1 degraded, 2 failing (as /healthz)", registry=r)
        self.reason = Gauge("mediawatch_health_reason", "1 while this reason holds (see /healthz)", ["reason"], registry=r)

    def set_health(self, status: str, reasons: list["Reason"]) -> None:
        self.status.set(LEVELS.index(status) if status in LEVELS else LEVELS.index("failing"))
        active = {r.kind for r in reasons}
        for kind in REASON_KINDS:
            self.reason.labels(kind).set(1 if kind in active else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


LEVELS = ("ok", "degraded", "failing")
REASON_KINDS = ("storage_failing", "sources_failing", "index_unreachable", "spool_growing",
                "deliveries_failing", "scheduler_late", "cluster_unreachable")


@dataclass(frozen=True)
class Reason:
    kind: str  # one of REASON_KINDS: the metric label
    level: str  # "degraded" or "failing"
    text: str


@dataclass
class Facts:
    """What the daemon knows about itself at one moment; ``assess`` turns it into a verdict."""

    storage_error: str | None = None
    failure_streaks: dict[str, int] = field(default_factory=dict)  # enabled source -> failed runs in a row
    failing_after: int = 3
    index_down: bool = False
    spool_depth: int = 0
    spool_grew: bool = False
    deliveries_failing: int = 0
    late_jobs: dict[str, float] = field(default_factory=dict)  # job id -> seconds past its run time
    cluster_error: str | None = None  # the cluster's PostgreSQL not answering (cluster mode)


def assess(facts: Facts) -> tuple[str, list[Reason]]:
    """``ok``, ``degraded`` (working, with something to look at) or ``failing`` (not doing its job)."""
    reasons: list[Reason] = []
    if facts.storage_error:
        reasons.append(Reason("storage_failing", "failing", f"storage: {facts.storage_error}"))
    failing = sorted(name for name, runs in facts.failure_streaks.items() if runs >= facts.failing_after)
    if failing:
        # Every source failing is a daemon that collects nothing: the network, DNS or a proxy.
        level = "failing" if len(failing) == len(facts.failure_streaks) else "degraded"
        reasons.append(Reason("sources_failing", level,
                              f"sources failing {facts.failing_after}+ runs in a row: {', '.join(failing)}"))
    if facts.index_down:
        reasons.append(Reason("index_unreachable", "degraded",
                              f"index unreachable: spooling ({facts.spool_depth} waiting)"))
    if facts.spool_grew:
        reasons.append(Reason("spool_growing", "degraded", f"spool growing: {facts.spool_depth} articles waiting"))
    if facts.deliveries_failing:
        reasons.append(Reason("deliveries_failing", "degraded",
                              f"deliveries failing: {facts.deliveries_failing} waiting for a retry"))
    if facts.late_jobs:
        worst = max(facts.late_jobs, key=facts.late_jobs.get)
        reasons.append(Reason("scheduler_late", "degraded",
                              f"scheduler late: {len(facts.late_jobs)} job(s), {worst} by {facts.late_jobs[worst]:.0f}s"))
    if facts.cluster_error:
        # crawls in hand go on, and the ledger's writes wait for the engine: nothing lost, nothing new taken
        reasons.append(Reason("cluster_unreachable", "degraded", facts.cluster_error))
    status = max((r.level for r in reasons), key=LEVELS.index, default="ok")
    return status, reasons
