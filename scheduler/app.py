"""The object graph one config gives: backend, spool, ingestor, alert engine, frontier.

Built in one place so the CLI and the daemon wire the stages identically.
"""

from __future__ import annotations

import gc
import os
import socket
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from crawler.frontier import Frontier
from indexer.alerts.engine import AlertEngine
from indexer.alerts.ledger import Ledger
from indexer.alerts.render import Envelope
from indexer.alerts.worker import DeliveryWorker
from indexer.backends import open_backend
from indexer.backends.base import Backend
from indexer.ingest import Ingestor
from indexer.spool import Spool
from scheduler.config import Config

log = structlog.get_logger("mediawatch.app")
# Allocations between two collections of the young generation. The index writer makes some hundred
# short-lived containers per article (rows, band keys, story candidates): at CPython's 700 the collector
# ran every few articles and promoted whatever the batch in hand still held, for the older generations'
# collections to walk again (docs/PERFORMANCE.md, stop 32).
GC_YOUNG = 50_000


@dataclass
class App:
    config: Config
    backend: Backend
    spool: Spool
    ingestor: Ingestor
    alerts: AlertEngine
    frontier: Frontier
    deliveries: DeliveryWorker  # started by the daemon; one-shot commands deliver in their own thread
    closed: bool = field(default=False)

    def _finish_deliveries(self) -> None:
        if self.deliveries.started:
            self.deliveries.close()  # bounded: what a slow server holds up stays pending for the next start
        else:
            self.alerts.send_due()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # refresh: what was indexed before the stop is searchable right after it, whatever refresh_interval says.
        # The ledger before the engine: a delivery lane left behind (its server slow, or the cluster's
        # engine down) holds the engine's lock until its ledger call fails; closing the ledger makes it fail.
        for step in (self.ingestor.close, self.backend.refresh, self._finish_deliveries, self.alerts.ledger.close,
                     self.alerts.close, self.backend.close, self.spool.close, self.frontier.close):
            try:
                step()
            except Exception as err:  # closing must go on past one failing part
                log.warning("close_step_failed", step=getattr(step, "__qualname__", str(step)), error=str(err))


class StoreError(RuntimeError):
    """A state file or folder that cannot be opened: names it and says why. ``disk_full``: its
    filesystem has no free block left (so the same open may work once there is room)."""

    def __init__(self, message: str, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


def _no_room(path: str) -> bool:
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        return os.statvfs(where).f_bavail == 0
    except OSError:
        return False


def _open(what: str, path: str, make):
    try:
        return make()
    except (OSError, sqlite3.Error) as err:
        reason = str(err)
        if isinstance(err, sqlite3.OperationalError) and os.path.exists(path) and not os.access(path, os.W_OK):
            reason += " (not writable)"
        elif isinstance(err, sqlite3.Error):
            parent = Path(path).parent
            if not parent.is_dir():
                reason += f" ({parent} is not a folder)"
            elif not os.access(parent, os.W_OK):
                reason += f" ({parent} is not writable)"
            else:
                try:
                    if os.statvfs(parent).f_flag & os.ST_RDONLY:
                        reason += " (read-only filesystem)"
                except OSError:
                    pass
        full = _no_room(path)
        if full:
            reason += " (no space left on the device)"
        raise StoreError(f"cannot open the {what} at {path}: {reason}", disk_full=full) from err


def open_frontier(config: Config) -> Frontier:
    """The crawl state: the data folder's SQLite file, or the cluster's PostgreSQL."""
    if config.cluster is not None:
        from crawler.frontier_pg import PgFrontier

        return PgFrontier(config.cluster.postgres.get_secret_value())
    return _open("crawl state", config.crawl.state_path, lambda: Frontier(config.crawl.state_path))


def node_name(config: Config) -> str:
    """This daemon's name in a cluster: ``cluster.node``, else host:pid."""
    return (config.cluster.node if config.cluster is not None and config.cluster.node
            else f"{socket.gethostname()}:{os.getpid()}")


def open_ledger(config: Config) -> Ledger:
    """The alert ledger: the data folder's SQLite file, or the cluster's PostgreSQL (due rows claimed for
    a lease's length, so a killed daemon's claimed mail goes out from another within one lease)."""
    domain = Envelope(config.mail.from_addr, config.mail.from_name).domain
    if config.cluster is not None:
        from indexer.alerts.ledger_pg import PgLedger

        return PgLedger(config.cluster.postgres.get_secret_value(), domain=domain,
                        claim_s=config.cluster.lease_seconds, node=node_name(config))
    return _open("alert ledger", config.mail.ledger_path, lambda: Ledger(config.mail.ledger_path, domain=domain))


def build(config: Config, *, with_alerts: bool = True, lazy_index: bool = False) -> App:
    """``lazy_index``: set the index up (and catch alerts up) before the first write rather than
    now, so the daemon starts, and spools, while the index is refused or hung."""
    _open("data folder", config.data_dir, lambda: Path(config.data_dir).mkdir(mode=0o700, parents=True, exist_ok=True))
    # the stores a cluster's engine holds first: while it does not answer, nothing else is left open
    ledger = open_ledger(config)
    frontier = open_frontier(config)
    backend = (open_backend(config.index) if config.index.url else
               _open("index", config.index.sqlite_path, lambda: open_backend(config.index)))
    spool = _open("spool", config.index.spool_path, lambda: Spool(config.index.spool_path))
    alerts = AlertEngine.from_config(config.mail, config.rules, backend, rules_dir=config.rules_dir, ledger=ledger)
    def prepare() -> None:
        backend.init()
        if with_alerts:
            # Articles indexed just before a crash but never matched still get their alerts; done
            # before the first new batch, whose matching would move the ledger's watermark past them.
            alerts.catch_up()

    ingestor = Ingestor.from_config(backend, spool, config.index,
                                    on_indexed=alerts.on_indexed if with_alerts else None,
                                    prepare=prepare if lazy_index else None)
    app = App(config, backend, spool, ingestor, alerts, frontier, DeliveryWorker(alerts))
    settle_collector()
    return app


def settle_collector() -> None:
    """Once per process, after its first app is built: what exists then (the modules, the config, the
    app's stores) lives as long as the process, so the cyclic garbage collector stops walking it. Every
    full collection of a crawling daemon walked those 100,000-odd objects again, and a crawl's growing
    heap runs one every hundred-odd articles. Garbage is collected first, so that none is kept for good.
    The young generation is then collected every ``GC_YOUNG`` allocations instead of CPython's 700."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
