"""Highlighting: the one snippet maker, for search hits (``mediawatch search``), alert mails and the web app.

::

    terms = Terms.of(parse('Lukashenko AND jail*'))       # what a hit contains: the non-negated leaves
    highlight("Lukashenko met jailed rivals", terms)      # Snippet(text="*Lukashenko* met *jailed* rivals",
                                                          #   html="<mark>Lukashenko</mark> met <mark>jailed</mark> rivals",
                                                          #   matched=True)
    article_snippet(article, terms, max_words=60)         # a window in the first field holding a match

A word of the value is marked when one of its tokens (folded as everywhere, :func:`tokenize`) is a query
word or starts with a query prefix, or when it lies inside a consecutive occurrence of a query phrase
(``"political prisoners"`` marks that pair, not every ``prisoners``). A proximity phrase (``"a b"~3``)
marks its words wherever they occur. Negated terms are never marked. The HTML form is escaped; the only
markup in it is ``<mark>``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from operator import not_
from typing import Iterable, Sequence

from indexer.article import Article
from indexer.query.folding import fold_sources, tokenize
from indexer.query.tree import And, Node, Not, Or, Phrase, Prefix, Term

_WORD_SPLIT = re.compile(r"([\w\u0300-\u036f]+)")  # word runs (combining marks stay inside), kept by split
# controls, line separators and the noncharacters XML cannot hold either (a feed's text is this text too)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
SNIPPET_FIELDS = ("text", "description")


def clean_text(value: str) -> str:
    """Single-line text: controls and newlines collapsed to spaces."""
    # str.split() collapses every whitespace run in C, where the regexes walked every character;
    # a control character it leaves makes the result non-printable, and only then do they run.
    value = " ".join((value or "").split())
    return value if value.isprintable() else _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


def positive_leaves(node: Node, negated: bool = False) -> Iterable[Node]:
    """The leaves of a query that are not under a NOT: what a hit contains, so what to highlight."""
    if isinstance(node, Not):
        yield from positive_leaves(node.child, not negated)
    elif isinstance(node, (And, Or)):
        for c in node.children:
            yield from positive_leaves(c, negated)
    elif not negated:
        yield node


@dataclass(frozen=True)
class Terms:
    """The positive terms of a query, folded: words, prefixes (``pris*``) and phrases."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.prefixes or self.phrases)

    @classmethod
    def of(cls, node: Node | None) -> "Terms":
        """The terms to highlight for a query tree (None: nothing to mark)."""
        words: set[str] = set()
        prefixes: list[str] = []
        phrases: list[tuple[str, ...]] = []
        for leaf in positive_leaves(node) if node is not None else ():
            if isinstance(leaf, Term):
                words.add(leaf.token)
            elif isinstance(leaf, Prefix):
                prefixes.append(leaf.prefix)
            elif isinstance(leaf, Phrase) and leaf.slop:
                words.update(leaf.tokens)  # any order, any gap: the words themselves are what matched
            elif isinstance(leaf, Phrase):
                phrases.append(leaf.tokens)
        return cls(frozenset(words), tuple(dict.fromkeys(prefixes)), tuple(dict.fromkeys(phrases)))


@dataclass(frozen=True)
class Snippet:
    text: str  # plain, matched words as *word*
    html: str  # escaped, matched words in <mark>
    matched: bool


@lru_cache(maxsize=1 << 14)
def _word_tokens(word: str) -> tuple[str, ...]:
    # News text repeats its words, within an article and across the mails of a batch.
    return tuple(tokenize(word))


@dataclass(frozen=True)
class _Words:
    """A cleaned value cut into word runs: ``parts`` alternates gap, word, gap, …, word, gap."""

    value: str
    parts: list[str]
    tokens: list[tuple[str, ...]]  # per word (a word may fold to several tokens: ``e_mail``)
    vocabulary: frozenset[str]  # every token of the value


@lru_cache(maxsize=16)
def _words(value: str) -> _Words:
    # Cached: an article matching several rules is highlighted once per mail, with the same text,
    # and its mails go out one after the other.
    value = clean_text(value)
    parts = _WORD_SPLIT.split(value)
    tokens = list(map(_word_tokens, parts[1::2]))
    return _Words(value, parts, tokens, frozenset().union(*tokens))


def _phrase_marks(flat: Sequence[str], phrases: Iterable[tuple[str, ...]]) -> list[bool]:
    """Which tokens of ``flat`` are inside an occurrence of one of ``phrases``."""
    marked = [False] * len(flat)
    for phrase in phrases:
        n = len(phrase)
        if not n:
            continue
        for i in range(len(flat) - n + 1):
            if flat[i] == phrase[0] and tuple(flat[i : i + n]) == phrase:
                marked[i : i + n] = [True] * n
    return marked


