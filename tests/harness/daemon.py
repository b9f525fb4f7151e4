"""``mediawatch run`` as a subprocess we can SIGKILL, for the fault and cluster suites: its stderr
read as JSON log events, its /healthz, and the events that mean the daemon itself broke.

Nothing here imports product code: the daemon is driven as a user would, through its CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from tests.harness.project import Project, cli_env


def group_members(pgid: int) -> list[str]:
    """The command lines of the live (not zombie) processes of process group ``pgid``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
            state, _ppid, pgrp = stat[stat.rindex(")") + 2:].split()[:3]
            if int(pgrp) == pgid and state != "Z":
                found.append(Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, ValueError):  # gone meanwhile
            continue
    return found


class Daemon:
    """``mediawatch run`` in its own process group, its stderr parsed as JSON log events.

    ``kill9()`` is the fault: SIGKILL to the daemon's pid only, nothing flushed; whatever children
    it left (the extraction pool) are then reaped by process group so no orphan outlives the test.
    """

    def __init__(self, project: Project, *, log_level: str = "info", env: dict[str, str] | None = None) -> None:
        self.project = project
        self.orphans: list[str] = []  # what outlived a kill9 (see there)
        args = [sys.executable, "-m", "scheduler.cli", "--config", str(project.config_path)]
        if log_level:
            args += ["--log-level", log_level]
        self.proc = subprocess.Popen(
            [*args, "run"], cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=cli_env(**(env or {})), start_new_session=True,
        )
        self.events: list[dict[str, Any]] = []
        self._q: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise ValueError
            except ValueError:
                event = {"event": "raw", "line": line.rstrip("\n")}
            self._q.put(event)

    def pump(self) -> list[dict[str, Any]]:
        while True:
            try:
                self.events.append(self._q.get_nowait())
            except queue.Empty:
                return self.events

    def wait_for(self, predicate: Callable[[list[dict]], Any], timeout: float, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            got = predicate(self.events)
            if got:
                return got
            if self.proc.poll() is not None:
                self._reader.join(5)  # the rest of its stderr: the reader ends at EOF
                self.pump()
                got = predicate(self.events)
                if got:
                    return got
                raise AssertionError(f"daemon exited ({self.proc.returncode}) waiting for {what}; "
                                     f"last events: {self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; last events: {self.tail()}")
            try:
                self.events.append(self._q.get(timeout=0.2))
            except queue.Empty:
                pass

    def tail(self, n: int = 25) -> list[str]:
        return [f"{e.get('event')}:{e.get('source', '')}:{e.get('status', '')}:{str(e.get('error', ''))[:120]}"
                for e in self.pump()[-n:]]

    def named(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.pump() if e.get("event") == name and all(e.get(k) == v for k, v in match.items())]

    def summaries(self, source: str) -> list[dict[str, Any]]:
        return self.named("crawl_summary", source=source)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def health(self) -> dict[str, Any]:
        """/healthz's report, with the HTTP status under ``"http"``."""
        listening = self.wait_for(lambda ev: [e for e in ev if e.get("event") == "health_listening"], 30,
                                  "health_listening")[0]
        try:
            with urllib.request.urlopen(listening["url"], timeout=5) as resp:
                return {**json.load(resp), "http": resp.status}
        except urllib.error.HTTPError as err:  # 503 for "failing": the report is in the body
            return {**json.load(err), "http": err.code}

    def kill9(self, *, orphans_within: float = 10.0) -> None:
        """SIGKILL the daemon; what of its process group still runs ``orphans_within`` seconds later (its
        extraction pool should follow it on its own) is kept in ``orphans``, then reaped."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + orphans_within
        while (left := group_members(self.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.orphans = left
        self._reap_group()
        self._reader.join(5)
        self.pump()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait; returns the exit code (SIGKILL and raise if it does not stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(f"daemon did not stop within {timeout}s after SIGTERM") from None
        self._reap_group()
        self._reader.join(5)
        self.pump()
        return self.proc.returncode

    def _reap_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: the daemon's leftover children only

    def close(self) -> None:
        """Teardown: whatever state it is in, the daemon and its children are gone afterwards."""
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.stop(15)
        self._reap_group()
        if self.proc.stdout:
            self.proc.stdout.close()


def problems(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events that mean the daemon itself broke (not a source misbehaving)."""
    bad = []
    for e in events:
        text = json.dumps(e)
        if e.get("event") in ("daemon_start_failed", "crawl_failed", "crawl_crashed", "ingest.worker_error",
                              "flush_failed", "send_alerts_failed") or "Traceback" in text:
            bad.append(e)
    return bad
