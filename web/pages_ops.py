"""Operations pages: the sources' health (last run, errors, next run, crawl now) and the alert deliveries."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from indexer.alerts.channels import channel_id, display
from indexer.backends.base import BackendError
from web import chart
from web.pages import render, services_of, unavailable

log = structlog.get_logger("mediawatch.web")

SPARK_DAYS = 14
ALERT_ROWS = 200


def _next_run(services, src, run) -> str:
    if not src.enabled:
        return "-"
    if services.next_run is None:
        return f"cron {src.schedule.cron}" if src.schedule.cron else f"every {src.schedule.every}"
    now = datetime.now(timezone.utc)
    nxt = services.next_run(src, run.started_at if run is not None else None, now)
    return services.due_label() if nxt <= now else nxt.strftime("%Y-%m-%d %H:%M")


def _last_error(run) -> str:
    """What went wrong in the source's last run: why it failed, else the last URL that failed and why. A
    run that could read none of its feeds or sitemaps fails with the reason "finished", which says nothing."""
    if run is None:
        return ""
    if run.failed and run.reason not in ("", "finished"):
        return run.reason
    if run.error_samples:
        sample = run.error_samples[-1]
        return f"{sample.get('reason') or sample.get('status', '')} ({sample.get('url', '')})"
    return "failed" if run.failed else ""


def sources_page(request: Request) -> Response:
    services = services_of(request)
    frontier, backend = services.frontier(), services.backend()
    if frontier is None or backend is None:
        return unavailable(request, "the daemon is still opening its stores")
    runs = frontier.last_runs()
    today = datetime.now(timezone.utc).date()
    days = [(today - timedelta(days=i)).isoformat() for i in range(SPARK_DAYS - 1, -1, -1)]
    try:
        per_day = backend.counts_per_day(since=datetime.combine(date.fromisoformat(days[0]), datetime.min.time(),
                                                                timezone.utc))
    except BackendError as err:
        log.warning("web_sources_counts_failed", error=str(err)[:300])
        per_day = {}
    rows: list[dict[str, Any]] = []
    for src in services.sources():
        run = runs.get(src.name)
        series = {d: n for (d, s), n in per_day.items() if s == src.name}
        rows.append({"src": src, "run": run, "spark": chart.sparkline(series, days),
                     "per_day": round(sum(series.values()) / SPARK_DAYS, 1), "last_error": _last_error(run),
                     "next": _next_run(services, src, run)})
    return render(request, "sources.html", {"rows": rows, "can_crawl": services.crawl_now is not None,
                                            "can_add": services.find_source is not None,
                                            "queued": request.query_params.get("queued", ""),
                                            "added": request.query_params.get("added", "")})


def crawl_now(request: Request) -> Response:
    services = services_of(request)
    name = request.path_params["name"]
    if services.crawl_now is None:
        return render(request, "unavailable.html", {"why": "read-only: `mediawatch web` cannot crawl; the "
                                                           "daemon's own app can"}, status=409)
    if not services.crawl_now(name):
        return render(request, "not_found.html", {}, status=404)
    log.info("web_crawl_requested", source=name)
    return RedirectResponse(f"/sources?queued={name}", 303)


def _state(state: str, attempts: int) -> str:
    return "failed" if state == "pending" and attempts > 0 else state


def _channel_names(rules) -> dict[str, str]:
    """The ledger keeps a channel by the hash of its URL (the URL holds secrets): the rules' URLs, masked."""
    if rules is None:
        return {}
    return {channel_id(url): display(url) for rule in rules.rules() for url in rule.notify}


def alerts_page(request: Request) -> Response:
    services = services_of(request)
    ledger = services.ledger()
    if ledger is None:
        return unavailable(request, "the daemon is still opening its stores")
    counts = ledger.counts()
    items = []
    for r in ledger.recent(ALERT_ROWS):
        state = _state(r.state, r.attempts)
        items.append({"row": r, "state": state, "matched": _ts(r.matched_at), "sent": _ts(r.sent_at),
                      "retry": _ts(r.next_attempt_at) if state in ("pending", "failed") else None})
    # the alerts' own states: the other counts are of failing rows, digests and channel messages
    total = sum(n for state, n in counts.items()
                if state not in ("failing", "digests_pending") and not state.startswith("deliveries_"))
    names = _channel_names(services.rules())
    messages = []
    for m in ledger.recent_messages(ALERT_ROWS):
        state = _state(m.state, m.attempts)
        channel = names.get(m.channel, f"a channel no rule names now ({m.channel})")
        messages.append({"row": m, "state": state, "channel": channel, "sent": _ts(m.sent_at),
                         "retry": _ts(m.next_attempt_at) if state in ("pending", "failed") else None})
    return render(request, "alerts.html", {"items": items, "counts": counts, "total": total, "messages": messages})


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, timezone.utc) if value else None


routes = [
    Route("/sources", sources_page),
    Route("/sources/{name}/crawl", crawl_now, methods=["POST"]),
    Route("/alerts", alerts_page),
]
