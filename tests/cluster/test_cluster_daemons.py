"""Three real daemons, one PostgreSQL, one Elasticsearch node, 60 fixture sources, a real SMTP server and
a webhook receiver: every article indexed once, every alert mailed and posted once, every source
crawled on its schedule by one daemon at a time; a daemon SIGKILLed mid-crawl and another SIGTERMed
are taken over within one lease, a daemon that joins takes work, and a restart of the engine makes the
daemons say ``degraded`` and carry on, without duplicates."""

from __future__ import annotations

import collections
import json
import random
import re
import time
import uuid
from datetime import datetime

import pytest

from tests.harness.daemon import Daemon, problems
from tests.harness.project import Project, fast_crawl
from tests.harness.site_pages import story_words
from tests.harness.sites import FixtureSite
from tests.harness.stores import es_urls
from tests.harness.wait import wait_until
from tests.harness.webhooks import WebhookReceiver

pytestmark = pytest.mark.timeout(600)

SOURCES = 60
LEASE_S = 5.0
EVERY_S = 20
# A crawl in flight when the engine went away fails (its URLs are fetched again at the next run): the
# errors of that moment name the store whose statement failed; anything else is a daemon that broke.
ENGINE_GONE = re.compile(r"(frontier|leases|alert ledger): (connection|terminating|server closed|consuming input)")
RULE = {"name": "council", "query": "council", "recipients": ["desk@example.org"], "mode": "instant"}


def article_html(site: int, n: int) -> str:
    """A story of its own: no two articles of the test are near-duplicates (each is one alert)."""
    paras = "\n".join(f"<p>Paragraph {i} of story {site}-{n}: the council met about the "
                      f"{story_words(f'cluster-{site}-{n}-{i}')}, after a long debate.</p>" for i in range(6))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Story {site}-{n}</title></head>"
            f"<body><article><h1>Story {site}-{n}</h1>{paras}</article></body></html>")


class Cluster:
    def __init__(self, project: Project, pg, dsn: str) -> None:
        self.project, self.pg, self.db = project, pg, dsn.rsplit("/", 1)[1]
        self.daemons: dict[str, Daemon] = {}

    def start(self, node: str) -> Daemon:
        d = Daemon(self.project, env={"MW_NODE": node})
        self.daemons[node] = d
        return d

    def sql(self, query: str) -> list[list[str]]:
        try:
            out = self.pg.psql(query, self.db)
        except RuntimeError as err:
            if "does not exist" in str(err):  # the daemons create their tables as they start
                return []
            raise
        return [line.split("|") for line in out.splitlines() if line]

    def holders(self) -> dict[str, str]:
        return {name: holder for name, holder in self.sql("SELECT name, holder FROM cluster_sources"
                                                          " WHERE holder IS NOT NULL AND lease_until > now()")}

    def runs(self) -> dict[str, int]:
        return {name: int(n) for name, n in self.sql("SELECT name, runs FROM cluster_sources")}

    def pending(self) -> int:
        rows = self.sql("SELECT (SELECT COUNT(*) FROM alerts WHERE state = 'pending')"
                        " + (SELECT COUNT(*) FROM deliveries WHERE state = 'pending')")
        return int(rows[0][0]) if rows else -1


@pytest.fixture
def sites():
    made = [FixtureSite(0, seed=False) for _ in range(SOURCES)]
    yield made
    for site in made:
        site.stop()


def test_three_daemons_share_the_work_and_survive_kills_and_an_engine_restart(
        tmp_path, pg, pg_dsn, es_running, smtp_server, sites):
    hook = WebhookReceiver()
    hook.up()
    prefix = f"mw-cluster-{uuid.uuid4().hex[:8]}"
    counter = collections.Counter()

    def publish(i: int) -> None:
        counter[i] += 1
        sites[i].add_article(title=f"Story {i}-{counter[i]}", html=article_html(i, counter[i]))

    for i in range(SOURCES):
        publish(i)
        publish(i)
    project = Project(tmp_path)
    project.write({
        "data_dir": str(tmp_path / "${MW_NODE}"),  # the spool and outbox are each daemon's own
        "index": {"url": es_running.url, "prefix": prefix, "bulk_interval_s": 0.5, "refresh": "true"},
        "mail": {"from_addr": "mediawatch@127.0.0.1", "smtp": {"host": smtp_server.host, "port": smtp_server.port,
                                                              "tls": "none", "timeout_s": 5},
                 "retry_initial_s": 1, "retry_max_s": 2, "sweep_interval_s": 1},
        "crawl": {**fast_crawl(tmp_path), "extraction_workers": 1},
        "http": {"health_port": 0},
        "log": {"format": "json"},
        "cluster": {"postgres": pg_dsn, "lease_seconds": LEASE_S, "node": "${MW_NODE}", "max_running": 8},
        "sources": [site.source(f"site{i:02d}", schedule={"every": f"{EVERY_S}s", "jitter": "0s"})
                    for i, site in enumerate(sites)],
        "rules": [{**RULE, "notify": [hook.url("json")]}],
    })
    cluster = Cluster(project, pg, pg_dsn)
    try:
        run(cluster, sites, publish, smtp_server, hook, es_running.url, prefix)
    finally:
        for d in cluster.daemons.values():
            d.close()
        hook.close()


