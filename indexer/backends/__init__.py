"""Index backends behind one interface: Elasticsearch when ``index.url`` is set, else embedded SQLite."""

from __future__ import annotations

from indexer.backends.base import (
    Backend, BackendError, BackendUnavailable, Hit, IndexResult,
)
from indexer.config import IndexConfig

__all__ = ["Backend", "BackendError", "BackendUnavailable", "Hit", "IndexResult", "open_backend"]


def open_backend(cfg: IndexConfig) -> Backend:
    """The configured backend (not yet initialised: call ``init()`` once, e.g. `mediawatch index init`;
    the SQLite backend also initialises itself on first use)."""
    if cfg.url:
        from indexer.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(cfg)
    from datetime import timedelta

    from indexer.backends.sqlite import SqliteBackend

    return SqliteBackend(cfg.sqlite_path, story_window=timedelta(days=cfg.story_window_days))
