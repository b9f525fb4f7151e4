"""The query tree: small frozen dataclasses every backend translates (never the user's string)."""

from __future__ import annotations

from dataclasses import dataclass

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

