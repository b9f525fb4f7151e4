"""Alert matching throughput with 10,000 rules, and instant-alert latency (indexed → SMTP accepted).

    python -m bench.alerting [--rules 10000] [--articles 2000] [--latency-articles 50] [--runs 3] [--json OUT]

Rules are generated from the vocabulary of the aeb-dev corpus (``../shared/eval/aeb-dev``: 91 real news
articles): single words, AND / OR / NOT combinations, phrases taken from the texts, prefixes, some with
source filters — terms drawn from the corpus' own words, weighted towards the mid-frequency ones users
actually alert on (names, places, topics: document frequency <= 5%), so a realistic share of rules fires. Articles are the real
article bodies (median ~700 words), recycled with shuffled paragraphs and fresh URLs.

Figures (medians over ``--runs``):

* matching: ``InProcessMatcher.match`` over batches of 100 articles → articles/s (target ≥ 200/s);
  the path taken on SQLite and on an Elasticsearch cluster without the percolator module.
* latency: an ``AlertEngine`` with all the rules plus one that every probe article matches, the local
  aiosmtpd server, the SQLite backend: each probe article is indexed (``indexed_at`` stamped by the
  backend), handed to ``on_indexed`` as the ingestor does, and the time until the SMTP server accepted
  the mail is measured (target ≤ 5 s median).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import AEB_DEV, emit, median, quiet_logs, result, target  # noqa: E402

SOURCES = ["dw", "bbc", "reuters", "apnews", "guardian", "wsj", "nyt", "lemonde"]
LANGUAGES = ["en", "en", "en", "de", "fr"]
STOP = set("""a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own said same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves one two new like
says year years people time way make made get got many much may might must us""".split())


def load_corpus(path: Path | None = None) -> list[dict[str, str]]:
    """[{"id", "url", "title", "text"}] of the aeb-dev ground truth (title = the body's first words)."""
    path = path or (AEB_DEV / "ground-truth.json")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for key, item in sorted(data.items()):
        body = (item.get("articleBody") or "").strip()
        if not body:
            continue
        words = body.split()
        out.append({"id": key, "url": item.get("url") or f"https://aeb.example/{key}",
                    "title": " ".join(words[:12]), "text": body})
    return out


def vocabulary(corpus: list[dict[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """(terms, bigrams): content words in at most ~5% of the corpus' documents (the specific names, places
    and topics alerts are written for), and word pairs occurring twice or more."""
    from indexer.query import tokenize

    df: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    for doc in corpus:
        toks = tokenize(doc["title"] + " " + doc["text"])
        df.update(set(toks))
        for a, b in zip(toks, toks[1:]):
            if a not in STOP and b not in STOP and len(a) > 3 and len(b) > 3 and a.isalpha() and b.isalpha():
                bigrams[(a, b)] += 1
    n = len(corpus)
    terms = sorted(t for t, c in df.items()
                   if 1 <= c <= max(2, int(0.05 * n)) and len(t) > 3 and t.isalpha() and t not in STOP)
    pairs = sorted(p for p, c in bigrams.items() if c >= 2)
    return terms, pairs


def generate_queries(n: int, terms: list[str], pairs: list[tuple[str, str]], seed: int = 42) -> list[str]:
    rnd = random.Random(seed)

    def w() -> str:
        return rnd.choice(terms)

    def phrase() -> str:
        a, b = rnd.choice(pairs) if pairs else (w(), w())
        return f'"{a} {b}"'

    shapes = [
        (10, lambda: w()),
        (30, lambda: f"{w()} AND {w()}"),
        (5, lambda: f"{w()} OR {w()} OR {w()}"),
        (15, lambda: f"{w()} AND NOT {w()}"),
        (10, lambda: phrase()),
        (15, lambda: f"({w()} OR {w()}) AND {w()} AND NOT {w()}"),
        (5, lambda: f"{phrase()} OR ({w()} AND {w()})"),
        (5, lambda: f"{w()[:6]}* AND {w()}"),
        (5, lambda: f'title:{w()} OR "{w()} {w()}"~5'),
    ]
    weights = [s[0] for s in shapes]
    makers = [s[1] for s in shapes]
    return [rnd.choices(makers, weights)[0]() for _ in range(n)]


def generate_rules(n: int, corpus: list[dict[str, str]] | None = None, seed: int = 42,
                   recipients: list[str] | None = None) -> list[Any]:
    from indexer.alerts.rules import Rule

    corpus = corpus if corpus is not None else load_corpus()
    terms, pairs = vocabulary(corpus)
    rnd = random.Random(seed + 1)
    rules = []
    for i, q in enumerate(generate_queries(n, terms, pairs, seed)):
        kw: dict[str, Any] = {}
        r = rnd.random()
        if r < 0.15:
            kw["sources"] = rnd.sample(SOURCES, 2)
        elif r < 0.25:
            kw["languages"] = ["en"]
        rules.append(Rule(name=f"rule-{i:05d}", query=q, recipients=recipients or [f"user{i % 97}@example.org"], **kw))
    return rules


def make_articles(n: int, corpus: list[dict[str, str]], seed: int = 7) -> list[Any]:
    from indexer.article import Article

    rnd = random.Random(seed)
    out = []
    for i in range(n):
        doc = corpus[i % len(corpus)]
        paras = [p for p in doc["text"].split("\n") if p.strip()]
        if i >= len(corpus):
            rnd.shuffle(paras)
        out.append(Article(url=f"{doc['url']}#v{i}", title=doc["title"], text="\n\n".join(paras),
                           source=SOURCES[i % len(SOURCES)], language=LANGUAGES[i % len(LANGUAGES)]))
    return out


def bench_matching(rules: list[Any], articles: list[Any], batch: int = 100) -> dict[str, Any]:
    from indexer.alerts.matching import ActiveRule, InProcessMatcher, parse_cached

    parse_cached.cache_clear()
    t = time.perf_counter()
    matcher = InProcessMatcher([ActiveRule(r, 0.0) for r in rules])
    build_s = time.perf_counter() - t
    matches = 0
    t = time.perf_counter()
    for i in range(0, len(articles), batch):
        matches += len(matcher.match(articles[i:i + batch], now=time.time()))
    wall = time.perf_counter() - t
    return {"articles": len(articles), "wall_s": round(wall, 3), "articles_per_s": round(len(articles) / wall, 1),
            "matches_per_article": round(matches / len(articles), 2), "build_s": round(build_s, 2)}


def bench_latency(rules: list[Any], corpus: list[dict[str, str]], n: int, tmp: Path) -> dict[str, Any]:
    from indexer.alerts.engine import AlertEngine
    from indexer.alerts.rules import Rule
    from indexer.backends.sqlite import SqliteBackend
    from indexer.config import MailConfig
    from tests.harness.smtp import SmtpServer

    probe = Rule(name="probe", query="mwprobe", recipients=["desk@example.org"])
    articles = make_articles(n, corpus, seed=99)
    for i, a in enumerate(articles):
        a.url = f"https://probe.example/{time.time_ns()}/{i}"
        a.canonical_url = a.url
        a.title = f"mwprobe {a.title}"
    server = SmtpServer()
    server.up()
    backend = SqliteBackend(tmp / "index.sqlite3")
    backend.init()
    try:
        cfg = MailConfig(from_addr="alerts@mediawatch.test", smtp=server.smtp_config(),
                         ledger_path=str(tmp / "alerts.sqlite3"), timezone="UTC")
        engine = AlertEngine(cfg, [*rules, probe], backend=backend)
        latencies, last_s, index_s, alert_s, per_article = [], [], [], [], []
        for a in articles:
            before = len(server.messages)
            t0 = time.perf_counter()
            backend.index([a])  # stamps indexed_at
            t1 = time.perf_counter()
            engine.on_indexed([a])
            t2 = time.perf_counter()
            got = server.wait_for(before + 1, timeout=30)[before:]  # on_indexed is synchronous: all are in
            probe_mail = [m for m in got if m.message["X-Mediawatch-Rule"] == "probe"]
            received = probe_mail[0].received_at if probe_mail else got[-1].received_at
            latencies.append(received - a.indexed_at.timestamp())
            last_s.append(max(m.received_at for m in got) - a.indexed_at.timestamp())
            per_article.append(len(got))
            index_s.append(t1 - t0)
            alert_s.append(t2 - t1)
        engine.close()
        return {"articles": n, "latency_median_s": round(statistics.median(latencies), 4),
                "latency_p95_s": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 4),
                "latency_max_s": round(max(latencies), 4),
                "last_mail_latency_median_s": round(statistics.median(last_s), 4),
                "last_mail_latency_p95_s": round(sorted(last_s)[int(0.95 * (len(last_s) - 1))], 4),
                "mails_per_article": round(statistics.mean(per_article), 1),
                "on_indexed_median_s": round(statistics.median(alert_s), 4),
                "index_median_s": round(statistics.median(index_s), 4), "mails": len(server.messages)}
    finally:
        backend.close()
        server.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--latency-articles", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    quiet_logs()

    corpus = load_corpus()
    t = time.perf_counter()
    rules = generate_rules(args.rules, corpus)
    load_s = time.perf_counter() - t
    articles = make_articles(args.articles, corpus)
    words = statistics.median(len(a.text.split()) for a in articles)

    match_runs = [bench_matching(rules, articles) for _ in range(args.runs)]
    lat_runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="mw-bench-alerting-") as tmp:
            lat_runs.append(bench_latency(rules, corpus, args.latency_articles, Path(tmp)))

    rows = [
        {"system": f"in-process matcher, {args.rules} rules", **{k: median(r[k] for r in match_runs)
                                                                 for k in match_runs[0]}, "runs": match_runs},
        {"system": f"instant alert latency (SQLite + aiosmtpd, {args.rules + 1} rules)",
         **{k: median(r[k] for r in lat_runs) for k in lat_runs[0]}, "runs": lat_runs},
    ]
    aps = rows[0]["articles_per_s"]
    lat = rows[1]["latency_median_s"]
    print(f"rules: {args.rules} (generated + validated in {load_s:.1f} s); articles: {args.articles}, "
          f"median {words:.0f} words")
    print(f"matching: {aps:.0f} articles/s (median of {args.runs}), "
          f"{rows[0]['matches_per_article']} matches/article, matcher build {rows[0]['build_s']} s")
    print(f"instant latency indexed→SMTP accepted: median {lat * 1000:.1f} ms, p95 "
          f"{rows[1]['latency_p95_s'] * 1000:.1f} ms over {args.latency_articles} articles; last of the "
          f"{rows[1]['mails_per_article']} mails per article: median "
          f"{rows[1]['last_mail_latency_median_s'] * 1000:.0f} ms, p95 {rows[1]['last_mail_latency_p95_s'] * 1000:.0f} ms")
    payload = result(
        "alerting", rows,
        params={"rules": args.rules, "articles": args.articles, "latency_articles": args.latency_articles,
                "runs": args.runs, "rules_load_s": round(load_s, 2), "median_words": words},
        targets=[target("matching articles/s with 10,000 rules", aps, ">=", 200),
                 target("instant latency median (s)", lat, "<=", 5)],
        notes=["Latency: the probe rule's mail (rules are processed in name order, 'probe' first); "
               "last_mail_latency_* is when the last of all mails that article triggered was accepted.",
               "Matching path: in-process presearcher (indexer.query.MatcherSet) + exact matcher; the path used "
               "on SQLite and on Elasticsearch without the percolator module (the test node)."],
    )
    emit(payload, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
