"""In-process matching: query, filters, the rule's start, presearcher = brute force."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from indexer.alerts.matching import ActiveRule, InProcessMatcher, highlight_terms, rule_es_query
from indexer.alerts.rules import Rule
from indexer.article import Article
from indexer.query import matches, parse

T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc).timestamp()


def art(n: int, title: str, text: str = "", source: str = "dw", language: str = "en", at: float = T0) -> Article:
    return Article(url=f"https://n.example/{n}", title=title, text=text, source=source, language=language,
                   indexed_at=datetime.fromtimestamp(at, timezone.utc))


def active(name: str, query: str, since: float = 0.0, **kw) -> ActiveRule:
    return ActiveRule(Rule(name=name, query=query, **kw), since)


def names(result) -> list[tuple[str, str]]:
    return sorted((m.rule.name, m.article.url.rsplit("/", 1)[1]) for m in result)


def test_query_filters_and_start():
    m = InProcessMatcher([
        active("belarus", "Lukashenko AND (prison OR jail*) AND NOT sport"),
        active("dw-only", "Minsk", sources=["dw"]),
        active("german", "Minsk", languages=["de"]),
        active("late", "Minsk", since=T0 + 10),
    ])
    batch = [
        art(1, "Lukashenko visits jailed rivals", "Talks in a KGB prison in Minsk."),
        art(2, "Lukashenko at the hockey", "A sport event in Minsk, prison jokes", source="bbc"),
        art(3, "Minsk protests", "Protesters in Minsk", language="de"),
        art(4, "Minsk again", at=T0 + 20),
    ]
    assert names(m.match(batch, now=T0 + 30)) == [
        ("belarus", "1"), ("dw-only", "1"), ("dw-only", "3"), ("dw-only", "4"), ("german", "3"), ("late", "4"),
    ]


def test_article_without_indexed_at_counts_as_now():
    m = InProcessMatcher([active("r", "Minsk", since=T0)])
    a = Article(url="https://n.example/x", title="Minsk", text="")
    assert len(m.match([a], now=T0 - 1)) == 0 and len(m.match([a], now=T0 + 1)) == 1


def test_presearcher_agrees_with_brute_force():
    rnd = random.Random(7)
    vocab = ["minsk", "lukashenko", "prison", "jail", "sport", "election", "protest", "moscow", "kyiv", "war",
             "talks", "rivals", "police", "court", "vote"]
    def q() -> str:
        kind = rnd.randrange(6)
        a, b, c = rnd.sample(vocab, 3)
        return [f"{a}", f"{a} AND {b}", f"{a} OR {b}", f"{a} AND NOT {b}", f'"{a} {b}" OR {c}*'[:-1] + "*",
                f"({a} OR {b}) AND NOT {c}"][kind]
    rules = [active(f"r{i}", q()) for i in range(300)]
    batch = [art(i, " ".join(rnd.sample(vocab, 3)), " ".join(rnd.choices(vocab, k=12))) for i in range(60)]
    got = names(InProcessMatcher(rules).match(batch, now=T0))
    want = sorted((r.rule.name, a.url.rsplit("/", 1)[1]) for r in rules for a in batch
                  if matches(parse(r.rule.query), a))
    assert got == want and len(want) > 100


def test_update_replaces_rules():
    m = InProcessMatcher([active("a", "minsk")])
    m.update([active("b", "minsk")])
    assert names(m.match([art(1, "Minsk")], now=T0)) == [("b", "1")]


def test_highlight_terms_skip_negated():
    t = highlight_terms('Lukashenko AND (prison OR jail*) AND NOT sport AND "political prisoners" AND "a b"~3')
    assert t.words == {"lukashenko", "prison", "a", "b"} and t.prefixes == ("jail",)
    assert t.phrases == (("political", "prisoners"),)


def test_rule_es_query_carries_filters_and_start():
    q = rule_es_query(active("r", "minsk", since=T0, sources=["dw"], languages=["en"]))
    filters = q["bool"]["filter"]
    assert {"terms": {"source": ["dw"]}} in filters and {"terms": {"language": ["en"]}} in filters
    assert filters[-1]["range"]["indexed_at"]["gte"].startswith("2024-05-01T12:00:00")
