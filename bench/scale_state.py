"""The daemon's own stores after months: what the pages, ``sources list`` and ``/healthz`` read from the
crawl frontier's runs and the alert ledger, timed at a size a long-running install reaches.

A frontier with ``--runs`` run summaries over 50 sources, and a ledger with ``--alerts`` sent alerts
(each with a 3 KB article snapshot, as a news story has) over 50 rules, each with a sent channel message.
Each read is timed as the stores answer it (median of ``--repeat``) beside the whole-table query it
replaced in the same run (the peer): a GROUP BY or a sort over every row.

Then the daily retention pass over the ledger's copies of the pages' text, once every alert's text is
forgotten (what each pass after the first meets): the longest another user of the ledger (a thread
recording alerts) waits while it runs, beside the one read the pass made before, which held the ledger
for its whole length.

    .venv/bin/python -m bench.scale_state                      # 1,000,000 runs, 200,000 alerts
    .venv/bin/python -m bench.scale_state --runs 100000 --alerts 20000
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402
from crawler.frontier import Frontier  # noqa: E402
from indexer.alerts.ledger import Ledger  # noqa: E402

SOURCES = RULES = 50

# The queries the stores ran before, over every row ("+matched_at": the plan before its index, a sort).
WHOLE_TABLE = {
    "last runs": "SELECT * FROM runs WHERE id IN (SELECT MAX(id) FROM runs WHERE finished_at IS NOT NULL GROUP BY source)",
    "newest 200 alerts": "SELECT * FROM alerts ORDER BY +matched_at DESC LIMIT 200",
    "each rule's last mail": "SELECT rule, MAX(sent_at) FROM alerts WHERE state = 'sent' GROUP BY rule",
    "newest 200 channel messages": (
        "SELECT * FROM (SELECT d.rule, a.article, d.sent_at, d.next_attempt_at FROM deliveries d"
        " JOIN alerts a ON a.rule = d.rule AND a.story_id = d.story_id UNION ALL SELECT g.rule, NULL, d.sent_at,"
        " d.next_attempt_at FROM digest_deliveries d JOIN digests g ON g.digest_id = d.digest_id)"
        " ORDER BY COALESCE(sent_at, next_attempt_at) DESC LIMIT 200"),
    # /healthz read every count of the Alerts page for the one it needs
    "waiting for a retry": (
        "SELECT state, COUNT(*) FROM alerts GROUP BY state UNION ALL SELECT state, COUNT(*) FROM"
        " (SELECT state, attempts FROM deliveries UNION ALL SELECT state, attempts FROM digest_deliveries)"
        " GROUP BY state"),
}


def build(root: Path, runs: int, alerts: int) -> tuple[Path, Path]:
    frontier, ledger = root / "crawl.sqlite3", root / "alerts.sqlite3"
    Frontier(frontier).close()
    Ledger(ledger).close()
    with sqlite3.connect(frontier) as db:
        db.executemany(
            "INSERT INTO runs (source, started_at, finished_at, articles, reason) VALUES (?, ?, ?, 5, 'finished')",
            ((f"source-{i % SOURCES}", f"2026-01-01T00:00:{i % 60:02d}+00:00", "2026-01-01T00:01:00+00:00")
             for i in range(runs)))
    article = json.dumps({"url": "https://news.example/a", "title": "A story", "text": "words " * 500})
    with sqlite3.connect(ledger) as db:
        db.executemany(
            "INSERT INTO alerts (rule, story_id, article_id, mode, schedule, state, message_id, attempts,"
            " next_attempt_at, matched_at, sent_at, query, recipients, article)"
            " VALUES (?, ?, ?, 'instant', 'instant', 'sent', '<m>', 1, ?, ?, ?, 'q', '[\"x@example.org\"]', ?)",
            ((f"rule-{i % RULES}", f"s{i}", f"a{i}", 1e9 + i, 1e9 + i, 1e9 + i, article) for i in range(alerts)))
        db.executemany(
            "INSERT INTO deliveries (rule, story_id, channel, state, attempts, next_attempt_at, sent_at)"
            " VALUES (?, ?, 'hook', 'sent', 1, ?, ?)",
            ((f"rule-{i % RULES}", f"s{i}", 1e9 + i, 1e9 + i) for i in range(alerts)))
    return frontier, ledger


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def retention_pass(ledger: Ledger, db: sqlite3.Connection) -> dict[str, Any]:
    """A pass with nothing left to forget, and the longest a thread recording into the same ledger waited."""
    ledger.forget_texts(time.time())  # the first pass: every text forgotten
    waits: list[float] = []
    stop = threading.Event()

    def recorder() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            ledger.advance_watermark(time.time())
            waits.append(time.perf_counter() - started)
            time.sleep(0.002)

    thread = threading.Thread(target=recorder)
    thread.start()
    started = time.perf_counter()
    ledger.forget_texts(time.time())
    took = time.perf_counter() - started
    stop.set()
    thread.join()
    one_read = median_ms(lambda: db.execute(
        f"SELECT rule, story_id FROM alerts INDEXED BY alerts_recent WHERE {Ledger._DONE_WITH} AND"
        " json_extract(article, '$.text') != '' ORDER BY matched_at LIMIT 1000", (time.time(),)).fetchall(), 1)
    print(f"retention pass, nothing left: {took * 1000:.0f} ms; a recording thread waited {max(waits) * 1000:.1f} ms"
          f" at most ({len(waits)} records); the pass's one read before: {one_read:.0f} ms, the ledger held throughout")
    return {"system": "retention pass, nothing left", "ms": round(took * 1000, 1),
            "longest_wait_ms": round(max(waits) * 1000, 2), "one_read_before_ms": round(one_read, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--alerts", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mediawatch-bench-state-") as tmp:
        started = time.monotonic()
        frontier_path, ledger_path = build(Path(tmp), args.runs, args.alerts)
        print(f"built {args.runs:,} runs and {args.alerts:,} alerts in {time.monotonic() - started:.0f}s", flush=True)
        frontier, ledger = Frontier(frontier_path), Ledger(ledger_path)
        ours: dict[str, Callable[[], Any]] = {
            "last runs": frontier.last_runs,
            "newest 200 alerts": lambda: ledger.recent(200),
            "each rule's last mail": ledger.last_sent,
            "newest 200 channel messages": lambda: ledger.recent_messages(200),
            "waiting for a retry": ledger.failing,
        }
        raw = {"last runs": sqlite3.connect(frontier_path)}
        rows = []
        print(f"{'read':<30} {'ms':>9} {'whole table ms':>15} {'ratio':>8}")
        for name, call in ours.items():
            db = raw.get(name) or sqlite3.connect(ledger_path)
            ms = median_ms(call, args.repeat)
            peer = median_ms(lambda: db.execute(WHOLE_TABLE[name]).fetchall(), args.repeat)
            print(f"{name:<30} {ms:>9.2f} {peer:>15.1f} {peer / ms:>7.0f}x")
            rows.append({"system": name, "ms": round(ms, 3), "whole_table_ms": round(peer, 1)})
        rows.append(retention_pass(ledger, sqlite3.connect(ledger_path)))
        frontier.close()
        ledger.close()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(common.result(
            "scale_state", rows, params={"runs": args.runs, "alerts": args.alerts, "repeat": args.repeat}),
            indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
