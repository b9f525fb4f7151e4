"""What the SQLite and the PostgreSQL ledger tests check alike: the alerts they record, and the checks."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from indexer.alerts.ledger_rows import NewAlert
from indexer.article import Article


def art(n: int, **kw) -> Article:
    kw.setdefault("indexed_at", datetime(2024, 5, 1, 12, n % 60, tzinfo=timezone.utc))
    return Article(url=f"https://news.example/{n}", title=f"Title {n}", text=f"body {n}", source="ex", **kw)


def item(rule: str, a: Article, mode: str = "instant") -> NewAlert:
    schedule = "instant" if mode == "instant" else "hourly UTC"
    return NewAlert(rule=rule, article=a, mode=mode, schedule=schedule, query="body", recipients=["x@example.org"])


def check_inspection_reads(led) -> None:
    """What the web app, ``alerts list`` and ``/healthz`` read (the newest alerts and channel messages,
    each rule's last mail, the counts, what waits for a retry) equals the same taken from every row, on a
    ledger of many rules, states and times in no order."""
    rng = random.Random(7)
    stamps = rng.sample(range(1_000, 100_000), 600)  # distinct times: one right order
    rules = [f"r{n}" for n in range(7)]
    for n in range(240):
        a = art(n, story_id=f"s{n}")
        rule = rules[n % 7]
        led.enqueue([NewAlert(rule=rule, article=a, mode="instant", schedule="instant", query="body",
                              recipients=["x@example.org"], channels=["hook"] if n % 3 else [])], now=stamps[n])
        fate = rng.random()
        if fate < 0.6:
            led.mark_sent([(rule, a.story, None)], stamps[240 + n])
        elif fate < 0.8:
            led.mark_failed(rule, a.story, "later", stamps[240 + n], 10, 80)
    for row in led.due_deliveries(now=10**6, limit=1000):  # in a cluster's ledger, claimed: due at 10**6 + 60
        fate = rng.random()
        if fate < 0.5:
            led.mark_delivered(row, stamps[480 + int(row.story_id[1:]) % 120])
        elif fate < 0.75:
            led.mark_delivery_failed(row, "down", 200_000 + int(row.story_id[1:]))  # distinct, as stamps
    led.enqueue([NewAlert(rule="d", article=art(900, story_id="d1"), mode="hourly", schedule="hourly UTC",
                          query="body", recipients=["x@example.org"])], now=50.0)
    digest = led.open_digest("d", "k", 60.0, ["x@example.org"], now=61.0, channels=["hook"])
    led.mark_digest_failed(digest, "refused", 62.0, 10, 80)
    (dd,) = led.due_digest_deliveries(now=10**6, channel="hook")
    led.mark_digest_delivery_failed(dd, "down", 63.0)

    rows = led.rows()
    newest = sorted(rows, key=lambda r: r.matched_at, reverse=True)[:50]
    assert [(r.rule, r.story_id) for r in led.recent(50)] == [(r.rule, r.story_id) for r in newest]
    last: dict[str, float] = {}
    for r in rows:
        if r.state == "sent" and r.sent_at:
            last[r.rule] = max(last.get(r.rule, 0.0), r.sent_at)
    assert led.last_sent() == last
    messages = led.recent_messages(1000)
    times = [m.sent_at or m.next_attempt_at for m in messages]
    assert times == sorted(times, reverse=True) and len(messages) == len(led.deliveries()) + 1
    assert [m.sent_at or m.next_attempt_at for m in led.recent_messages(30)] == times[:30]  # ties in any order
    counts = led.counts()
    states = [s for *_, s, _ in led.deliveries()] + ["pending"]  # the digest's message
    assert counts["sent"] == sum(r.state == "sent" for r in rows)
    assert counts["deliveries_sent"] == states.count("sent") and counts["deliveries_pending"] == states.count("pending")
    waiting = (sum(r.state == "pending" and r.attempts > 0 for r in rows) + 1  # the digest's mail
               + sum(s == "pending" and n > 0 for *_, s, n in led.deliveries()) + 1)  # and its message
    assert led.failing() == waiting == counts["failing"] + counts["deliveries_failing"] + 1


def check_texts_forgotten(led) -> None:
    """Past the cut, an alert done with keeps its title, link and key, not the page's text; one whose
    mail, digest or channel message is still to send keeps it all, as does a newer one."""
    def text_of(rule: str, story: str) -> tuple[str, str]:
        a = led.get(rule, story).article
        return a.text, a.description

    def alert(rule: str, n: int, at: float, mode: str = "instant", channels: tuple[str, ...] = ()) -> str:
        a = art(n, story_id=f"s{n}", description=f"summary {n}")
        led.enqueue([NewAlert(rule=rule, article=a, mode=mode, schedule="instant" if mode == "instant" else
                              "hourly UTC", query="body", recipients=["x@example.org"], channels=list(channels))],
                    now=at)
        return a.story

    done, hooked, failing, newer = alert("r", 1, 10.0), alert("r", 2, 10.0, channels=("hook",)), alert("r", 3, 10.0), \
        alert("r", 4, 500.0)
    led.mark_sent([("r", s, None) for s in (done, hooked, newer)], 20.0)
    led.mark_failed("r", failing, "down", 20.0, 10, 80)
    in_sent, in_waiting = alert("d", 5, 10.0, "hourly"), alert("d2", 6, 10.0, "hourly")
    sent_digest = led.open_digest("d", "k", 15.0, ["x@example.org"], now=16.0)
    led.mark_digest_sent(sent_digest, 17.0)
    waiting_digest = led.open_digest("d2", "k", 15.0, ["x@example.org"], now=16.0, channels=["hook"])
    led.mark_digest_sent(waiting_digest, 17.0)  # its mail went; its channel message has not

    led.FORGET_SLICE = 1  # one alert per transaction: the slices add up
    assert led.forget_texts(100.0) == 2
    assert text_of("r", done) == ("", "") and text_of("d", in_sent) == ("", "")
    kept = led.get("r", done).article
    assert (kept.title, kept.url, kept.story_id) == ("Title 1", "https://news.example/1", "s1")
    for rule, story in (("r", hooked), ("r", failing), ("r", newer), ("d2", in_waiting)):
        assert text_of(rule, story)[0].startswith("body"), (rule, story)
    assert led.enqueue([item("r", art(1, story_id=done))], now=600.0) == []  # still no second mail
    assert led.forget_texts(100.0) == 0  # each row once
