"""The daemon's own web app, in Chromium: make a rule with its preview, "crawl now" a source that just
published a matching article, and the daemon (no restart) mails it once; the alerts page shows it sent."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time

from tests.e2e.browser import browser, page  # noqa: F401  (fixtures)
from tests.e2e.daemon_log import read_events, wait_event
from tests.harness.project import fast_crawl
from tests.harness.site_pages import word_article
from tests.harness.wait import wait_until
from tests.harness.webhooks import WebhookReceiver

WORD = "lighthousekeeper"


def test_rule_made_in_the_browser_mails_a_new_article_once(project, fixture_site, smtp_server, page, tmp_path):
    site, data = fixture_site, project.root / "data"
    hooks = WebhookReceiver()
    hooks.up()
    rules_dir = project.root / "rules"
    project.write({
        "data_dir": str(data),
        "index": {"sqlite_path": str(data / "index.sqlite3"), "spool_path": str(data / "spool"),
                  "bulk_interval_s": 0.5},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "ledger_path": str(data / "alerts.sqlite3"),
                 "smtp": {"host": smtp_server.host, "port": smtp_server.port, "tls": "none", "timeout_s": 5}},
        "crawl": fast_crawl(data), "http": {"port": 0, "notify_networks": ["127.0.0.1/32"]}, "rules_dir": str(rules_dir),
        "sources": [site.source("fixture", schedule={"every": "1h", "jitter": "0s"})],
    })
    proc = project.popen("run", MEDIAWATCH_NOTIFY_HOOK_KEY="s3cret")
    events: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(proc.stderr, events), daemon=True).start()
    seen: list[dict] = []
    try:
        base = wait_event(events, seen, lambda e: e.get("event") == "web_listening", 60)["url"].rstrip("/")
        wait_event(events, seen, lambda e: e.get("event") == "crawl_summary", 90)
        crawls = sum(e.get("event") == "crawl_summary" for e in seen)

        page.goto(base + "/rules/new")
        page.fill("#rule-name", "lighthouse")
        page.fill("#rule-query", WORD)
        page.fill("#rule-recipients", "desk@example.org")
        # a JSON webhook channel, its token from the environment (a variable the operator named for the
        # app, MEDIAWATCH_NOTIFY_*): the file keeps the reference
        page.fill("#rule-notify", hooks.url("json", "/hook/${MEDIAWATCH_NOTIFY_HOOK_KEY}"))
        page.click("#preview")
        page.wait_for_selector("#preview-result")
        assert page.inner_text("#preview-total") == "0"  # nothing yet
        page.click("#save")
        page.wait_for_selector("tr[data-rule='lighthouse']")
        assert (rules_dir / "lighthouse.yaml").exists()
        assert "${MEDIAWATCH_NOTIFY_HOOK_KEY}" in (rules_dir / "lighthouse.yaml").read_text() and "s3cret" not in page.content()
        page.screenshot(path=str(tmp_path / "daemon-rules.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'daemon-rules.png'}")

        title = "The lighthousekeeper's log"
        site.add_article(title=title, html=word_article(title, WORD))
        page.goto(base + "/sources")
        # the next run the page shows is the scheduler's slot for the source, as `sources list` gives it
        listed = project.run("sources", "list")
        line = next(x for x in listed.stdout.splitlines() if x.startswith("fixture "))
        slot = line.split()[-2] + " " + line.split()[-1][:5]
        assert page.inner_text("tr[data-source='fixture'] td:nth-child(6)").strip() == slot, listed.stdout
        page.click("tr[data-source='fixture'] button")
        page.wait_for_url("**/sources?queued=fixture")
        wait_event(events, seen, lambda e: e.get("event") == "crawl_summary" and
              sum(x.get("event") == "crawl_summary" for x in seen) > crawls, 90)

        mails = smtp_server.wait_for(1, timeout=60)
        assert len(mails) == 1 and title in mails[0].subject
        assert mails[0].rcpt_tos == ["desk@example.org"]
        posted = hooks.wait_for(1, path="/hook/s3cret", timeout=60)
        assert len(posted) == 1 and title in posted[0].body["title"]
        def first_alert_row() -> str:
            page.goto(base + "/alerts")
            return page.locator("#alerts tbody tr").first.inner_text()

        # the server has the mail before the daemon has the 250 and writes the row "sent"
        wait_until(lambda: "sent" in first_alert_row(), 20, lambda: f"the alert row sent: {first_alert_row()!r}")
        assert "lighthouse" in first_alert_row()
        page.screenshot(path=str(tmp_path / "daemon-alerts.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'daemon-alerts.png'}")
        page.goto(base + "/rules")
        last_alert = page.locator("tr[data-rule='lighthouse'] td").nth(5).inner_text()
        assert last_alert.startswith(time.strftime("%Y-%m-%d", time.gmtime()))
        assert page.troubles == []
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except Exception:
            proc.kill()
            raise
        finally:
            hooks.close()
    assert code == 0
    assert len(smtp_server.messages) == 1  # once
    assert len(hooks.requests) == 1
