"""The verdict /healthz gives from what the daemon knows (pure logic)."""

from scheduler.health import Facts, assess


def kinds(reasons):
    return {r.kind for r in reasons}


def test_ok_when_nothing_is_wrong():
    assert assess(Facts(failure_streaks={"a": 0, "b": 2})) == ("ok", [])


def test_some_sources_failing_is_degraded_all_is_failing():
    status, reasons = assess(Facts(failure_streaks={"a": 3, "b": 0}))
    assert status == "degraded" and kinds(reasons) == {"sources_failing"}
    assert "a" in reasons[0].text and "b" not in reasons[0].text.split(": ")[-1]
    status, _ = assess(Facts(failure_streaks={"a": 3, "b": 5}))
    assert status == "failing"


def test_storage_failing_wins_over_degraded_reasons():
    status, reasons = assess(Facts(storage_error="disk full", index_down=True, spool_depth=7, spool_grew=True,
                                   deliveries_failing=2, late_jobs={"crawl:a": 90.0}))
    assert status == "failing"
    assert kinds(reasons) == {"storage_failing", "index_unreachable", "spool_growing",
                              "deliveries_failing", "scheduler_late"}


def test_each_degraded_reason_alone():
    for facts, kind in ((Facts(index_down=True), "index_unreachable"),
                        (Facts(spool_grew=True, spool_depth=3), "spool_growing"),
                        (Facts(deliveries_failing=1), "deliveries_failing"),
                        (Facts(late_jobs={"flush-index": 75.0}), "scheduler_late")):
        status, reasons = assess(facts)
        assert status == "degraded" and kinds(reasons) == {kind}
