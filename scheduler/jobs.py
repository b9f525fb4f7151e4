"""Scheduled job entry points, by dotted name so the persistent job store can hold them.

APScheduler's SQLAlchemy store keeps a reference to a module-level callable, not the
daemon object; each job looks up the running daemon here.
"""

from __future__ import annotations

from typing import Any

_daemon: Any = None


def bind(daemon: Any) -> None:
    global _daemon
    _daemon = daemon


async def crawl_source(name: str) -> None:
    if _daemon is not None:
        await _daemon.crawl(name)


def flush_index() -> None:
    if _daemon is not None:
        _daemon.flush_index()


def send_alerts() -> None:
    if _daemon is not None:
        _daemon.send_alerts()


def apply_retention() -> None:
    if _daemon is not None:
        _daemon.apply_retention()


def watch_config() -> None:
    if _daemon is not None:
        _daemon.reload_if_changed()
