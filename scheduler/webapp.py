"""The web app's services, as the daemon or `mediawatch web` hands them over (scheduler imports web, not back)."""

from __future__ import annotations

import os

import structlog

from scheduler.crawlqueue import due_label, next_run
from web import Services, create_app
from web.safety import TOKEN_ENV, check_bind

log = structlog.get_logger("mediawatch.web")


def web_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def daemon_app(daemon):
    """The daemon's app: its stores once open (None before: only /healthz and /metrics answer), crawl now,
    and adding a source (probed as `sources add` does, written into the daemon's config, reloaded at once)."""

    def part(name: str):
        return lambda: getattr(daemon.app, name) if daemon.app is not None else None

    def crawl_now(name: str) -> bool:
        if daemon.cluster is not None:  # whichever daemon ticks next crawls it, under its lease
            return daemon.cluster.crawl_soon(name)
        job = daemon.scheduler.get_job(f"crawl:{name}") if getattr(daemon, "scheduler", None) else None
        if job is None:
            return False
        # Into the crawl queue, not by moving the job: the source keeps its phase (and a run already
        # waiting or running stands for this one). The queue belongs to the loop; pages may run elsewhere.
        daemon.loop.call_soon_threadsafe(daemon.queue.submit, name)
        return True

    async def find_source(homepage: str, name: str | None):
        from scheduler.errors import UsageError
        from scheduler.sourcesadd import Proposal
        from scheduler.sourcesadd import find_source as probe_and_sample

        try:
            return await probe_and_sample(daemon.cfg, homepage, name, trust_homepage=False)
        except UsageError as err:
            return Proposal(homepage=homepage, name=name or "", error=str(err))
        except Exception as err:  # a probe that breaks is the page's error, never the daemon's
            log.error("web_source_probe_crashed", homepage=homepage, error=repr(err)[:300], exc_info=True)
            return Proposal(homepage=homepage, name=name or "", error=f"the probe failed: {type(err).__name__}")

    def add_source(proposal) -> None:
        from scheduler.errors import UsageError
        from scheduler.sourcesadd import write_source

        try:
            write_source(daemon.config_path, proposal)
        except UsageError as err:
            raise ValueError(str(err)) from None
        if daemon.app is not None:  # now, not at the watcher's next look at the file's mtime
            daemon.reload("source_added")

    services = Services(
        health=daemon.healthz.report,
        metrics=daemon.metrics.render,
        backend=part("backend"),
        rules=lambda: daemon.app.alerts.rules if daemon.app is not None else None,
        rules_dir=daemon.cfg.rules_dir,
        notify_networks=lambda: daemon.cfg.http.notify_networks,
        sources=lambda: daemon.cfg.sources,
        frontier=part("frontier"),
        ledger=lambda: daemon.app.alerts.ledger if daemon.app is not None else None,
        crawl_now=crawl_now,
        next_run=next_run,
        due_label=lambda: "due now",
        find_source=find_source,
        add_source=add_source,
        token=web_token(),
    )
    return create_app(services)


class Standalone:
    """`mediawatch web`: its own read connections to the stores; takes no data-folder lock."""

    def __init__(self, cfg) -> None:
        from indexer.alerts.rules import RuleSet
        from indexer.backends import open_backend
        from scheduler.app import open_frontier, open_ledger

        self.cfg = cfg
        self.backend = open_backend(cfg.index)
        self.rules = RuleSet(cfg.rules_dir, cfg.rules)
        self.frontier = open_frontier(cfg)
        self.ledger = open_ledger(cfg)

    def app(self):
        def health() -> dict:
            status = self.backend.status()
            ok = status.get("health") in ("green", "yellow")
            return {"status": "ok" if ok else "degraded", "mode": "web only",
                    "reasons": [] if ok else [f"index: {status.get('error') or status.get('health')}"]}

        return create_app(Services(health=health, backend=lambda: self.backend, rules=lambda: self.rules,
                                   rules_dir=self.cfg.rules_dir, sources=lambda: self.cfg.sources,
                                   notify_networks=lambda: self.cfg.http.notify_networks,
                                   frontier=lambda: self.frontier, ledger=lambda: self.ledger,
                                   next_run=next_run, due_label=lambda: due_label(self.cfg.data_dir),
                                   token=web_token()))

    def close(self) -> None:
        for part in (self.backend, self.frontier, self.ledger):
            try:
                part.close()
            except Exception as err:  # closing goes on past one failing part
                log.warning("web_close_failed", part=type(part).__name__, error=str(err))


__all__ = ["Standalone", "check_bind", "daemon_app", "web_token"]
