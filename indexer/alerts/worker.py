"""Deliveries on their own threads, one lane per channel, so nothing upstream waits for them.

    worker = DeliveryWorker(engine)   # engine.on_indexed now records and wakes the worker
    worker.start()
    worker.wake()                     # something new may be due (the daemon's 30 s tick: digests)
    worker.close(timeout=5)           # one last pass per lane, bounded; what is left stays pending

The mail lane sends instant mails, their retries and digests (and opens each period's digest, with a
pending message per channel of the rule); every ``notify`` channel with pending rows gets a lane of its
own, started the first time the mail lane sees it. A lane sleeps until it is
woken or until its earliest retry is due (the ledger's ``next_attempt_at``), so retries follow the
backoff instead of a fixed sweep. Everything a lane sends was written *pending* to the ledger before
it was woken, so a crash (even ``kill -9``) at any point leaves work to resume, never a lost alert.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import structlog

from indexer.alerts.engine import AlertEngine
from indexer.alerts.mail_deliveries import MAIL
from indexer.alerts.report import Report

log = structlog.get_logger(__name__)

FAILED_PASS_S = 1.0  # after a failed pass a lane waits this long, doubled per failure up to idle_s


class DeliveryWorker:
    def __init__(self, engine: AlertEngine, *, idle_s: float = 30.0,
                 on_report: Callable[[Report], Any] | None = None) -> None:
        """``idle_s``: the longest a lane sleeps between passes when nothing wakes it. ``on_report``
        gets every lane pass that sent or failed something (metrics)."""
        self.engine = engine
        self.idle_s = idle_s
        self.on_report = on_report
        self._cond = threading.Condition()
        self._generation = 0
        self._stopping = False
        self._lanes: dict[str, threading.Thread] = {}

    @property
    def started(self) -> bool:
        return bool(self._lanes)

    def start(self) -> None:
        self.engine.on_pending = self.wake
        self._spawn(MAIL)
        self.wake()

    def wake(self) -> None:
        """Something may be due: every lane looks, and a channel new to the ledger gets its lane (here,
        not in the mail lane, which may be busy with a slow server)."""
        try:
            channels = list(self.engine.ledger.pending_channels())
        except Exception as err:  # the caller is indexing: never let this fail it
            if self._stopping:  # the ledger was closed under the daemon's last sweep
                log.info("alerts.lane_abandoned", lane="wake", error=str(err), left_pending=True)
            else:
                log.error("alerts.lane_error", lane="wake", error=str(err))
            channels = []
        for channel in channels:
            self._spawn(channel)
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _spawn(self, lane: str) -> None:
        with self._cond:
            if lane in self._lanes or self._stopping:
                return
            thread = threading.Thread(target=self._run, args=(lane,), name=f"mediawatch-deliver-{lane}", daemon=True)
            self._lanes[lane] = thread
        thread.start()

    def _run(self, lane: str) -> None:
        seen = -1
        idle_until = 0.0
        failures = 0  # passes failed in a row: the lane then waits, even for rows already due
        while True:
            with self._cond:
                woken = self._generation != seen or self._stopping
                seen, last = self._generation, self._stopping
            if not woken:
                # the ledger is read outside the condition: wake() (the indexing thread) never waits on it
                due = self._next_due(lane)
                if failures:
                    due = None  # a due retry must not turn a failing pass into a loop: idle_until says when
                wait = min(idle_until, due if due is not None else idle_until) - time.time()
                if wait > 0:
                    with self._cond:
                        if self._generation == seen and not self._stopping:
                            self._cond.wait(wait)
                    continue
            failures = 0 if self._pass(lane, failures) else failures + 1
            idle_until = time.time() + self._pause(failures)
            if last:
                return

    def _next_due(self, lane: str) -> float | None:
        try:
            return self.engine.next_due(lane)
        except Exception as err:  # the ledger is unreadable for a moment: try again after idle_s
            log.error("alerts.lane_error", lane=lane, error=str(err))
            return None

    def _pause(self, failures: int) -> float:
        """How long a lane waits after a pass: its idle time, or after ``failures`` failed passes in a row
        1 s, 2 s, 4 s... up to it."""
        return min(self.idle_s, FAILED_PASS_S * 2 ** (failures - 1)) if failures else self.idle_s

    def _pass(self, lane: str, failures: int = 0) -> bool:
        """One pass of the lane; False when it failed (its rows stay pending)."""
        try:
            if lane == MAIL:
                report = self.engine.deliver_mail()
            else:
                report = self.engine.deliver_channel(lane)
        except Exception as err:  # a lane must survive anything; its rows stay pending
            if self._stopping:  # the ledger was closed under a lane left behind at shutdown
                log.info("alerts.lane_abandoned", lane=lane, error=str(err), left_pending=True)
            else:  # the traceback once per streak of failures, not once per pass
                log.error("alerts.lane_error", lane=lane, error=str(err), failed_passes=failures + 1,
                          retry_in_s=self._pause(failures + 1), exc_info=not failures)
            return False
        if report.digest_messages_opened:  # the mail lane opened digests: their channels' lanes have work now
            self.wake()
        if self.on_report is not None and (report.sent or report.messages or report.failed or report.digests_sent):
            try:
                self.on_report(report)
            except Exception as err:
                log.error("alerts.lane_report_failed", lane=lane, error=str(err))
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the lanes after one last pass each; True if all of them finished within ``timeout``.
        A lane still talking to a slow server then is left to the process exit: its rows are pending
        in the ledger and go out on the next start (same Message-ID / delivery id)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            lanes = list(self._lanes.values())
        self.engine.on_pending = None
        deadline = time.monotonic() + timeout
        for thread in lanes:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in lanes if t.is_alive()]
        if stuck:
            log.warning("alerts.lanes_still_busy", lanes=stuck, left_pending=True)
        return not stuck
