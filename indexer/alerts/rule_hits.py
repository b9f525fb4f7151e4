"""What a rule matches in the index now, as ``mediawatch alerts test`` shows it, and the terms its
messages highlight. Neither needs an engine or a ledger: the CLI asks without opening either."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from indexer.alerts.matching import highlight_terms, search_rule
from indexer.alerts.rules import Rule
from indexer.article import Article
from indexer.query import Snippet, Terms, article_snippet


@dataclass
class Hit:
    """One article a rule matches now; shaped like a backend search hit."""

    article: Article
    snippet: Snippet
    score: float | None = None
    copies: int = 1  # by_story: the matching articles of this hit's story


@lru_cache(maxsize=4096)
def rule_terms(query: str) -> Terms:
    try:
        return highlight_terms(query)
    except Exception:  # a stored query that no longer parses must not block its delivery
        return Terms()


def rule_hits(rule_or_query: Rule | str, backend: Any, limit: int = 20, since: Any = None) -> list[Hit]:
    """What the rule (a Rule or a bare query) matches in the index now, newest first, with its filters
    (sources, languages) applied."""
    rule = rule_or_query if isinstance(rule_or_query, Rule) else Rule(name="adhoc", query=rule_or_query)
    terms = rule_terms(rule.query)
    hits = []
    for article, score in search_rule(backend, rule, limit=limit, since=since):
        hits.append(Hit(article=article, snippet=article_snippet(article, terms, max_words=30), score=score))
    return hits


def by_story(hits: list[Hit]) -> list[Hit]:
    """One hit per story, in the order of the stories' newest matches: the copy indexed first, which is
    the one an instant mail is for, with the number of matching copies."""
    stories: dict[str, list[Hit]] = {}
    for hit in hits:
        stories.setdefault(hit.article.story, []).append(hit)
    out = []
    for copies in stories.values():
        first = min(copies, key=lambda h: (h.article.indexed_at is None, h.article.indexed_at or 0, h.article.url))
        out.append(Hit(first.article, first.snippet, first.score, copies=len(copies)))
    return out
