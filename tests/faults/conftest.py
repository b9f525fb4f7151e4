"""Fixtures of the fault suite: a project dir with a config, and daemons that are always reaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.daemon import Daemon
from tests.harness.project import Project, fast_crawl


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)


@pytest.fixture
def daemons():
    """``start(project) -> Daemon``; every daemon started is stopped (or killed) at teardown."""
    started: list[Daemon] = []

    def start(project: Project, **kw) -> Daemon:
        d = Daemon(project, **kw)
        started.append(d)
        return d

    def close_all() -> None:
        for d in started:
            d.close()

    start.close_all = close_all  # type: ignore[attr-defined]
    yield start
    close_all()


def base_config(root: Path, sources: list[dict], *, rules: list[dict] | None = None, smtp=None,
                index: dict | None = None, mail: dict | None = None, crawl: dict | None = None) -> dict:
    """A config for the daemon under test: embedded SQLite index unless ``index`` says otherwise,
    mail to ``smtp`` (a tests.harness.smtp.SmtpServer) or the outbox, health on any free port."""
    data = root / "data"
    cfg_mail = {"from_addr": "mediawatch@127.0.0.1", "outbox": str(data / "outbox"),
                "ledger_path": str(data / "alerts.sqlite3"), "retry_initial_s": 1, "retry_max_s": 2,
                "sweep_interval_s": 1}
    if smtp is not None:
        cfg_mail["smtp"] = {"host": smtp.host, "port": smtp.port, "tls": "none", "timeout_s": 5}
    cfg_mail.update(mail or {})
    return {
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool"),
                  "bulk_interval_s": 0.5, **(index or {})},
        "mail": cfg_mail,
        "crawl": {**fast_crawl(data), **(crawl or {})},
        "http": {"health_port": 0},
        "log": {"format": "json"},
        "sources": sources,
        "rules": rules or [],
    }


def once(**extra) -> dict:
    """A schedule that crawls at daemon start, then not again during a test."""
    return {"schedule": {"every": "1h", "jitter": "0s"}, **extra}
