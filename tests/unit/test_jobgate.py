"""scheduler.jobgate: the daemon closes its stores only after its periodic jobs have returned."""

import threading

import pytest

from scheduler.jobgate import JobGate


def job_inside(gate: JobGate) -> tuple[threading.Event, threading.Thread, list[str]]:
    """A guarded job running on a thread of its own, inside the gate: it returns, noting "slow" in the
    list, once the event is set."""
    entered, release, ran = threading.Event(), threading.Event(), []

    def slow() -> None:
        entered.set()
        if release.wait(10):
            ran.append("slow")

    worker = threading.Thread(target=gate.guard(slow))
    worker.start()
    assert entered.wait(10)
    return release, worker, ran


def test_close_waits_for_a_running_job_and_no_job_starts_after_it():
    gate = JobGate()
    release, worker, ran = job_inside(gate)
    closed = []
    closer = threading.Thread(target=lambda: closed.append(gate.close(10)))
    closer.start()
    closer.join(0.2)
    assert closer.is_alive() and not closed, "close returned while the job was still running"
    release.set()
    closer.join(10)
    assert closed == [True] and ran == ["slow"]
    gate.guard(lambda: ran.append("late"))()
    assert ran == ["slow"], "a job started after close"
    worker.join(10)


def test_close_gives_up_at_its_timeout_and_a_failing_job_leaves_the_gate():
    gate = JobGate()

    def failing() -> None:
        raise RuntimeError("store closed")

    with pytest.raises(RuntimeError):
        gate.guard(failing)()
    release, worker, _ran = job_inside(gate)
    assert gate.close(0.05) is False
    release.set()
    worker.join(10)
    assert gate.close(0) is True, "the failing job and the stuck one both left the gate"


def test_a_guarded_job_keeps_its_name_for_the_scheduler_logs():
    def flush_index() -> None:
        pass

    assert JobGate().guard(flush_index).__name__ == "flush_index"


def test_closing_in_the_background_shuts_the_gate_at_once_and_reports_when_the_jobs_are_out():
    gate = JobGate()
    release, worker, _ran = job_inside(gate)
    late = []
    done = gate.closing(10)
    gate.guard(lambda: late.append("late"))()
    assert late == [] and not done.done(), "a job started after closing began, or it did not wait"
    release.set()
    assert done.result(10) is True
    worker.join(10)
