"""The delivery worker's pacing, on a stand-in engine (pure scheduling logic: the lanes' real sending is
tested against real servers elsewhere)."""

from __future__ import annotations

import threading
import time

from indexer.alerts.worker import FAILED_PASS_S, DeliveryWorker


class FailingEngine:
    """A mail lane whose every pass fails while a retry is long due (the index down, say)."""

    def __init__(self) -> None:
        self.on_pending = None
        self.ledger = self
        self.passes: list[float] = []
        self.passed = threading.Condition()

    def pending_channels(self) -> dict:
        return {}

    def next_due(self, lane: str) -> float:
        return time.time() - 60

    def deliver_mail(self):
        with self.passed:
            self.passes.append(time.monotonic())
            self.passed.notify_all()
        raise ConnectionError("index unreachable")


def test_a_failing_lane_waits_longer_after_each_failure_rather_than_looping_on_a_due_retry():
    engine = FailingEngine()
    worker = DeliveryWorker(engine, idle_s=30)
    worker.start()
    try:
        with engine.passed:
            assert engine.passed.wait_for(lambda: len(engine.passes) >= 3, timeout=20), engine.passes
            times = list(engine.passes[:3])
        # (the first two passes may come together: the start wakes the lane once more) then 2 s after the
        # second failure; a lane looping on its due retry made thousands of passes a second
        assert times[2] - times[1] >= 1.9 * FAILED_PASS_S, times
    finally:
        worker.close(timeout=1)
