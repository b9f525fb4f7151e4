"""The tree evaluated in memory (alerting): one article's tokens, one compiled rule, or many rules at once."""

from __future__ import annotations

import bisect
from typing import Callable, Hashable, Iterable, Mapping

from indexer.article import Article
from indexer.query.folding import (
    DEFAULT_FIELDS, KEYWORD_QUERY_FIELDS, TEXT_QUERY_FIELDS, article_folded, article_keywords,
)
from indexer.query.parser import parse
from indexer.query.tree import And, FieldTerm, MatchAll, Node, Not, Or, Phrase, Prefix, Term

class ArticleTokens:
    """An article tokenised once: the token set per text field (positions and sorted tokens are
    built on first use: only phrase and prefix queries need them, and building them for every
    article was most of matching one), folded values per keyword field."""

    __slots__ = ("tokens", "sets", "keywords", "all_tokens", "_positions", "_sorted")

    def __init__(self, texts: Mapping[str, list[str]], keywords: Mapping[str, list[str]]) -> None:
        self.tokens: dict[str, list[str]] = {name: list(texts.get(name, ())) for name in TEXT_QUERY_FIELDS}
        self.sets: dict[str, frozenset[str]] = {name: frozenset(toks) for name, toks in self.tokens.items()}
        self.keywords: dict[str, list[str]] = {k: list(keywords.get(k, ())) for k in KEYWORD_QUERY_FIELDS}
        self.all_tokens: frozenset[str] = frozenset().union(*self.sets.values())
        self._positions: dict[str, dict[str, list[int]]] = {}
        self._sorted: dict[str, list[str]] = {}

    def positions(self, name: str) -> dict[str, list[int]]:
        """Token -> its positions in text field ``name``."""
        pos = self._positions.get(name)
        if pos is None:
            pos = self._positions[name] = {}
            for i, tok in enumerate(self.tokens[name]):
                lst = pos.get(tok)
                if lst is None:
                    pos[tok] = [i]
                else:
                    lst.append(i)
        return pos

    def sorted_tokens(self, name: str) -> list[str]:
        """The distinct tokens of text field ``name``, sorted (for prefix lookups)."""
        toks = self._sorted.get(name)
        if toks is None:
            toks = self._sorted[name] = sorted(self.sets[name])
        return toks

    @classmethod
    def from_article(cls, article: Article) -> "ArticleTokens":
        # the index's folded texts split where tokenize() cuts them (folding leaves no other separator)
        texts = {name: folded.split() for name, folded in zip(TEXT_QUERY_FIELDS, article_folded(article))}
        return cls(texts, article_keywords(article))


def _fields(fieldname: str | None) -> tuple[str, ...]:
    return (fieldname,) if fieldname else DEFAULT_FIELDS


def _has_prefix(sorted_tokens: list[str], prefix: str) -> bool:
    i = bisect.bisect_left(sorted_tokens, prefix)
    return i < len(sorted_tokens) and sorted_tokens[i].startswith(prefix)


def _phrase_in(pos: dict[str, list[int]], tokens: tuple[str, ...]) -> bool:
    lists = []
    for tok in tokens:
        p = pos.get(tok)
        if not p:
            return False
        lists.append(p)
    rest = [set(p) for p in lists[1:]]
    for start in lists[0]:
        if all((start + k + 1) in s for k, s in enumerate(rest)):
            return True
    return False


def _near_in(pos: dict[str, list[int]], tokens: tuple[str, ...], slop: int) -> bool:
    events: list[tuple[int, int]] = []
    for k, tok in enumerate(tokens):
        p = pos.get(tok)
        if not p:
            return False
        events.extend((x, k) for x in p)
    events.sort()
    need = len(tokens)
    counts = [0] * need
    have = 0
    lo = 0
    for hi, (x, k) in enumerate(events):
        if counts[k] == 0:
            have += 1
        counts[k] += 1
        while have == need:
            start = events[lo][0]
            if (x - start + 1) - need <= slop:
                return True
            kk = events[lo][1]
            counts[kk] -= 1
            if counts[kk] == 0:
                have -= 1
            lo += 1
    return False


Matcher = Callable[[ArticleTokens], bool]


def compile_matcher(node: Node) -> Matcher:
    """A closure evaluating the tree against :class:`ArticleTokens` (build the tokens once per article)."""
    if isinstance(node, MatchAll):
        return lambda at: True
    if isinstance(node, Term):
        fields, tok = _fields(node.field), node.token
        if len(fields) == 1:
            f = fields[0]
            return lambda at: tok in at.sets[f]
        return lambda at: tok in at.all_tokens
    if isinstance(node, Prefix):
        fields, pre = _fields(node.field), node.prefix
        return lambda at: any(_has_prefix(at.sorted_tokens(f), pre) for f in fields)
    if isinstance(node, Phrase):
        fields, toks, slop = _fields(node.field), node.tokens, node.slop
        if slop:
            return lambda at: any(_near_in(at.positions(f), toks, slop) for f in fields)
        return lambda at: any(_phrase_in(at.positions(f), toks) for f in fields)
    if isinstance(node, FieldTerm):
        f, v = node.field, node.value
        if node.prefix:
            return lambda at: any(x.startswith(v) for x in at.keywords[f])
        return lambda at: v in at.keywords[f]
    if isinstance(node, And):
        subs = [compile_matcher(c) for c in node.children]
        return lambda at: all(m(at) for m in subs)
    if isinstance(node, Or):
        subs = [compile_matcher(c) for c in node.children]
        return lambda at: any(m(at) for m in subs)
    if isinstance(node, Not):
        sub = compile_matcher(node.child)
        return lambda at: not sub(at)
    raise TypeError(f"not a query node: {node!r}")


