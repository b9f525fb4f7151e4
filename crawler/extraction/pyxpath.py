"""trafilatura's XPath expressions evaluated as Python over lxml's element iterator.

Why: libxml2 answers a predicate such as ``[@class='post' or contains(@id, 'nav') or
re:test(@class, '...')]`` by building a node-set and a string copy for every attribute
reference, element by element, and calls back into Python for every ``re:test``. On aeb-dev
trafilatura's expressions took ~3.5 ms of a ~12.5 ms page. The same tests written as a Python
function of the element (``e.get`` and precompiled regexes), run over ``iterdescendants``,
which filters tags in C, take about a third of that.

``compile_path`` understands the shapes trafilatura's lists use and raises ``Unsupported``
for anything else, which then stays an XPath (``fastxpath.install`` decides):

    path      := part ('|' part)*
    part      := step | '(' step ')' '[1]'
    step      := ('.//' | '//') ('*' | NAME) ('[' predicate ']')* ('[1]')?
    predicate := or-and-not over: self::NAME, @a, @a='s', NAME='s' (child elements),
                 contains|starts-with(STRING, 's'), re:test(STRING, 'regex'[, 'i'])
    STRING    := @a | @a|@b (the first present in document order) | translate(@a, 's', 's')

A union of parts that both find something falls back to libxml2, which orders the merged
answer by document position. tests/unit/extraction/test_pyxpath.py checks every compiled
expression against libxml2 on the trees trafilatura hands it while extracting real pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

__all__ = ["CompiledPath", "Unsupported", "compile_path"]


class Unsupported(ValueError):
    """The expression uses XPath this module does not translate."""


_TOKEN = re.compile(r"""\s*(?:
    (?P<literal>'[^']*'|"[^"]*")
  | (?P<number>\d+)
  | (?P<op>\.//|//|::|[()\[\]|,=@*])
  | (?P<name>[A-Za-z_][\w.-]*(?::[A-Za-z_][\w-]*)?)
)""", re.VERBOSE)


def _tokens(path: str) -> list[tuple[str, str]]:
    out, pos, path = [], 0, path.strip()
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"unexpected text at {pos}: {path[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        value = m[kind]
        out.append((kind, value[1:-1] if kind == "literal" else value))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over the tokens. Predicates come out as Python expression text over
    the element ``e`` and locals holding its attributes (``variable``); regexes and translate
    tables go to ``names``, which the generated functions see as globals."""

    def __init__(self, path: str) -> None:
        self.tokens = _tokens(path)
        self.i = 0
        self.names: dict[str, Any] = {}
        self.current = _Step(False, None)  # the step whose predicates are being parsed

    # -- token helpers
    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v = self.peek()
        if (value is not None and v != value) or (kind is not None and k != kind):
            raise Unsupported(f"expected {value or kind}, found {v or k!r}")
        self.i += 1
        return v

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] != "literal"

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    # -- paths
    def path(self) -> list[_Step]:
        parts = [self.part()]
        while self.at("|"):
            self.take("|")
            parts.append(self.part())
        if self.peek()[0] != "end":
            raise Unsupported(f"trailing {self.peek()[1]!r}")
        return parts

    def part(self) -> _Step:
        if self.at("("):
            self.take("(")
            step = self.step()
            self.take(")")
            self.first_only()
            step.first_overall = True
            return step
        return self.step()

    def first_only(self) -> None:
        self.take("[")
        if self.take(kind="number") != "1":
            raise Unsupported("only the position [1] is supported")
        self.take("]")

    def step(self) -> _Step:
        axis = self.take()
        if axis not in (".//", "//"):
            raise Unsupported(f"axis {axis!r}")
        test = self.take("*") if self.at("*") else self.take(kind="name")
        step = self.current = _Step(axis == "//", None if test == "*" else (test,))
        while self.at("["):
            if self.peek(1)[0] == "number":
                self.first_only()
                step.first_per_parent = True
                if self.at("["):
                    raise Unsupported("a predicate after a position")
                break
            self.take("[")
            step.add(self.or_expr())
            self.take("]")
        return step

    # -- predicates
    def or_expr(self) -> _Expr:
        return self.joined("or", self.and_expr)

    def and_expr(self) -> _Expr:
        return self.joined("and", self.primary)

    def joined(self, operator: str, operand: Callable[[], _Expr]) -> _Expr:
        terms = [operand()]
        while self.at(operator):
            self.take(operator)
            terms.append(operand())
        if len(terms) == 1:
            return terms[0]
        # "self::a or self::b" is still just a tag test
        all_tags = operator == "or" and all(t.tags for t in terms)
        return _Expr("(" + f" {operator} ".join(t.text for t in terms) + ")",
                     tuple(x for t in terms for x in t.tags) if all_tags else None)

    def primary(self) -> _Expr:
        kind, value = self.peek()
        if value == "(" and kind == "op":
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return inner
        if kind == "name" and value == "not" and self.peek(1)[1] == "(":
            self.take()
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return _Expr(f"(not {inner.text})")
        if kind == "name" and value == "self" and self.peek(1)[1] == "::":
            self.take()
            self.take("::")
            tag = self.take(kind="name")
            return _Expr(f"(e.tag == {tag!r})", (tag,))
        if kind == "name" and self.peek(1)[1] == "(":
            return self.function()
        if value == "@":
            variables = [self.variable(name) for name in self.attributes()]
            if self.at("="):
                self.take("=")
                literal = self.take(kind="literal")
                return _Expr("(" + " or ".join(f"{v} == {literal!r}" for v in variables) + ")")
            return _Expr("(" + " or ".join(f"{v} is not None" for v in variables) + ")")
        if kind == "name" and self.peek(1)[1] == "=":
            # false unless the element has such a child; where the tree holds any, libxml2 answers
            self.current.child_tags.add(self.take())
            self.take("=")
            self.take(kind="literal")
            return _Expr("False")
        raise Unsupported(f"predicate term {value!r}")

    def attributes(self) -> tuple[str, ...]:
        """The names in ``@a`` or ``@a|@b``."""
        names = []
        while True:
            self.take("@")
            names.append(self.take(kind="name"))
            if not (self.at("|") and self.peek(1)[1] == "@"):
                return tuple(names)
            self.take("|")

    def variable(self, attribute: str) -> str:
        """The local the step's function reads the attribute into (None when absent)."""
        attrs = self.current.attrs
        return attrs.setdefault(attribute, f"v{len(attrs)}")

    def string(self) -> str:
        """Python text for an argument's XPath string value (never None)."""
        if self.peek() == ("name", "translate"):
            self.take()
            self.take("(")
            inner = self.string()
            self.take(",")
            source = self.take(kind="literal")
            self.take(",")
            target = self.take(kind="literal")
            self.take(")")
            table: dict[int, str | None] = {}
            for i, char in enumerate(source):  # a repeated character keeps its first mapping
                table.setdefault(ord(char), target[i] if i < len(target) else None)
            return f"{inner}.translate({self.constant(table)})"
        names = self.attributes()
        if len(names) == 1:
            return f"({self.variable(names[0])} or '')"
        if len(names) == 2:  # the one present, or with both the first in document order
            a, b = map(self.variable, names)
            return f"(({a} if {b} is None else {b} if {a} is None else _first_value(e, {names!r})) or '')"
        return f"_first_value(e, {names!r})"

    def function(self) -> _Expr:
        name = self.take(kind="name")
        self.take("(")
        subject = self.string()
        self.take(",")
        literal = self.take(kind="literal")
        flags = ""
        if name == "re:test" and self.at(","):
            self.take(",")
            flags = self.take(kind="literal")
        self.take(")")
        if name == "contains":
            return _Expr(f"({literal!r} in {subject})")
        if name == "starts-with":
            return _Expr(f"{subject}.startswith({literal!r})")
        if name == "re:test":
            if set(flags) - {"i"}:
                raise Unsupported(f"regex flags {flags!r}")
            # lxml's EXSLT test: re.search, case-folded under 'i'
            regex = re.compile(literal, re.IGNORECASE if "i" in flags else 0)
            return _Expr(f"({self.constant(regex.search)}({subject}) is not None)")
        raise Unsupported(f"function {name}()")


