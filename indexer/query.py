"""The one query language: Lucene/Kibana syntax → our tree → ES DSL, SQLite FTS5, in-memory matcher.

Users write Lucene/Kibana query-string syntax. :func:`parse` reads it with luqum and turns it into a small
tree of frozen dataclasses (:class:`Term`, :class:`Phrase`, :class:`Prefix`, :class:`FieldTerm`,
:class:`And`, :class:`Or`, :class:`Not`, :class:`MatchAll`). Every backend translates that tree, never the
user's string: :func:`to_es` (Elasticsearch query DSL), :func:`to_fts5` (an FTS5 ``MATCH`` expression in
which every token is a quoted string we built), :func:`matches` / :func:`compile_matcher` /
:class:`MatcherSet` (in memory, for alerting).

Text model (identical everywhere, because all three evaluate OUR tokens)
------------------------------------------------------------------------
:func:`tokenize`: every character is lower-cased, NFKD-decomposed, combining marks (Unicode category M*)
dropped, and a few letters without a decomposition folded (ß→ss, æ→ae, œ→oe, ø→o, ł→l, đ/ð→d, þ→th, ı→i,
ħ→h, ŧ→t, ς→σ ...). Letters and digits (Python ``str.isalnum``) form tokens; everything else
(punctuation, ``_``, apostrophes, symbols, spaces) separates them: ``don't`` → ``don`` ``t``, ``U.S.`` →
``u`` ``s``, ``e-mail`` → ``e`` ``mail``. Each Han ideograph / Hiragana character is a token of its own.
Tokens longer than 100 characters are cut into 100-character pieces. So ``café`` = ``CAFE`` = ``Café``,
``Łukaszenka`` = ``lukaszenka``.

The indexers store these tokens (between spaces) next to the original text: Elasticsearch in ``<field>_folded``
sub-fields analysed by the built-in ``whitespace`` analyzer (no ``asciifolding`` / ``analysis-common``
needed), SQLite in FTS5 columns with the ``ascii`` tokenizer (which then splits on the spaces only).
Keyword fields are compared as whole values after :func:`fold_keyword` (same character folding, punctuation
kept, whitespace collapsed); in ES as ``<field>_folded`` keywords, in FTS5 as one hex-encoded token per value.

Syntax and semantics (all backends)
-----------------------------------
* ``word`` — the token in title, text or description (the default fields). A word that folds to several
  tokens (``e-mail``, ``U.S.``) means the phrase of those tokens. A word with no letters/digits is an error.
* ``"a phrase"`` — consecutive tokens in one field (phrases never span fields).
* ``"a b c"~N`` — proximity: the distinct tokens all occur in one field, in any order, with at most N other
  tokens between the first and the last (ES ``span_near`` unordered slop N, FTS5 ``NEAR(... , N+k-2)``).
  ``~0`` is the plain ordered phrase. Repeated tokens in a proximity phrase count once.
* ``pre*`` — token prefix (only a trailing ``*`` on a single word; ``?`` and inner ``*`` are errors).
* ``*`` and ``*:*`` — every document.
* ``field:value``, ``field:"phrase"``, ``field:pre*``, ``field:(a OR b)``. Text fields: title, text,
  description. Keyword fields (whole folded value, or value prefix with ``*``): source, language, authors,
  section, tags, url. Unknown fields are errors. Field names are case-insensitive.
* ``AND``, ``OR``, ``NOT``, ``+``, ``-``, parentheses; juxtaposition means AND (``a b`` = ``a AND b``);
  AND binds tighter than OR. ``NOT x`` is set difference: alone it is "all documents without x",
  ``a OR NOT b`` = a ∪ (all − b).
* Boosts (``^2``) are accepted and ignored (they only change scores, never hits).
* Not supported (→ :class:`QueryError` with the position): fuzzy ``~`` on words, regex ``/.../``,
  ranges ``[a TO b]`` / ``>x`` (use the since/until filters), ``?`` and inner wildcards, ``&&``/``||``/``!``.

Per backend: all of the above work on Elasticsearch (term / prefix / match_phrase (whitespace analyzer) /
span_near / bool), on SQLite FTS5 (quoted tokens, ``*`` prefix, ``NEAR``, column filters, a constant
``zzall`` token for pure negation) and in memory, with the same hits; the parity test keeps that true.
Scores differ per backend (BM25 in both, but different statistics); hits do not.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping

from indexer.article import Article

__all__ = [
    "QueryError", "Node", "MatchAll", "Term", "Phrase", "Prefix", "FieldTerm", "And", "Or", "Not",
    "parse", "to_es", "to_fts5", "matches", "compile_matcher", "ArticleTokens", "MatcherSet",
    "tokenize", "fold_keyword", "highlight", "TEXT_QUERY_FIELDS", "KEYWORD_QUERY_FIELDS",
    "DEFAULT_FIELDS", "es_field", "kw_token",
]

TEXT_QUERY_FIELDS: tuple[str, ...] = ("title", "text", "description")
DEFAULT_FIELDS: tuple[str, ...] = TEXT_QUERY_FIELDS
KEYWORD_QUERY_FIELDS: tuple[str, ...] = ("source", "language", "authors", "section", "tags", "url")
QUERY_FIELDS = TEXT_QUERY_FIELDS + KEYWORD_QUERY_FIELDS
MAX_TOKEN = 100
MAX_KEYWORD = 8191  # longer keyword values are not searchable (ES keyword ignore_above; Lucene term limit)
MAX_SLOP = 1000
ALL_TOKEN = "zzall"  # FTS5: present in every row's kw column, so pure negation has something to subtract from

# One prefix letter per keyword field for the FTS5 kw column tokens (letter + hex of the folded value).
KW_CODES: dict[str, str] = {"source": "s", "language": "l", "authors": "p", "section": "n", "tags": "g", "url": "u"}


# --------------------------------------------------------------------------------------------- folding

_EXTRA = {
    "ß": "ss", "ẞ": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
    "ı": "i", "ħ": "h", "ŧ": "t", "ŀ": "l", "ĸ": "k", "ŋ": "n", "ς": "σ", "ǥ": "g", "ƀ": "b", "ɨ": "i",
}


def _is_ideograph(c: str) -> bool:
    o = ord(c)
    return (0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3FFFF or 0x3040 <= o <= 0x309F)


def _fold_chars(c: str, keep_punct: bool) -> str:
    """Fold one character: lower, NFKD, drop marks, extra letters; non-alnum → ' ' unless keep_punct."""
    if unicodedata.category(c)[0] == "M":
        return ""
    if not c.isalnum():
        if keep_punct:
            return " " if c.isspace() else c
        return " "
    if _is_ideograph(c):
        return c if keep_punct else f" {c} "
    out = []
    for ch in unicodedata.normalize("NFKD", c.lower()):
        if unicodedata.category(ch)[0] == "M":
            continue
        ch = _EXTRA.get(ch, ch)
        if len(ch) == 1 and not ch.isalnum():
            out.append(ch if keep_punct and not ch.isspace() else " ")
        else:
            out.append(ch.lower())
    return "".join(out)


class _FoldTable(dict):
    """str.translate table filled lazily (translate calls __missing__ through __getitem__)."""

    def __init__(self, keep_punct: bool) -> None:
        super().__init__()
        self.keep_punct = keep_punct
        for o in range(128):  # prime ASCII so translate's fast path kicks in
            self[o] = _fold_chars(chr(o), keep_punct)

    def __missing__(self, o: int) -> str:
        value = _fold_chars(chr(o), self.keep_punct)
        self[o] = value
        return value


_TOKEN_TABLE = _FoldTable(keep_punct=False)
_KW_TABLE = _FoldTable(keep_punct=True)


# Fast path, same result as text.translate(_TOKEN_TABLE): fold the (few) non-ASCII runs with the table,
# then, if everything is ASCII now (typical for Latin-script news), finish with bytes.translate (C speed).
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_ASCII_BYTES = bytes(
    (ord(_fold_chars(chr(o), False)) if len(_fold_chars(chr(o), False)) == 1 else 32) for o in range(128)
) + b" " * 128


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_TOKEN_TABLE)


# Typographic punctuation is most of the non-ASCII in Latin-script news, one sub() callback per mark;
# blanking it first with str.replace (C speed) leaves most such texts pure ASCII for the bytes path.
_COMMON_BLANKS = tuple(
    c for c in "\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb\u201e\u2022\u00b7\u2010\u2011\u2032"
    if _fold_chars(c, False) == " "
)


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def fold(text: str) -> str:
    """The folded form of ``text``: only lower-case alnum characters and spaces."""
    if not text.isascii():
        for c in _COMMON_BLANKS:
            text = text.replace(c, " ")
    if not text.isascii():
        # Latin-1 text has few non-ASCII runs (accents) that fold to ASCII; other scripts are mostly
        # non-ASCII, where one translate beats a callback per word.
        partly = _NON_ASCII.sub(_fold_run, text) if _latin1(text) else text
        if not partly.isascii():
            return text.translate(_TOKEN_TABLE)
        text = partly
    return text.encode("ascii").translate(_ASCII_BYTES).decode("ascii")


def _cut(folded: str) -> list[str]:
    tokens = folded.split()
    if len(folded) > MAX_TOKEN and max(map(len, tokens), default=0) > MAX_TOKEN:
        tokens = [t[i:i + MAX_TOKEN] for t in tokens for i in range(0, len(t), MAX_TOKEN)]
    return tokens


def tokenize(text: str | None) -> list[str]:
    """Our tokens of ``text`` (see module docstring). Shared by indexing, querying and matching."""
    return _cut(fold(text)) if text else []


_LONG_RUN = b"x" * (MAX_TOKEN + 1)
_RUN_BYTES = bytes(32 if b == 32 else ord("x") for b in range(256))


def folded_text(text: str | None) -> str:
    """Our tokens between runs of spaces: what the ES ``*_folded`` fields (``whitespace`` analyzer) and the
    FTS5 columns (``ascii`` tokenizer) index; both split exactly where ``str.split`` does, since folding
    leaves no separator but the ASCII space. The spaces are left as :func:`fold` made them: splitting and
    re-joining cost as much as the folding itself. Only a text with a token longer than ``MAX_TOKEN`` (or
    non-ASCII tokens, too rare to find the long ones fast) is re-joined from :func:`tokenize`'s pieces."""
    if not text:
        return ""
    folded = fold(text)
    if folded.isascii() and _LONG_RUN not in folded.encode("ascii").translate(_RUN_BYTES):
        return folded
    return " ".join(_cut(folded))