def matches(node: Node | str, article: Article | ArticleTokens) -> bool:
    """Does ``article`` match? Same semantics as the ES and FTS5 translations."""
    if isinstance(node, str):
        node = parse(node)
    at = article if isinstance(article, ArticleTokens) else ArticleTokens.from_article(article)
    return compile_matcher(node)(at)


# Anchors: a necessary condition for a tree to match, used to skip most rules for an article.
# ("t", token) — the token occurs in some text field; ("p", prefix) — some text token has the prefix;
# ("k", field, value) / ("kp", field, prefix) — keyword value. None means "no anchor: always evaluate".

def _anchors(node: Node) -> frozenset[tuple] | None:
    if isinstance(node, Term):
        return frozenset({("t", node.token)})
    if isinstance(node, Phrase):
        return frozenset({("t", max(node.tokens, key=len))})
    if isinstance(node, Prefix):
        return frozenset({("p", node.prefix)})
    if isinstance(node, FieldTerm):
        return frozenset({("kp" if node.prefix else "k", node.field, node.value)})
    if isinstance(node, And):
        best: frozenset | None = None
        for c in node.children:
            a = _anchors(c)
            if a is not None and (best is None or _anchor_cost(a) < _anchor_cost(best)):
                best = a
        return best
    if isinstance(node, Or):
        out: set = set()
        for c in node.children:
            a = _anchors(c)
            if a is None:
                return None
            out |= a
        return frozenset(out)
    return None  # MatchAll, Not


def _anchor_cost(anchors: frozenset) -> float:
    cost = 0.0
    for a in anchors:
        if a[0] == "t":
            cost += 1.0 / (1 + len(a[1]))  # longer tokens are rarer
        else:
            cost += 1.0
    return cost


class MatcherSet:
    """Many trees (e.g. 10,000 alert rules) against one article at a time.

    Each tree is compiled once and filed under an anchor (a token / prefix / keyword value it cannot
    match without); for an article only trees whose anchor is present are evaluated.
    ``match(article)`` returns the keys of the matching trees, in insertion order.
    """

    def __init__(self, trees: Mapping[Hashable, Node] | Iterable[tuple[Hashable, Node]] = ()) -> None:
        self._matchers: dict[Hashable, Matcher] = {}
        self._order: dict[Hashable, int] = {}
        self._by_token: dict[str, list[Hashable]] = {}
        self._prefixes: list[tuple[str, Hashable]] = []
        self._by_kw: dict[tuple[str, str], list[Hashable]] = {}
        self._kw_prefixes: list[tuple[str, str, Hashable]] = []
        self._always: list[Hashable] = []
        items = trees.items() if isinstance(trees, Mapping) else trees
        for key, node in items:
            self.add(key, node)

    def __len__(self) -> int:
        return len(self._matchers)

    def add(self, key: Hashable, node: Node) -> None:
        if key in self._matchers:
            raise KeyError(f"duplicate key {key!r}")
        self._order[key] = len(self._order)
        self._matchers[key] = compile_matcher(node)
        anchors = _anchors(node)
        if anchors is None:
            self._always.append(key)
            return
        for a in anchors:
            if a[0] == "t":
                self._by_token.setdefault(a[1], []).append(key)
            elif a[0] == "p":
                self._prefixes.append((a[1], key))
            elif a[0] == "k":
                self._by_kw.setdefault((a[1], a[2]), []).append(key)
            else:
                self._kw_prefixes.append((a[1], a[2], key))
        self._prefixes.sort(key=lambda x: x[0])

    def candidates(self, at: ArticleTokens) -> set[Hashable]:
        cand: set[Hashable] = set(self._always)
        by_token = self._by_token
        for tok in by_token.keys() & at.all_tokens:  # a C-level intersection, not a loop over the article
            cand.update(by_token[tok])
        if self._prefixes:
            toks = sorted(at.all_tokens)
            for pre, key in self._prefixes:
                if key not in cand and _has_prefix(toks, pre):
                    cand.add(key)
        for f, values in at.keywords.items():
            for v in values:
                keys = self._by_kw.get((f, v))
                if keys:
                    cand.update(keys)
        for f, pre, key in self._kw_prefixes:
            if key not in cand and any(v.startswith(pre) for v in at.keywords[f]):
                cand.add(key)
        return cand

    def match(self, article: Article | ArticleTokens) -> list[Hashable]:
        at = article if isinstance(article, ArticleTokens) else ArticleTokens.from_article(article)
        hits = [k for k in self.candidates(at) if self._matchers[k](at)]
        hits.sort(key=self._order.__getitem__)
        return hits