def _mark_phrases(cut: _Words, phrases: list[tuple[str, ...]], marked: list[bool]) -> None:
    flat = [tok for toks in cut.tokens for tok in toks]
    owner = [i for i, toks in enumerate(cut.tokens) for _ in toks]
    for j, m in enumerate(_phrase_marks(flat, phrases)):
        if m:
            marked[owner[j]] = True


def _marked_words(cut: _Words, terms: Terms) -> list[bool]:
    """Per word: does it hold a matched token. All False, cheaply, when the value holds none."""
    n = len(cut.tokens)
    if not terms:
        return [False] * n
    hits = cut.vocabulary & terms.words
    if terms.prefixes:
        hits |= {tok for tok in cut.vocabulary if tok.startswith(terms.prefixes)}
    # map over a C method: a Python loop over every word of a body cost more than the mail around it
    marked = list(map(not_, map(hits.isdisjoint, cut.tokens))) if hits else [False] * n
    phrases = [p for p in terms.phrases if cut.vocabulary.issuperset(p)]  # only those that can occur
    if phrases:
        _mark_phrases(cut, phrases, marked)
    return marked


def _window(n: int, first: int | None, max_words: int | None, before: int) -> tuple[int, int]:
    """Words [lo, hi) to show: all, or ``max_words`` starting ``before`` words ahead of the first match."""
    if max_words is None or n <= max_words:
        return 0, n
    hi = min(n, max(0, (first or 0) - before) + max_words)
    return max(0, hi - max_words), hi


def _render(cut: _Words, marked: list[bool], lo: int, hi: int) -> tuple[str, str]:
    # parts[2i + 1] is word i; the window keeps the gaps between its words, and the value's
    # leading / trailing gap only when it reaches that end.
    n = len(cut.tokens)
    p0 = 0 if lo == 0 else 2 * lo + 1
    window = cut.parts[p0 : len(cut.parts) if hi == n else 2 * hi]
    plain = list(window)
    rich: list[str] = []
    run = 0  # html.escape works per character, so unmarked runs are escaped in one call
    for i in (i for i in range(lo, hi) if marked[i]):
        k = 2 * i + 1 - p0
        plain[k] = f"*{window[k]}*"
        rich.append(html.escape("".join(window[run:k])))
        rich.append(f"<mark>{html.escape(window[k])}</mark>")
        run = k + 1
    rich.append(html.escape("".join(window[run:])))
    head, tail = ("… " if lo > 0 else ""), (" …" if hi < n else "")
    return head + "".join(plain) + tail, head + "".join(rich) + tail


_EARLY_CHARS = 3072  # tried first: most matches are early, and a news text is a few thousand characters
_PREFIX_CHARS = 8192  # a window of a long value is looked for in prefixes of this many characters, x8 each time


def highlight(value: str, terms: Terms, *, max_words: int | None = None, before: int = 12) -> Snippet:
    """``value`` on one line with ``terms`` marked; with ``max_words``, a window of that many words that
    starts ``before`` words ahead of the first match (or at the start), ``…`` where it cuts."""
    value = value or ""
    if max_words is not None and len(value) > 2 * _EARLY_CHARS:
        cut = value.rfind(" ", 0, _EARLY_CHARS)
        snip = _highlight(value[:cut] if cut > 0 else value[:_EARLY_CHARS], terms, max_words, before, value)
        if snip is not None:
            return snip
    if max_words is not None and len(value) > _PREFIX_CHARS and max_words > before:
        snip = _from_first_match(value, terms, max_words, before)
        if snip is not None:
            return snip
    size = _PREFIX_CHARS if max_words is None or len(value) <= _PREFIX_CHARS else _first_guess(value, terms)
    while max_words is not None and len(value) > size:
        # A long text (a foreign script's words fold one by one) is cut into words only as far as the
        # window needs: a prefix gives the same window when its first match's window, plus the longest
        # phrase (an occurrence crossing the cut marks nothing before it), ends before its last word.
        cut = value.rfind(" ", 0, size)
        snip = _highlight(value[:cut] if cut > 0 else value[:size], terms, max_words, before, value)
        if snip is not None:
            return snip
        size *= 8
    return _highlight(value, terms, max_words, before)  # type: ignore[return-value]