class _Expr:
    __slots__ = ("text", "tags")

    def __init__(self, text: str, tags: tuple[str, ...] | None = None) -> None:
        self.text = text  # Python, over the element ``e`` and the step's attribute locals
        self.tags = tags  # set when the test is just "the tag is one of these"


class _Step:
    def __init__(self, from_root: bool, tags: tuple[str, ...] | None) -> None:
        self.from_root = from_root
        self.tags = tags
        self.tests: list[str] = []
        self.attrs: dict[str, str] = {}  # attribute -> variable the tests read it from
        self.child_tags: set[str] = set()
        self.first_per_parent = False  # step[...][1]: each parent's first matching child
        self.first_overall = False  # (step)[1]: the first match in document order

    def add(self, expr: _Expr) -> None:
        # a leading "self::a or self::b" becomes lxml's C-level tag filter
        if not self.tests and expr.tags and self.tags is None:
            self.tags = expr.tags
            return
        self.tests.append(expr.text)


def _first_value(e: etree._Element, names: tuple[str, ...]) -> str:
    """The string value of ``@a|@b``: the first of them in document order, which for the
    attributes of one element is their order in the tag."""
    for key in e.keys():
        if key in names:
            return e.get(key) or ""
    return ""


def _matcher(step: _Step, names: dict[str, Any]) -> Callable[[Any], bool] | None:
    """The step's tests as one generated function of the element: each attribute is read once."""
    if not step.tests:
        return None

    def build(fast_path: bool) -> Callable[[Any], bool]:
        lines = ["def match(e):"]
        if fast_path:
            lines.append("    if not e.keys(): return False")
        lines.append("    g = e.get")
        lines += [f"    {var} = g({attr!r})" for attr, var in step.attrs.items()]
        lines.append("    return " + " and ".join(step.tests))
        scope = dict(names, _first_value=_first_value)
        exec(compile("\n".join(lines) + "\n", "<pyxpath>", "exec"), scope)  # text built from the path
        return scope["match"]

    match = build(fast_path=False)
    # Most elements carry no attribute. Where the tests read nothing but attributes, one such
    # element answers for all of them: when that answer is False, they are skipped unread.
    reads_only_attributes = "e.tag" not in " ".join(step.tests) and not step.child_tags
    if reads_only_attributes and not match(etree.Element("x")):
        return build(fast_path=True)
    return match


