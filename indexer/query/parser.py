"""Lucene/Kibana query-string syntax (read by luqum) → our tree, with errors that name a position."""

from __future__ import annotations

import re
import threading
from typing import Any

from indexer.query.folding import KEYWORD_QUERY_FIELDS, QUERY_FIELDS, fold_keyword, tokenize
from indexer.query.tree import And, FieldTerm, MatchAll, Node, Not, Or, Phrase, Prefix, Term

MAX_SLOP = 1000
# Parentheses nested deeper than this are refused before parsing: no one writes them, and the parser
# and every translation of the tree recurse once per level (a thousand levels overflow Python's stack).
MAX_DEPTH = 50


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


_PHRASE = re.compile(r'"(?:[^"\\]|\\.)*"')
_OPERATORS = ("AND", "OR", "NOT")


def operator_words(q: str) -> list[str]:
    """The operators written in lower case outside phrases (``cats or dogs``): Lucene reads them as words
    to find, which a user who meant the operator never sees. For a hint beside the results."""
    words = re.findall(r"(?<![\w:])[A-Za-z]+(?![\w:*~^])", _PHRASE.sub(" ", q or ""))
    return list(dict.fromkeys(w for w in words if w.upper() in _OPERATORS and w != w.upper()))


def parse(q: str) -> Node:
    """Parse a user query into our tree; raise :class:`QueryError` (message, position) when invalid."""
    if q is None or not q.strip():
        raise QueryError("empty query", 0, q)
    deep = _too_deep(q)
    if deep is not None:
        raise QueryError(f"parentheses nested more than {MAX_DEPTH} deep", deep, q)
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


def _too_deep(q: str) -> int | None:
    """The position of the first '(' nested deeper than MAX_DEPTH, outside phrases and escapes."""
    depth, quoted, escaped = 0, False, False
    for pos, char in enumerate(q):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                return pos
        elif not quoted and char == ")":
            depth = max(depth - 1, 0)
    return None


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