_LEAD_CHARS = 1024  # cut into words before the first match: well over the ``before`` words of a window
_TAIL_CHARS = 4096  # and after it
_REFOLDED_MAX = 64  # words checked one by one before a match: past that, the prefixes are cheaper


@lru_cache(maxsize=256)
def _refolded(words: frozenset[str]) -> re.Pattern[str]:
    """The characters that may make ``str.lower`` miss one of ``words`` where folding finds it: combining
    marks, letters whose folding (not their lower case) holds a letter of the words, anything past the BMP."""
    sources = fold_sources()
    chars = set(sources.get("", ""))
    for letter in set("".join(words)):
        chars.update(sources.get(letter, ""))
    return re.compile("[" + "".join(map(re.escape, sorted(chars))) + "\U00010000-\U0010ffff]")


def _from_first_match(value: str, terms: Terms, max_words: int, before: int) -> Snippet | None:
    """A long value's window cut into words only around its first match, found by ``str.lower``: a word
    folds to a query word without holding it lower-cased only through a character of :func:`_refolded`,
    and each word before the match holding one is folded and checked. None when that does not settle it
    (prefixes or phrases in the query, no match far in, too many such words, a window reaching the cut)."""
    if terms.prefixes or terms.phrases or not terms.words:
        return None
    low = value.lower()
    if len(low) != len(value):  # (İ lower-cases to two characters: positions would shift)
        return None
    at = min((a for a in map(low.find, terms.words) if a >= 0), default=-1)
    if at < _PREFIX_CHARS:
        return None
    for n, m in enumerate(_refolded(terms.words).finditer(value, 0, at)):
        end = value.find(" ", m.start())
        chunk = value[value.rfind(" ", 0, m.start()) + 1:end if end >= 0 else len(value)]
        if n == _REFOLDED_MAX or any(not terms.words.isdisjoint(_word_tokens(w))
                                     for w in _WORD_SPLIT.split(chunk)[1::2]):
            return None
    end = value.rfind(" ", 0, at + _TAIL_CHARS)
    if end <= at:  # no space after the match (a script written without them): the prefixes
        return None
    cut = _words(value[value.rfind(" ", 0, at - _LEAD_CHARS) + 1:end])
    marked = _marked_words(cut, terms)
    first = marked.index(True) if True in marked else None
    if first is None or first <= before:  # the window must start past the cut: "… " and no gap before
        return None
    lo, hi = _window(len(cut.tokens), first, max_words, before)
    if hi + 1 >= len(cut.tokens):  # nor reach the last word, which the cut may have split
        return None
    text, rich = _render(cut, marked, lo, hi)
    return Snippet(text, rich, True)


def _first_guess(value: str, terms: Terms) -> int:
    """A prefix length likely to hold the first match's window: where a query word first occurs in the
    lower-cased text (as written, most words fold to themselves), plus room. Only a guess, made without
    folding the text: :func:`_highlight` checks it, and a miss falls back to growing prefixes."""
    low = value.lower()
    found = [a for a in (low.find(w) for w in (*terms.words, *terms.prefixes)) if a >= 0]
    return max(_PREFIX_CHARS, min(found) + min(found) // 16 + 4096) if found else _PREFIX_CHARS


def _highlight(value: str, terms: Terms, max_words: int | None, before: int,
               whole: str | None = None) -> Snippet | None:
    """As :func:`highlight`; with ``whole`` (``value`` is a prefix of it), None unless the prefix settles it."""
    cut = _words(value)
    if not cut.tokens:
        return Snippet(cut.value, html.escape(cut.value), False)
    marked = _marked_words(cut, terms)
    first = marked.index(True) if True in marked else None
    lo, hi = _window(len(cut.tokens), first, max_words, before)
    if whole is not None:
        margin = max((len(p) for p in terms.phrases), default=0) + 1
        if first is None or hi + margin >= len(cut.tokens):
            return None
    text, rich = _render(cut, marked, lo, hi)
    return Snippet(text, rich, first is not None)


def article_snippet(article: Article, terms: Terms, *, max_words: int = 60,
                    fields: Sequence[str] = SNIPPET_FIELDS) -> Snippet:
    """The window around the first match in the first of ``fields`` that holds one; else the start of
    the first non-empty field (``text`` then ``description`` unless told otherwise)."""
    fallback = None
    for name in fields:
        value = getattr(article, name, None)
        if not value:
            continue
        snip = highlight(value, terms, max_words=max_words)
        if snip.matched:
            return snip
        fallback = fallback or snip
    return fallback or Snippet("", "", False)
