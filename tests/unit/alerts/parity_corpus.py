"""The corpus and rules the parity tests share (SQLite here, Elasticsearch in tests/integration)."""

from __future__ import annotations

from indexer.alerts.rules import Rule
from indexer.article import Article

HAND_WRITTEN = [
    "Lukashenko AND (prison OR jail*) AND NOT sport",
    '"prime minister"', '"prime minister"~3', "presid*", "title:game*", "NOT the", "*", "source:wsj",
    "language:de AND government", "google OR microsoft OR apple", "(police OR court) AND NOT football",
    'text:"united states" OR description:"united states"', "e-mail", "u.s.", "café OR cafe", "über",
    "author* AND NOT (trump OR biden)",
]


def corpus_articles() -> list[Article]:
    from bench.alerting import SOURCES, LANGUAGES, load_corpus

    out = []
    for i, doc in enumerate(load_corpus()):
        out.append(Article(url=doc["url"] + f"#p{i}", title=doc["title"], text=doc["text"],
                           description=doc["text"][:200], source=SOURCES[i % len(SOURCES)],
                           language=LANGUAGES[i % len(LANGUAGES)]))
    return out


def parity_rules(n_generated: int = 400) -> list[Rule]:
    from bench.alerting import generate_rules, load_corpus

    rules = [Rule(name=f"hand-{i}", query=q) for i, q in enumerate(HAND_WRITTEN)]
    rules.append(Rule(name="filtered-src", query="said OR says", sources=["dw", "bbc"]))
    rules.append(Rule(name="filtered-lang", query="said OR says", languages=["de", "fr"]))
    rules += generate_rules(n_generated, load_corpus(), seed=1234)
    return rules
