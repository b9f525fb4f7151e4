"""Issue 7's acceptance: the daemon as a subprocess against a fixture site, the SMTP server and
the Elasticsearch node — two scheduled cycles, a new article picked up and mailed once, SIGHUP
reload with a new source, a SIGHUP with a broken file refused (the daemon goes on), SIGTERM exit 0 within 10 s with nothing lost."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
import uuid

import yaml

from tests.e2e.daemon_log import read_events, wait_for
from tests.harness.project import fast_crawl

JAIL_STORY = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lukashenko's critics moved to a new jail</title>
<meta property="article:published_time" content="{published}"></head>
<body><nav><a href="/">Home</a></nav><article><h1>Lukashenko's critics moved to a new jail</h1>
<p>Several opposition figures detained since the summer were moved on Sunday to a jail outside Minsk,
their lawyers said, in a transfer that relatives described as punishment for the protests.</p>
<p>The lawyers said the prison administration gave no reason for the move, and that visits had been
suspended for two weeks while the detainees were placed in quarantine.</p>
<p>Human rights groups counted more than a hundred political prisoners in Belarus this autumn, and
called on the authorities to release them without conditions.</p>
</article></body></html>"""


def summaries(seen: list[dict], source: str) -> list[dict]:
    return [e for e in seen if e.get("event") == "crawl_summary" and e.get("source") == source]


def test_daemon_cycles_reload_and_clean_stop(project, fixture_site_factory, smtp_server, es_url):
    site, site2 = fixture_site_factory(5), fixture_site_factory(4, offset=20)
    prefix = f"mw-daemon-{uuid.uuid4().hex[:8]}"
    data = project.root / "data"
    config = {
        "data_dir": str(data),
        "index": {"url": es_url, "prefix": prefix, "spool_path": str(data / "spool"), "bulk_interval_s": 0.5},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3"),
                 "smtp": {"host": smtp_server.host, "port": smtp_server.port, "tls": "none", "timeout_s": 5}},
        "crawl": fast_crawl(data),
        "http": {"health_port": 0},
        "sources": [site.source("fixture", schedule={"every": "4s", "jitter": "0s"})],
        "rules": [{"name": "lukashenko", "query": "Lukashenko AND (prison OR jail)",
                   "recipients": ["analyst@example.org"], "mode": "instant"},
                  # a typo in its sources: said at start, and it matches nothing crawled
                  {"name": "typo", "query": "Lukashenko", "recipients": ["analyst@example.org"],
                   "sources": ["fixtur"]}],
    }
    project.write(config)
    proc = project.popen("run")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        # Cycle 1: every article of the site; the seed matches the rule: one mail.
        wait_for(events, seen, lambda s: len(summaries(s, "fixture")) >= 1, 90)
        assert [e["detail"].split(":")[0] for e in seen if e.get("event") == "rule_unknown_source"] == ["rule 'typo'"]
        first = summaries(seen, "fixture")[0]
        assert first["articles"] == len(site.articles)
        smtp_server.wait_for(1, timeout=20)

        # An article published before the next cycle is picked up by it, and mailed once.
        added = site.add_article(html=JAIL_STORY.format(published=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        wait_for(events, seen, lambda s: any(e["articles"] == 1 for e in summaries(s, "fixture")[1:]), 60)
        # the cycle that found it: the second, or a later one when the first mail took longer than a cycle
        found = next(i for i, e in enumerate(summaries(seen, "fixture")) if i and e["articles"] == 1)
        mails = smtp_server.wait_for(2, timeout=20)
        assert any("new jail" in m.subject for m in mails)
        assert sum(added.path in m.part("plain") for m in mails) == 1
        # Later cycles find nothing new and fetch no article page again.
        wait_for(events, seen, lambda s: len(summaries(s, "fixture")) > found + 1, 60)
        assert [e["articles"] for e in summaries(seen, "fixture")[found + 1:]] == \
            [0] * (len(summaries(seen, "fixture")) - found - 1)

        # SIGHUP with a new source: it gets crawled without a restart. A changed mail section needs one,
        # and the daemon says so.
        config["sources"].append(site2.source("fixture2", schedule={"every": "1h", "jitter": "0s"}))
        config["mail"] = dict(config["mail"], from_name="Press desk")
        project.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        proc.send_signal(signal.SIGHUP)
        wait_for(events, seen, lambda s: len(summaries(s, "fixture2")) >= 1, 60)
        assert any(e.get("event") == "config_reloaded" for e in seen)
        assert [e["sections"] for e in seen if e.get("event") == "config_needs_restart"][:1] == [["mail"]]
        assert summaries(seen, "fixture2")[0]["articles"] == len(site2.articles)

        # SIGHUP with two mistakes in the file: both named, and the daemon goes on with what it had.
        broken = dict(config, http={"health_port": 0, "prot": 1},
                      rules=[dict(config["rules"][0], mode="hourlyish")])
        project.config_path.write_text(yaml.safe_dump(broken, sort_keys=False))
        proc.send_signal(signal.SIGHUP)
        wait_for(events, seen, lambda s: any(e.get("event") == "reload_rejected" for e in s), 30)
        rejected = next(e for e in seen if e.get("event") == "reload_rejected")
        assert [line.split(": ")[1] for line in rejected["errors"]] == ["http.prot", "rules[0].mode"], rejected
        cycles = len(summaries(seen, "fixture"))
        wait_for(events, seen, lambda s: len(summaries(s, "fixture")) > cycles, 30)
        assert proc.poll() is None
        project.config_path.write_text(yaml.safe_dump(config, sort_keys=False))  # for the checks below
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        stop_s = time.monotonic() - started
    assert code == 0
    assert stop_s < 10

    # Nothing lost: every article of both sites is in the index, once.
    result = project.run("search", "*", "--json", "--all-copies", "--limit", "200")
    assert result.returncode == 0, result.stderr[-2000:]
    urls = [json.loads(line)["url"] for line in result.stdout.splitlines()]
    expected = {site.url(a.path) for a in site.articles} | {site2.url(a.path) for a in site2.articles}
    assert len(urls) == len(set(urls))
    assert set(urls) == expected
    # Each matching story mailed exactly once: site2 carries its own copy of the seed page, crawled
    # after the seed's mail went out, so it is the same story and no new mail.
    smtp_server.wait_for(2, timeout=10)
    bodies = [m.part("plain") for m in smtp_server.messages]
    matching = [u for u in expected if any(u in b for b in bodies)]
    assert len(smtp_server.messages) == len(matching) == 2
    assert not any(u.startswith(site2.base) for u in matching)
