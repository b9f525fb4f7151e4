"""What the SQLite and the PostgreSQL frontier tests check alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crawler.accounting import RunSummary

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def run(fr, source: str, started: datetime, *, finish: bool = True) -> int:
    summary = RunSummary(source, started_at=started, finished_at=started + timedelta(minutes=1), reason="finished")
    summary.run_id = fr.begin_run(source, started)
    if finish:
        fr.finish_run(summary)
    return summary.run_id


def check_runs_forgotten(fr) -> None:
    """Runs past the cut are deleted, but each source's last finished one and any unfinished one."""
    day = timedelta(days=1)
    a1, a2, b1 = run(fr, "a", T0), run(fr, "a", T0 + day), run(fr, "b", T0)
    running = run(fr, "a", T0 + 2 * day, finish=False)
    a3, c1 = run(fr, "a", T0 + 100 * day), run(fr, "c", T0 + 100 * day)
    assert {s: r.run_id for s, r in fr.last_runs().items()} == {"a": a3, "b": b1, "c": c1}
    assert fr.forget_runs(T0 + 50 * day) == 2  # a1 and a2
    assert [r.run_id for r in fr.runs("a")] == [a3, running]
    assert {s: r.run_id for s, r in fr.last_runs().items()} == {"a": a3, "b": b1, "c": c1}
    assert fr.forget_runs(T0 + 200 * day) == 0  # every run left is its source's last, or unfinished
    assert a1 < a2 < running < a3
