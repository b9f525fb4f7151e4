"""`mediawatch run`: APScheduler and Scrapy on one asyncio event loop, for months on end.

Scrapy runs on Twisted's asyncio reactor, so APScheduler's AsyncIOScheduler, the crawls,
the health server and the signal handlers all share the one loop: no process per crawl.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import structlog

from scheduler import config as config_mod
from scheduler.crawlqueue import CrawlQueue, trigger_for
from scheduler.errors import EXIT_USAGE
from scheduler.health import Metrics
from scheduler.healthz import Healthz
from scheduler.housekeeping import housekeeping
from scheduler.jobgate import JobGate
from scheduler.lock import DataDirBusy, DataDirLock, DataDirUnusable
from scheduler.sourcebook import SourceBook

log = structlog.get_logger("mediawatch.daemon")

SHUTDOWN_TIMEOUT_S = 8.0
PERIODIC, PERIODIC_THREADS = "periodic", 4  # flush, alert sweep, config watch, housekeeping: one thread each
STORAGE_RETRY_MAX_S = 30.0


class Daemon:
    def __init__(self, cfg: config_mod.Config, config_path: Path) -> None:
        self.cfg = cfg
        self.config_path = Path(config_path)
        self._config_mtime = self._mtime()
        self.exit_code = 0
        self.queue = CrawlQueue(cfg.crawl.max_concurrent_crawls, self.crawl)
        self.crawlers = None  # crawler.shared.CrawlerHub: the long-lived Scrapy crawlers every crawl goes through
        self.running: dict[str, asyncio.Task] = {}  # crawls under way: the queue's and the cluster's
        self._by_name = {src.name: src for src in cfg.sources}  # cfg.source() reads the list: 10,000 long
        self.started_at = datetime.now(timezone.utc)
        self._stopping = False
        self.jobs = JobGate()  # the periodic jobs below, which use the stores
        self.metrics = Metrics()
        self.book = SourceBook(self.metrics, cfg.crawl, self.started_at, self._notify)
        self.healthz = Healthz(self)
        self.app = None
        self.health = None
        self.start_error: str | None = None  # why the stores could not be opened yet (a full disk)
        self.start_engine_error: str | None = None  # ... or the cluster's engine did not answer
        self.cluster = None  # scheduler.cluster.ClusterMember with a `cluster:` section: leases, not jobs

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- lifecycle -------------------------------------------------------------------------
    def run(self) -> int:
        """Hold the data folder's lock for the daemon's whole life: one writer per folder."""
        from scheduler.webapp import check_bind, web_token
        from web.safety import BindRefused

        if self.cfg.http.port is not None:
            try:
                check_bind(self.cfg.http.host, web_token())
            except BindRefused as err:
                log.error("daemon_refused", error=str(err))
                sys.stderr.write(f"mediawatch: {err}\n")
                return EXIT_USAGE
        lock = DataDirLock(self.cfg.data_dir)
        try:
            lock.acquire("run")
        except DataDirBusy as err:
            log.error("daemon_refused", error=str(err), holder_pid=err.pid)
            sys.stderr.write(f"mediawatch: {err}\n")
            return EXIT_USAGE
        except DataDirUnusable as err:
            log.error("daemon_start_failed", error=str(err))
            return 1
        try:
            return self._run()
        finally:
            lock.release()

    def _run(self) -> int:
        from crawler.runner import install_asyncio_reactor

        self.reactor, self.loop = install_asyncio_reactor()
        self.reactor.callWhenRunning(lambda: self.loop.create_task(self._start()))
        self.reactor.run(installSignalHandlers=False)
        log.info("daemon_stopped", exit_code=self.exit_code)
        return self.exit_code

    async def _start(self) -> None:
        try:
            await self._start_services()
        except Exception as err:  # never leave a half-started daemon hanging
            log.error("daemon_start_failed", error=str(err), exc_info=True)
            self.exit_code = 1
            if self.reactor.running:
                self.reactor.stop()

    async def _start_services(self) -> None:
        from apscheduler.events import EVENT_JOB_SUBMITTED
        from apscheduler.executors.asyncio import AsyncIOExecutor
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        from scheduler.webapp import daemon_app
        from web.server import PortUnavailable, WebServer

        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, lambda s=sig: self.loop.create_task(self.stop(s.name)))
        self.loop.add_signal_handler(signal.SIGHUP, lambda: self.reload("SIGHUP"))
        if self.cfg.http.port is not None:
            # Up before the stores open: /healthz says "failing" while a full disk holds the start.
            web = WebServer(daemon_app(self), self.cfg.http.host, self.cfg.http.port)
            try:
                await web.start()
                self.health = web
            except PortUnavailable as err:
                # A daemon running on without its web app and /healthz would look dead to a probe, and the
                # port named in the config is taken by something else: said, and not started.
                log.error("http_port_unavailable", host=self.cfg.http.host, port=self.cfg.http.port,
                          config=str(self.config_path), error=err.strerror)
                sys.stderr.write(f"mediawatch: {err.strerror}: set http.port in {self.config_path} to a free "
                                 "port (0: any, null: no web app), or stop what holds it\n")
                self.exit_code = EXIT_USAGE
                self.reactor.stop()
                return
        self.app = await self._build_app()
        if self.app is None:
            return  # stopped while waiting for room
        for warning in config_mod.unknown_rule_sources(self.cfg, self.app.alerts.rules.rules()):
            log.warning("rule_unknown_source", detail=warning)
        # Deliveries on their own threads from here on: indexing never waits for SMTP or a webhook.
        self.app.deliveries.on_report = lambda report: self.metrics.alerts_sent.inc(report.mails)
        self.app.deliveries.start()
        # The jobs are rebuilt from the config at every start (each source crawls at start,
        # then on its schedule), so APScheduler's default in-memory job store loses nothing.
        self.scheduler = AsyncIOScheduler(
            event_loop=self.loop,
            # The periodic jobs run on a pool of their own: the asyncio executor would cancel the future
            # of one still running at shutdown (an error logged for a clean stop) while its thread goes on;
            # the pool lets it finish, and the job gate bounds the wait for it.
            executors={"default": AsyncIOExecutor(), PERIODIC: ThreadPoolExecutor(PERIODIC_THREADS)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone=timezone.utc,
        )
        self.scheduler.add_listener(self._job_submitted, EVENT_JOB_SUBMITTED)
        # In a thread: a hung node must not hold the loop; until it answers, crawls go to the spool.
        self.loop.run_in_executor(None, self.app.ingestor.prepare)
        self._sync_jobs(first=True)
        self.scheduler.start()
        if self.cfg.cluster is not None:
            from scheduler.cluster import ClusterMember

            self.cluster = ClusterMember(self, self.cfg.cluster)
            self._cluster_task = self.loop.create_task(self.cluster.run())
        log.info("daemon_started", sources=[s.name for s in self.cfg.sources if s.enabled],
                 rules=len(self.cfg.rules), backend=self.cfg.index.backend, pid=os.getpid())

    async def _build_app(self):
        """The stores, opened; on a full disk, wait (saying ``failing``) until there is room."""
        from scheduler.app import StoreError, build

        delay = 1.0
        while not self._stopping:
            try:
                app = build(self.cfg, lazy_index=True)
            except Exception as err:
                if self.cfg.cluster is not None and _engine_down(err):
                    # the shared state is not there yet: wait for it as for room on a full disk
                    self.start_engine_error = f"cluster engine unreachable at start: {err}"
                    log.error("cluster_engine_unreachable_at_start", error=str(err)[:300], retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, STORAGE_RETRY_MAX_S)
                    continue
                if not isinstance(err, StoreError) or not err.disk_full:
                    raise
                self.start_error = str(err)
                log.error("storage_full_at_start", error=str(err), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORAGE_RETRY_MAX_S)
                continue
            self.start_error = self.start_engine_error = None
            return app
        return None

    async def stop(self, reason: str) -> None:
        """Stop scheduling, let running crawls finish (bounded), flush everything, exit 0."""
        if self._stopping:
            return
        self._stopping = True
        log.info("daemon_stopping", reason=reason, running=list(self.running))
        if self.app is None:  # still waiting for room to open the stores
            await self._stop_health()
            self.reactor.stop()
            return
        # Paused, not shut down, until the stores are closed: a shutdown cancels the asyncio future of any
        # job submitted a moment before (an error logged for a clean stop); a pause only starts no more.
        self.scheduler.pause()
        jobs_done = asyncio.wrap_future(self.jobs.closing(SHUTDOWN_TIMEOUT_S))  # no periodic job starts now
        self.queue.close()
        if self.running:
            _done, pending = await asyncio.wait(list(self.running.values()), timeout=SHUTDOWN_TIMEOUT_S)
            for task in pending:
                # The frontier marks a URL done only after it was indexed or spooled, so a
                # cancelled crawl simply refetches the rest next time.
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        if self.cluster is not None:
            await self.cluster.leave()
        if self.crawlers is not None:
            await self.crawlers.close()
        await self._stop_health()
        if not await jobs_done:
            log.warning("jobs_still_running_at_close", timeout_s=SHUTDOWN_TIMEOUT_S)
        self.app.close()
        self.scheduler.shutdown(wait=False)
        self.reactor.stop()

    async def _stop_health(self) -> None:
        if self.health is not None:
            await self.health.stop()

    # -- jobs ------------------------------------------------------------------------------
    def _sync_jobs(self, first: bool = False) -> None:
        wanted = set()
        now = datetime.now(timezone.utc)
        self._by_name = {src.name: src for src in self.cfg.sources}
        # in a cluster the lease loop (scheduler.cluster) decides when, and which daemon, crawls a source
        for src in self.cfg.sources if self.cfg.cluster is None else ():
            if not src.enabled:
                continue
            job_id = f"crawl:{src.name}"
            wanted.add(job_id)
            # Interval runs are anchored at a phase of the source's own, not at the daemon's start, so
            # the runs of many sources interleave across the interval and a restart keeps them apart.
            trigger = trigger_for(src)
            if first or self.scheduler.get_job(job_id) is None:
                self.scheduler.add_job(self.crawl_due, trigger, args=[src.name], id=job_id, name=job_id,
                                       replace_existing=True)
                # Every source crawls when the daemon starts (or when it is added), then on its slots:
                # through the queue, so ten thousand of them are a backlog drained in turn, not a herd.
                self.queue.submit(src.name, now.timestamp(), startup=True)
            else:
                self.scheduler.reschedule_job(job_id, trigger=trigger)
        for job in self.scheduler.get_jobs():
            if job.id.startswith("crawl:") and job.id not in wanted:
                job.remove()
                self.queue.discard(job.id[6:])
                log.info("source_unscheduled", source=job.id.split(":", 1)[1])
        every = max(1.0, self.cfg.index.bulk_interval_s)
        periodic = (  # each through the gate: the stores close only after a running one returns
            (self.flush_index, "flush-index", {"seconds": every}),
            (self.send_alerts, "send-alerts", {"seconds": self.cfg.mail.sweep_interval_s}),
            (self.reload_if_changed, "watch-config", {"seconds": 5}),
            (self.housekeeping, "housekeeping",
             {"hours": 24, "next_run_time": now + timedelta(seconds=self.cfg.index.housekeeping_delay_s)}),
        )
        for job, job_id, when in periodic:
            self.scheduler.add_job(self.jobs.guard(job), "interval", id=job_id, replace_existing=True,
                                   executor=PERIODIC, **when)

    def _job_submitted(self, event) -> None:
        # The submission event carries the run time APScheduler scheduled (jitter included), which the
        # job's own call does not: the queue takes the run here, and lateness counts from that time.
        if not (event.job_id.startswith("crawl:") and event.scheduled_run_times):
            return
        name, due = event.job_id[6:], event.scheduled_run_times[-1].timestamp()
        src, last = self._by_name.get(name), self.book.last_start.get(name)
        # A slot soon after a run that began late (its start-up run, or one that waited for a place)
        # would fetch the same site again within moments: that run stands for it.
        recent = (src is not None and src.schedule.interval and last is not None
                  and due - last < src.schedule.interval.total_seconds() / 2)
        if recent or not self.queue.submit(name, due):
            log.info("crawl_merged", source=name, scheduled_at=event.scheduled_run_times[-1].isoformat(),
                     into="the run that began recently" if recent else "the run waiting or running")

    async def crawl_due(self, name: str) -> None:
        """A source's APScheduler job: nothing to do here, ``_job_submitted`` has queued its run."""

    async def crawl(self, name: str, due: float | None = None,
                    before_record: Callable[[Any], Awaitable[None]] | None = None) -> bool:
        """One crawl of the source now (started by the queue, or by the cluster's lease loop); ``due`` is
        when it was scheduled; ``before_record``, awaited with the run's summary before the frontier
        records it (the cluster's lease given back). False when it did not run to its end (stopping,
        cancelled)."""
        from crawler.runner import crawl_sources

        src = self._by_name.get(name)
        if self._stopping or src is None:
            return False
        self.running[name] = asyncio.current_task()
        started = time.monotonic()
        self.book.began(name)
        late = max(0.0, time.time() - due) if due is not None else 0.0
        self.metrics.crawl_lateness.observe(late)
        # Every line of this crawl (the runner's crawl_started and crawl_summary too) says how late it began.
        structlog.contextvars.bind_contextvars(
            job=f"crawl:{name}", late_s=round(late, 3),
            scheduled_at=datetime.fromtimestamp(due, timezone.utc).isoformat() if due is not None else None)
        bound = log.bind(source=name)
        try:
            if self.crawlers is None:
                from crawler.shared import CrawlerHub

                self.crawlers = CrawlerHub()
            summaries = await crawl_sources([src], self.cfg.crawl, self.app.ingestor, frontier=self.app.frontier,
                                            hub=self.crawlers, before_record=before_record)
            self.book.record(name, summaries.get(name), time.monotonic() - started, self._by_name.get(name))
        except asyncio.CancelledError:
            bound.warning("crawl_cancelled")
            return False
        except Exception as err:  # one source failing never stops the others
            self.book.failed(name)
            bound.error("crawl_failed", error=str(err), exc_info=True)
        finally:
            self.running.pop(name, None)
        return True

    def _notify(self, source: str, subject: str, text: str) -> None:
        def send() -> None:
            try:
                self.app.alerts.send_notice(subject, text)
            except Exception as err:  # a notice must never break the crawl bookkeeping
                log.error("quiet_notice_failed", source=source, error=str(err))

        # off the event loop: a slow or dead mail server must not stall the crawls
        self.loop.run_in_executor(None, send)

    def flush_index(self) -> None:
        try:
            self.app.ingestor.maybe_flush()
        except Exception as err:
            log.error("flush_failed", job="flush-index", error=str(err))
        depth = self.app.spool.depth()
        self.metrics.spool_depth.set(depth)
        self.healthz.sample_spool(depth)

    def send_alerts(self) -> None:
        # the delivery lanes send; this tick makes them look for digests whose period just ended
        self.app.deliveries.wake()

    def housekeeping(self) -> None:
        housekeeping(self.app)

    # -- reload ----------------------------------------------------------------------------
    def _mtime(self) -> float:
        try:
            return self.config_path.stat().st_mtime
        except OSError:
            return 0.0

    def reload_if_changed(self) -> None:
        mtime = self._mtime()
        if mtime and mtime != self._config_mtime:
            self.reload("file_changed")

    def reload(self, reason: str) -> None:
        self._config_mtime = self._mtime()
        try:
            cfg = config_mod.load(self.config_path)
        except config_mod.ConfigError as err:
            log.error("reload_rejected", reason=reason, config=err.path, errors=str(err).splitlines())
            return
        # The file watch runs on a worker thread; the jobs and the crawl queue belong to the loop.
        self.loop.call_soon_threadsafe(self._apply_reload, cfg, reason)

    def _apply_reload(self, cfg: config_mod.Config, reason: str) -> None:
        self.cfg.sources, self.cfg.rules = cfg.sources, cfg.rules
        self.app.alerts.update_rules(cfg.rules)
        self._sync_jobs()
        log.info("config_reloaded", reason=reason, sources=[s.name for s in cfg.sources], rules=len(cfg.rules))
        changed = [name for name in type(cfg).model_fields
                   if name not in RELOADED and getattr(cfg, name) != getattr(self.cfg, name)]
        if changed:  # the file says one thing, the daemon does another: say so at every reload until a restart
            log.warning("config_needs_restart", sections=changed,
                        why="a running daemon takes changes to sources and rules only")


RELOADED = ("sources", "rules")  # what a reload applies to the running daemon


def _engine_down(err: BaseException) -> bool:
    from indexer.pgconn import EngineUnavailable

    return isinstance(err, EngineUnavailable)
