"""A rule for a team, against an SMTP server that takes two recipients per transaction and greylists
one address: the running daemon gets every alert to every recipient exactly once (the rest of a
transaction in further ones, the greylisted address by its own retries), under one Message-ID each."""

from __future__ import annotations

import collections

import pytest

from tests.faults.conftest import base_config
from tests.harness.daemon import problems
from tests.harness.stores import alerts_pending
from tests.harness.wait import wait_until

pytestmark = pytest.mark.timeout(120)

TEAM = [f"desk{n}@example.org" for n in range(5)]
RULE = {"name": "everything", "query": "source:fixture", "recipients": TEAM, "mode": "instant"}


def test_every_recipient_once_past_a_recipient_limit_and_greylisting(project, daemons, fixture_site_factory,
                                                                      smtp_server):
    site = fixture_site_factory(3)
    smtp_server.max_recipients = 2
    smtp_server.refuse_rcpt(TEAM[3], 450, times=6)  # "try later" for the first mails, then accepted
    project.write(base_config(project.root, [site.source("fixture", schedule={"every": "1h", "jitter": "0s"})],
                              rules=[RULE], smtp=smtp_server))
    d = daemons(project)
    d.wait_for(lambda ev: d.summaries("fixture"), 60, "the crawl")
    urls = {site.url(a.path) for a in site.articles}
    d.wait_for(lambda ev: d.named("alerts.send_failed"), 30, "a mail refused for the greylisted address")
    wait_until(lambda: alerts_pending(project.root / "data" / "alerts.sqlite3") == 0, 60, "no alert left pending")
    assert d.stop() == 0
    assert not problems(d.events), problems(d.events)

    by_id = collections.defaultdict(list)
    for m in smtp_server.messages:
        assert len(m.rcpt_tos) <= 2
        by_id[m.message_id] += m.rcpt_tos
    assert len(by_id) == len(urls)
    for message_id, rcpts in by_id.items():
        assert sorted(rcpts) == TEAM, (message_id, rcpts)  # each recipient once
    mailed = {u for m in smtp_server.messages for u in urls if u in m.part("plain")}
    assert mailed == urls
    assert all(TEAM[3] in e["error"] for e in d.named("alerts.send_failed"))