def fold_keyword(value: str | None) -> str | None:
    """Whole-value folding for keyword fields; None when empty or too long to be searchable."""
    if not value:
        return None
    out = " ".join(value.translate(_KW_TABLE).split())
    if not out or len(out) > MAX_KEYWORD:
        return None
    return out


def kw_token(field_name: str, folded_value: str) -> str:
    """The FTS5 token standing for one keyword value (hex keeps prefixes: prefix(hex(v)) = hex(prefix(v)))."""
    return KW_CODES[field_name] + folded_value.encode("utf-8").hex()


def article_keywords(article: Article) -> dict[str, list[str]]:
    """Folded keyword values of an article, per query keyword field."""
    out: dict[str, list[str]] = {}
    for name in KEYWORD_QUERY_FIELDS:
        raw = getattr(article, name, None)
        values = raw if isinstance(raw, list) else [raw]
        folded = [f for f in (fold_keyword(v) for v in values if isinstance(v, str)) if f]
        out[name] = list(dict.fromkeys(folded))
    return out


# --------------------------------------------------------------------------------------------- tree

class Node:
    """Base of the query tree (all nodes are frozen, hashable dataclasses)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class MatchAll(Node):
    pass


@dataclass(frozen=True, slots=True)
class Term(Node):
    """One folded token in ``field`` (None: title, text or description)."""

    token: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Phrase(Node):
    """Consecutive tokens (slop 0), or unordered proximity within ``slop`` intervening tokens."""

    tokens: tuple[str, ...]
    field: str | None = None
    slop: int = 0


@dataclass(frozen=True, slots=True)
class Prefix(Node):
    """A token starting with ``prefix``."""

    prefix: str
    field: str | None = None


Wildcard = Prefix  # the only wildcard we support is the trailing one


@dataclass(frozen=True, slots=True)
class FieldTerm(Node):
    """A keyword field whose folded value equals ``value`` (or starts with it when ``prefix``)."""

    field: str
    value: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node


# --------------------------------------------------------------------------------------------- parsing

class QueryError(ValueError):
    """An invalid query; ``position`` is the 0-based character offset in the query string."""

    def __init__(self, message: str, position: int, query: str | None = None) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position
        self.query = query

    def __str__(self) -> str:
        return f"{self.message} (at position {self.position})"

    def pretty(self) -> str:
        """Message plus the query with a caret under the offending character."""
        if self.query is None:
            return str(self)
        return f"{self}\n  {self.query}\n  {' ' * self.position}^"


_luqum_lock = threading.Lock()  # luqum's ply parser keeps state: one parse at a time
_UNEXPECTED = re.compile(r"unexpected\s+'(.*)' at position (\d+)", re.S)
_ILLEGAL = re.compile(r"Illegal character '(.*)' at position (\d+)", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)


def parse(q: str) -> Node:
    """Parse a user query into our tree; raise :class:`QueryError` (message, position) when invalid."""
    if q is None or not q.strip():
        raise QueryError("empty query", 0, q)
    from luqum.exceptions import IllegalCharacterError, ParseError
    from luqum.parser import parser

    try:
        with _luqum_lock:
            tree = parser.parse(q)
    except IllegalCharacterError as err:
        m = _ILLEGAL.search(str(err))
        pos = int(m.group(2)) if m else 0
        bad = m.group(1) if m else ""
        if bad.startswith('"'):
            raise QueryError("unterminated quoted phrase: missing closing \"", pos, q) from None
        raise QueryError(f"illegal character {bad[:1]!r}", pos, q) from None
    except ParseError as err:
        text = str(err)
        m = _UNEXPECTED.search(text)
        if m:
            token, pos = m.group(1), int(m.group(2))
            if token in ("AND", "OR", "NOT"):
                msg = f"unexpected {token}: an operator needs a term on each side"
            elif token == ")":
                msg = "unexpected ')': no matching '('"
            else:
                msg = f"unexpected {token!r}"
            raise QueryError(msg, pos, q) from None
        if "end" in text:
            raise QueryError("unexpected end of query: a term or a closing parenthesis is missing", len(q), q) from None
        raise QueryError(f"invalid query: {text}", 0, q) from None
    except (RecursionError, ValueError) as err:  # pragma: no cover - defensive
        raise QueryError(f"invalid query: {err}", 0, q) from None
    return _simplify(_Converter(q).convert(tree, None))


class _Converter:
    def __init__(self, q: str) -> None:
        self.q = q

    def error(self, msg: str, item: Any, offset: int = 0) -> QueryError:
        pos = getattr(item, "pos", None)
        return QueryError(msg, (pos or 0) + offset, self.q)

    def convert(self, item: Any, fieldname: str | None) -> Node:
        from luqum import tree as t

        if isinstance(item, t.SearchField):
            name = item.name
            if name == "*":
                if isinstance(item.expr, t.Word) and item.expr.value == "*":
                    return MatchAll()
                raise self.error("field '*' is only allowed as '*:*'", item)
            lname = name.lower()
            if lname not in QUERY_FIELDS:
                raise self.error(
                    f"unknown field {name!r}; searchable fields: {', '.join(QUERY_FIELDS)}", item)
            if fieldname is not None and fieldname != lname:
                raise self.error(f"field {name!r} inside field {fieldname!r}", item)
            return self.convert(item.expr, lname)
        if isinstance(item, (t.Group, t.FieldGroup)):
            return self.convert(item.expr, fieldname)
        if isinstance(item, t.Boost):
            return self.convert(item.expr, fieldname)
        if isinstance(item, (t.AndOperation, t.UnknownOperation)):
            return And(tuple(self.convert(c, fieldname) for c in item.children))
        if isinstance(item, t.OrOperation):
            return Or(tuple(self.convert(c, fieldname) for c in item.children))
        if isinstance(item, (t.Not, t.Prohibit)):
            return Not(self.convert(item.a, fieldname))
        if isinstance(item, t.Plus):
            return self.convert(item.a, fieldname)
        if isinstance(item, t.Proximity):
            return self.phrase(item.term, fieldname, item.degree, item)
        if isinstance(item, t.Phrase):
            return self.phrase(item, fieldname, 0, item)
        if isinstance(item, t.Fuzzy):
            raise self.error("fuzzy search (word~) is not supported; did you mean a \"phrase\"~N?", item)
        if isinstance(item, t.Regex):
            raise self.error("regular expressions (/.../) are not supported", item)
        if isinstance(item, (t.Range, t.From, t.To)):
            raise self.error("range queries are not supported; use the since/until filters", item)
        if isinstance(item, t.Word):
            return self.word(item, fieldname)
        raise self.error(f"unsupported syntax: {item}", item)

    def word(self, item: Any, fieldname: str | None) -> Node:
        raw: str = item.value
        if raw == "*":
            return MatchAll()
        if raw in ("&&", "||"):
            raise self.error(f"{raw!r} is not supported: use {'AND' if raw == '&&' else 'OR'}", item)
        if raw.startswith("!"):
            raise self.error("'!' is not supported: use NOT", item)
        # find unescaped wildcards
        is_prefix = False
        chars: list[str] = []
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == "\\" and i + 1 < len(raw):
                chars.append(raw[i + 1])
                i += 2
                continue
            if c in "*?":
                if c == "*" and i == len(raw) - 1 and chars:
                    is_prefix = True
                else:
                    raise self.error("only a trailing * wildcard on a word is supported", item, i)
            else:
                chars.append(c)
            i += 1
        value = "".join(chars)
        if fieldname in KEYWORD_QUERY_FIELDS:
            folded = fold_keyword(value)
            if not folded:
                raise self.error(f"empty value for field {fieldname!r}", item)
            return FieldTerm(fieldname, folded, is_prefix)
        tokens = tokenize(value)
        if not tokens:
            raise self.error(f"{raw!r} contains no letters or digits to search for", item)
        if is_prefix:
            if len(tokens) > 1:
                raise self.error("a * wildcard must end a single word (no punctuation inside)", item)
            return Prefix(tokens[0], fieldname)
        if len(tokens) == 1:
            return Term(tokens[0], fieldname)
        return Phrase(tuple(tokens), fieldname)

    def phrase(self, item: Any, fieldname: str | None, degree: Any, outer: Any) -> Node:
        from luqum import tree as t

        if not isinstance(item, t.Phrase):
            raise self.error("proximity (~N) needs a \"quoted phrase\"", outer)
        inner = item.value[1:-1] if len(item.value) >= 2 else ""
        inner = _ESCAPE.sub(r"\1", inner)
        slop = int(degree) if degree is not None else 0
        if slop < 0 or slop > MAX_SLOP:
            raise self.error(f"proximity must be between 0 and {MAX_SLOP}", outer)
        if fieldname in KEYWORD_QUERY_FIELDS:
            if slop:
                raise self.error(f"proximity is not supported on keyword field {fieldname!r}", outer)
            folded = fold_keyword(inner)
            if not folded:
                raise self.error(f"empty value for field {fieldname!r}", item)
            return FieldTerm(fieldname, folded, False)
        tokens = tokenize(inner)
        if not tokens:
            raise self.error("the phrase contains no letters or digits to search for", item)
        if slop:
            tokens = list(dict.fromkeys(tokens))
        if len(tokens) == 1:
            return Term(tokens[0], fieldname)
        return Phrase(tuple(tokens), fieldname, slop)


def _simplify(node: Node) -> Node:
    if isinstance(node, (And, Or)):
        kind = type(node)
        flat: list[Node] = []
        for child in node.children:
            child = _simplify(child)
            if isinstance(child, kind):
                flat.extend(child.children)
            else:
                flat.append(child)
        flat = list(dict.fromkeys(flat))
        if kind is And and len(flat) > 1:
            flat = [c for c in flat if not isinstance(c, MatchAll)] or [MatchAll()]
        if kind is Or and any(isinstance(c, MatchAll) for c in flat):
            return MatchAll()
        return flat[0] if len(flat) == 1 else kind(tuple(flat))
    if isinstance(node, Not):
        child = _simplify(node.child)
        if isinstance(child, Not):
            return child.child
        return Not(child)
    return node


# --------------------------------------------------------------------------------------------- Elasticsearch

def es_field(name: str) -> str:
    """The ES field our queries run on (client-side folded copy)."""
    return f"{name}_folded"


def _es_fields(fieldname: str | None) -> tuple[str, ...]:
    return tuple(es_field(f) for f in ((fieldname,) if fieldname else DEFAULT_FIELDS))


def _es_any(clauses: list[dict]) -> dict:
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def to_es(node: Node) -> dict:
    """Elasticsearch query DSL for the tree (runs on the ``*_folded`` fields)."""
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Term):
        return _es_any([{"term": {f: node.token}} for f in _es_fields(node.field)])
    if isinstance(node, Prefix):
        return _es_any([{"prefix": {f: {"value": node.prefix}}} for f in _es_fields(node.field)])
    if isinstance(node, Phrase):
        if node.slop:
            return _es_any([
                {"span_near": {"clauses": [{"span_term": {f: tok}} for tok in node.tokens],
                               "slop": node.slop, "in_order": False}}
                for f in _es_fields(node.field)
            ])
        return _es_any([
            {"match_phrase": {f: {"query": " ".join(node.tokens), "analyzer": "whitespace"}}}
            for f in _es_fields(node.field)
        ])
    if isinstance(node, FieldTerm):
        kind = "prefix" if node.prefix else "term"
        return {kind: {es_field(node.field): {"value": node.value}}}
    if isinstance(node, And):
        must = [to_es(c) for c in node.children if not isinstance(c, Not)]
        must_not = [to_es(c.child) for c in node.children if isinstance(c, Not)]
        body: dict[str, Any] = {}
        if must:
            body["must"] = must
        if must_not:
            body["must_not"] = must_not
        return {"bool": body}
    if isinstance(node, Or):
        return {"bool": {"should": [to_es(c) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [to_es(node.child)]}}
    raise TypeError(f"not a query node: {node!r}")


# --------------------------------------------------------------------------------------------- FTS5

FTS_TEXT_COLUMNS = TEXT_QUERY_FIELDS
FTS_KW_COLUMN = "kw"


def _fq(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _fcols(fieldname: str | None) -> str:
    cols = (fieldname,) if fieldname else FTS_TEXT_COLUMNS
    return "{" + " ".join(cols) + "}"


_FTS_ALL = f"{FTS_KW_COLUMN} : {_fq(ALL_TOKEN)}"


def to_fts5(node: Node) -> str:
    """A safe FTS5 MATCH expression for the tree: only quoted tokens we produced, fully parenthesised."""
    if isinstance(node, MatchAll):
        return _FTS_ALL
    if isinstance(node, Term):
        return f"({_fcols(node.field)} : {_fq(node.token)})"
    if isinstance(node, Prefix):
        return f"({_fcols(node.field)} : {_fq(node.prefix)} *)"
    if isinstance(node, Phrase):
        if node.slop:
            near = max(0, node.slop + len(node.tokens) - 2)
            return f"({_fcols(node.field)} : NEAR({' '.join(_fq(t) for t in node.tokens)}, {near}))"
        return f"({_fcols(node.field)} : {_fq(' '.join(node.tokens))})"
    if isinstance(node, FieldTerm):
        return f"({FTS_KW_COLUMN} : {_fq(kw_token(node.field, node.value))}{' *' if node.prefix else ''})"
    if isinstance(node, And):
        pos = [to_fts5(c) for c in node.children if not isinstance(c, Not)]
        neg = [to_fts5(c.child) for c in node.children if isinstance(c, Not)]
        left = "(" + " AND ".join(pos) + ")" if pos else _FTS_ALL
        if not neg:
            return left
        return f"({left} NOT ({' OR '.join(neg)}))"
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(c) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"({_FTS_ALL} NOT {to_fts5(node.child)})"
    raise TypeError(f"not a query node: {node!r}")


# --------------------------------------------------------------------------------------------- in memory

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
        texts = {name: tokenize(getattr(article, name, "")) for name in TEXT_QUERY_FIELDS}
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


# --------------------------------------------------------------------------------------------- snippets

_WORD_RUN = re.compile(r"(?:\w|[\u0300-\u036f])+")


def positive_leaves(node: Node, negated: bool = False) -> Iterable[Node]:
    """The leaves of a query that are not under a NOT: what a hit contains, so what to highlight."""
    if isinstance(node, Not):
        yield from positive_leaves(node.child, not negated)
    elif isinstance(node, (And, Or)):
        for c in node.children:
            yield from positive_leaves(c, negated)
    elif not negated:
        yield node


def _html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def highlight(node: Node | None, article: Article, *, max_chars: int = 240, mark: tuple[str, str] = ("<mark>", "</mark>")) -> str:
    """An HTML-escaped snippet of the article text (or description, or title) around the first matched
    words, each matched word wrapped in ``<mark>…</mark>``. Same function for every backend."""
    terms: set[str] = set()
    prefixes: list[str] = []
    fields_hit: set[str] = set()
    for leaf in (positive_leaves(node) if node is not None else ()):
        if isinstance(leaf, Term):
            terms.add(leaf.token)
        elif isinstance(leaf, Phrase):
            terms.update(leaf.tokens)
        elif isinstance(leaf, Prefix):
            prefixes.append(leaf.prefix)
        else:
            continue
        fields_hit.update(_fields(leaf.field))

    def hit(run: str) -> bool:
        toks = tokenize(run)
        return any(t in terms or any(t.startswith(p) for p in prefixes) for t in toks)

    candidates = [f for f in ("text", "description", "title") if getattr(article, f, "")]
    source, spans = "", []
    for f in candidates:
        body = getattr(article, f)
        if f in fields_hit and (terms or prefixes):
            spans = [(m.start(), m.end()) for m in _WORD_RUN.finditer(body) if hit(m.group())]
        if spans or not source:
            source = body
            if spans:
                break
    if not source:
        return ""
    if not spans:
        cut = source[:max_chars]
        if len(source) > max_chars:
            cut = cut.rsplit(" ", 1)[0] + " …"
        return _html_escape(" ".join(cut.split()))
    first = spans[0][0]
    start = max(0, first - max_chars // 4)
    if start:
        sp = source.rfind(" ", 0, start + 1)
        start = sp + 1 if sp >= 0 and first - sp < max_chars // 2 else start
    end = min(len(source), start + max_chars)
    if end < len(source):
        sp = source.rfind(" ", start, end)
        end = sp if sp > spans[0][1] else end
    out: list[str] = ["… " if start else ""]
    cursor = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(_html_escape(source[cursor:s]))
        out.append(mark[0] + _html_escape(source[s:e]) + mark[1])
        cursor = e
    out.append(_html_escape(source[cursor:end]))
    if end < len(source):
        out.append(" …")
    return re.sub(r"\s+", " ", "".join(out)).strip()