def run(cluster: Cluster, sites, publish, smtp_server, hook, es_url: str, prefix: str) -> None:
    def expected() -> set[str]:
        return {site.url(a.path) for site in sites for a in site.articles}

    def indexed() -> list[str]:
        try:
            return es_urls(es_url, prefix)
        except OSError:  # the index is created with the first batch
            return []

    def delivered() -> bool:
        want = expected()
        return (set(indexed()) >= want and len(smtp_server.messages) >= len(want)
                and len(hook.requests) >= len(want) and cluster.pending() == 0)

    # -- three daemons, one round of every source, spread over the three ---------------------------
    for node in ("d0", "d1", "d2"):
        cluster.start(node)
    wait_until(lambda: all(n >= 1 for n in cluster.runs().values()) and len(cluster.runs()) == SOURCES, 240,
               lambda: f"every source crawled once: runs {cluster.runs()}; {tails(cluster)}", poll_s=0.5)
    wait_until(delivered, 90, lambda: progress(cluster, expected(), indexed(), smtp_server, hook), poll_s=0.5)
    taken = {node: len(d.named("lease_taken")) for node, d in cluster.daemons.items()}
    assert all(n >= SOURCES // 10 for n in taken.values()), f"the work did not spread: {taken}"
    shown = cluster.project.run("cluster", "status", "--json", MW_NODE="cli")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["status"] == "ok" and report["sources"] == SOURCES and report["runs"] >= SOURCES
    assert {(d["id"], d["alive"]) for d in report["daemons"]} == {("d0", True), ("d1", True), ("d2", True)}
    assert all(d["pid"] == cluster.daemons[d["id"]].proc.pid for d in report["daemons"])
    assert {"due_not_taken", "oldest_due_s"} <= set(report["lag"])
    table = cluster.project.run("cluster", "status", MW_NODE="cli")
    assert table.returncode == 0 and "d0" in table.stdout and "lag:" in table.stdout, table.stdout

    # -- a daemon SIGKILLed mid-crawl, another SIGTERMed: their sources go on ---------------------------
    for i in random.Random(1).sample(range(SOURCES), 20):
        publish(i)
        sites[i].delay_s = 0.3  # crawls that last, so the kill lands in one
    killed = wait_until(lambda: [s for s, h in cluster.holders().items() if h == "d0"], 60,
                        "d0 holding a source", poll_s=0.1)
    cluster.daemons["d0"].kill9()
    killed_at = time.monotonic()
    assert cluster.daemons["d1"].stop() == 0, cluster.daemons["d1"].tail()
    assert sorted(d[0] for d in cluster.sql("SELECT id FROM cluster_daemons")) == ["d0", "d2"], "d1 left"
    cluster.start("d3")  # joins a running cluster; nothing else restarts
    def handed_on(source: str) -> bool:
        # Its lease lapsed with d0 and another daemon holds it, or it ran elsewhere since. A source whose run
        # d0 finished and gave back between the look above and the kill (holder NULL) was not left behind:
        # it waits for its next due time, as it would have anyway.
        holder, last = cluster.sql(f"SELECT holder, last_holder FROM cluster_sources WHERE name = '{source}'")[0]
        return holder != "d0" or last not in ("", None, "d0")

    takeover = wait_until(lambda: all(map(handed_on, killed)) and time.monotonic() - killed_at, 30,
                          lambda: f"d0's sources {killed} taken over: holders {cluster.holders()}", poll_s=0.1)
    assert takeover <= 2 * LEASE_S, (f"took {takeover:.1f}s to take over after a {LEASE_S}s lease; "
                                     f"lease events since: {lease_events(cluster, ('d2', 'd3'))}")
    print(f"takeover of {len(killed)} source(s) {takeover:.1f}s after the SIGKILL (lease {LEASE_S}s)")
    cluster.daemons["d3"].wait_for(lambda ev: cluster.daemons["d3"].named("lease_taken"), 60, "d3 taking work")
    wait_until(delivered, 120, lambda: progress(cluster, expected(), indexed(), smtp_server, hook), poll_s=0.5)

    # -- the engine restarted mid-run: degraded, then on, without duplicates ---------------------------
    for i in range(0, SOURCES, 3):
        publish(i)
    d2 = cluster.daemons["d2"]
    cluster.pg.stop()
    try:
        wait_until(lambda: any(r.startswith("cluster engine unreachable") for r in d2.health()["reasons"]), 30,
                   lambda: f"d2 saying the engine is down: {d2.health()}", poll_s=0.2)
        assert d2.health()["status"] == "degraded" and d2.alive
        down = cluster.project.run("cluster", "status", MW_NODE="cli")
        assert down.returncode == 1 and "unreachable" in down.stderr, down.stderr
        # down for longer than two leases: when it is back every heartbeat is stale, and whichever daemon
        # gets through first must not take the other, still in its backoff, for dead
        wait_until(lambda: any(float(m) > 2 * LEASE_S for m in re.findall(r"unreachable for (\d+)s",
                                                                            " ".join(d2.health()["reasons"]))),
                   30, lambda: f"d2 down for two leases: {d2.health()}", poll_s=0.5)
    finally:
        cluster.pg.start()
    wait_until(lambda: d2.health()["status"] == "ok", 60, lambda: f"d2 ok again: {d2.health()}", poll_s=0.5)
    assert d2.named("cluster_engine_back")
    wait_until(delivered, 150, lambda: progress(cluster, expected(), indexed(), smtp_server, hook), poll_s=0.5)
    # the killed one is reaped, by a daemon that has been heartbeating for a backoff and a lease since the restart
    wait_until(lambda: any(d.named("cluster_daemon_reaped", dead="d0") for d in cluster.daemons.values()), 60,
               lambda: f"d0 reaped: {tails(cluster)}", poll_s=0.5)
    for node in ("d2", "d3"):
        assert cluster.daemons[node].stop() == 0
    assert cluster.sql("SELECT id FROM cluster_daemons") == [], "the clean stops left, the killed one was reaped"
    reaped = [e for d in cluster.daemons.values() for e in d.named("cluster_daemon_reaped")]
    assert [e["dead"] for e in reaped] == ["d0"], "d0's unmatched window re-matched, once"

    # -- nothing lost, nothing twice ---------------------------------------------------------------
    for node, d in cluster.daemons.items():
        broke = [e for e in problems(d.events) if not ENGINE_GONE.search(json.dumps(e))]
        assert not broke, (node, broke)
    want = expected()  # nothing is published from here on
    urls = indexed()
    assert not [u for u, n in collections.Counter(urls).items() if n > 1], "indexed twice"
    assert set(urls) == want
    kills = 1  # one crash window (accepted by the server, not yet marked sent) per SIGKILL: same Message-ID
    by_article = collections.defaultdict(list)
    for m in smtp_server.messages:
        (url,) = [u for u in want if u in m.part("plain")]
        by_article[url].append(m.message_id)
    assert set(by_article) == want
    assert all(len(set(ids)) == 1 for ids in by_article.values())
    assert sum(len(ids) - 1 for ids in by_article.values()) <= kills, "mailed twice"
    posted = collections.defaultdict(list)
    for r in hook.requests:
        (url,) = [u for u in want if u in r.text]
        posted[url].append(r.delivery)
    assert set(posted) == want and all(len(set(keys)) == 1 for keys in posted.values())
    assert sum(len(keys) - 1 for keys in posted.values()) <= kills, "posted twice"
    check_schedule(cluster)


def check_schedule(cluster: Cluster) -> None:
    """Each source's runs (the shared frontier's) never overlap, and start no sooner than its interval
    after the previous one started, except after a run a kill or a stop cut short (due again at once)."""
    runs = collections.defaultdict(list)
    for source, started, finished, reason in cluster.sql(
            "SELECT source, started_at, finished_at, reason FROM runs ORDER BY id"):
        runs[source].append((datetime.fromisoformat(started), datetime.fromisoformat(finished) if finished else None,
                             reason))
    assert len(runs) == SOURCES
    for source, spans in runs.items():
        assert len(spans) >= 2, f"{source} crawled once only: {spans}"
        for (start, end, reason), (nxt, _, _) in zip(spans, spans[1:]):
            if end is None or reason == "cancelled":
                continue  # cut by the SIGKILL, or by the SIGTERM's bounded wait: due again at once, as it was
            assert nxt >= end, f"{source}: two runs at once {spans}"
            # started_at is stamped as the crawl starts, a moment (longer under load) after the lease was
            # taken; the lease's take time is what the next due time counts from
            assert (nxt - start).total_seconds() >= EVERY_S - 3, f"{source} crawled before it was due: {spans}"


def lease_events(cluster: Cluster, nodes: tuple[str, ...]) -> str:
    """What the surviving daemons did with leases and the engine, to tell a slow takeover's cause."""
    kinds = {"lease_taken", "lease_lost", "cluster_engine_unreachable", "cluster_engine_back"}
    return "; ".join(f"{node}: " + ", ".join(f"{e.get('timestamp', '?')[11:23]} {e['event']} {e.get('source', '')}"
                                             for e in cluster.daemons[node].pump() if e.get("event") in kinds)[-2000:]
                     for node in nodes if node in cluster.daemons)


def tails(cluster: Cluster) -> str:
    return "; ".join(f"{node}: {d.tail(5)}" for node, d in cluster.daemons.items())


def progress(cluster: Cluster, want: set[str], urls: list[str], smtp_server, hook) -> str:
    return (f"{len(set(urls) & want)}/{len(want)} indexed, {len(smtp_server.messages)} mails, {len(hook.requests)} "
            f"posts, {cluster.pending()} pending; {tails(cluster)}")
