"""The object graph one config gives: backend, spool, ingestor, alert engine, frontier.

Built in one place so the CLI and the daemon wire the stages identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from crawler.frontier import Frontier
from indexer.alerts.engine import AlertEngine
from indexer.backends import open_backend
from indexer.backends.base import Backend
from indexer.ingest import Ingestor
from indexer.spool import Spool
from scheduler.config import Config

log = structlog.get_logger("mediawatch.app")


@dataclass
class App:
    config: Config
    backend: Backend
    spool: Spool
    ingestor: Ingestor
    alerts: AlertEngine
    frontier: Frontier
    closed: bool = field(default=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # refresh: what was indexed before the stop is searchable right after it, whatever refresh_interval says.
        for step in (self.ingestor.close, self.backend.refresh, self.alerts.send_due, self.alerts.close,
                     self.backend.close, self.spool.close, self.frontier.close):
            try:
                step()
            except Exception as err:  # closing must go on past one failing part
                log.warning("close_step_failed", step=getattr(step, "__qualname__", str(step)), error=str(err))


def build(config: Config, *, with_alerts: bool = True) -> App:
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    backend = open_backend(config.index)
    spool = Spool(config.index.spool_path)
    alerts = AlertEngine.from_config(config.mail, config.rules, backend, rules_dir=config.rules_dir)
    ingestor = Ingestor(
        backend,
        spool,
        batch_size=config.index.bulk_size,
        batch_interval_s=config.index.bulk_interval_s,
        on_indexed=alerts.on_indexed if with_alerts else None,
    )
    frontier = Frontier(config.crawl.state_path)
    return App(config, backend, spool, ingestor, alerts, frontier)
