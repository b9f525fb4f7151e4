"""The app's object graph as ``scheduler.app.build`` makes it for the daemon and the CLI."""

from __future__ import annotations

import gc

from scheduler.app import GC_YOUNG, build
from scheduler.config import Config


def test_building_the_app_freezes_the_startup_heap_out_of_the_collectors_sight(tmp_path):
    """What exists once the app is built lives as long as the process: full collections skip it; the young
    generation is collected every GC_YOUNG allocations."""
    config = Config.model_validate({
        "data_dir": str(tmp_path),
        "index": {"spool_path": str(tmp_path / "spool"), "sqlite_path": str(tmp_path / "index.sqlite3")},
        "mail": {"outbox": str(tmp_path / "outbox"), "ledger_path": str(tmp_path / "alerts.sqlite3")},
        "crawl": {"state_path": str(tmp_path / "crawl.sqlite3")},
        "http": {"health_port": None},
    })
    app = build(config)
    try:
        assert gc.get_freeze_count() > 10_000  # the modules and the app: more than any one article makes
        assert gc.get_threshold()[0] == GC_YOUNG
    finally:
        app.close()
