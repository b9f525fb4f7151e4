"""A mediawatch project for tests that run the real CLI as a subprocess: a config file in a temp dir,
the environment the CLI runs in (this checkout on its path, no MEDIAWATCH_ settings of the caller),
crawl settings without delays, a config to import the shipped WARC with, and the check that a file the
CLI rewrote kept every line of the original."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WARC = REPO / "tests" / "fixtures" / "articles.warc.gz"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAWATCH_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


class Project:
    """A config file in a temp dir and a way to run `mediawatch` against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "mediawatch.yaml"

    def write(self, config: dict) -> Path:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.config_path

    def run(self, *args: str, timeout: float = 180, input_text: str | None = None,
            **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "scheduler.cli", "--config", str(self.config_path), *args],
            cwd=self.root, capture_output=True, text=True, timeout=timeout, env=cli_env(**env), input=input_text,
        )

    def extract(self, html: str, url: str, name: str = "page.html") -> dict:
        """``mediawatch extract --json`` on ``html`` saved as a file of this project: its JSON answer."""
        path = self.root / name
        path.write_text(html, encoding="utf-8")
        result = self.run("extract", str(path), "--url", url, "--json")
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    def popen(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "--config", str(self.config_path), *args],
            cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(**env),
        )


def fast_crawl(state_dir: Path) -> dict:
    return {
        "state_path": str(state_dir / "crawl.sqlite3"),
        "download_delay": 0,
        "autothrottle": False,
        "download_timeout": 10,
        "concurrent_requests_per_host": 8,
    }


def crawl_config(project: Project, *sources: dict) -> dict:
    """The SQLite index (batches every half second), no rules, and ``sources``: for `mediawatch crawl`."""
    data = project.root / "data"
    return {
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool"),
                  "bulk_interval_s": 0.5},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3")},
        "crawl": fast_crawl(data),
        "http": {"health_port": None},
        "sources": list(sources),
    }


def import_config(project: Project) -> dict:
    """The SQLite index, mails to the outbox and one instant rule ("pier"): for `mediawatch import`."""
    data = project.root / "data"
    return {
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool")},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3"),
                 "outbox": str(project.root / "outbox")},
        "crawl": fast_crawl(data),
        "http": {"health_port": None},
        "rules": [{"name": "pier", "query": "pier", "recipients": ["a@example.org"], "mode": "instant"}],
    }


def assert_kept(original: str, new: str) -> None:
    """Every line of the original, comments included, is still there and in the same order."""
    at = 0
    for line in original.splitlines():
        found = new.find(line + "\n", at)
        assert found >= 0, f"lost or moved: {line!r}\n---\n{new}"
        at = found + len(line)