class _CompiledStep:
    def __init__(self, step: _Step, names: dict[str, Any]) -> None:
        self.from_root = step.from_root
        self.tags = step.tags or (etree.Element,)  # Element: elements only, as "*" selects
        self.match = _matcher(step, names)
        self.child_tags = tuple(step.child_tags)
        self.first_per_parent = step.first_per_parent
        self.first_overall = step.first_overall

    def candidates(self, context: etree._Element) -> Iterator[etree._Element]:
        if self.from_root:
            return context.getroottree().getroot().iter(*self.tags)
        return context.iterdescendants(*self.tags)

    def __call__(self, context: etree._Element) -> list[etree._Element] | None:
        """The selected elements, or None where only libxml2 can answer."""
        if self.child_tags:
            scope = context.getroottree().getroot() if self.from_root else context
            if next(scope.iter(*self.child_tags), None) is not None:
                return None
        found = self.candidates(context)
        if self.match is not None:
            found = filter(self.match, found)
        if self.first_overall:  # with first_per_parent too: the first match is its parent's first
            return self._first(found)
        if self.first_per_parent:
            parents: set[Any] = set()
            out = []
            for e in found:
                parent = e.getparent()
                if parent not in parents:
                    parents.add(parent)
                    out.append(e)
            return out
        return list(found)

    @staticmethod
    def _first(found: Iterator[etree._Element]) -> list[etree._Element]:
        for e in found:
            return [e]
        return []


class CompiledPath:
    """Callable like an ``lxml.etree.XPath`` on an element; ``path`` and ``xpath`` are the
    expression libxml2 would run, used where parts of a union both match."""

    def __init__(self, xpath: etree.XPath) -> None:
        self.xpath = xpath
        self.path = xpath.path
        parser = _Parser(xpath.path)
        self.steps = [_CompiledStep(step, parser.names) for step in parser.path()]

    def __call__(self, context: etree._Element) -> list[etree._Element]:
        found = [step(context) for step in self.steps]
        if None in found:
            return self.xpath(context)
        found = [hits for hits in found if hits]
        if len(found) > 1:
            return self.xpath(context)  # libxml2 merges them in document order
        return found[0] if found else []

    def __repr__(self) -> str:
        return f"CompiledPath({' '.join(self.path.split())[:60]!r}...)"


def compile_path(xpath: etree.XPath) -> CompiledPath:
    """``xpath`` as Python; raises ``Unsupported`` for XPath outside the shapes above."""
    return CompiledPath(xpath)
