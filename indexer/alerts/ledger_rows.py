"""What the alert ledger stores and hands out: its rows as Python values, the Message-IDs derived
from their keys, and the backoff between a failed attempt and the next.

A Message-ID is a function of (rule, story_id), or of (rule, digest boundary), so the single crash
window (the server accepted, the ledger not yet updated) can only repeat a message with the *same*
Message-ID, which mail clients fold into one; and of the ledger's own random key (``Ledger.install``),
so another install with the same rule names, stories and sender domain never sends the same one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field

from indexer.article import Article


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


def alert_message_id(rule: str, story_id: str, domain: str, install: str) -> str:
    """Deterministic Message-ID of the instant mail for (rule, story) from the ledger ``install``."""
    return f"<mw.{_hash('alert', install, rule, story_id)}@{domain}>"


def digest_message_id(rule: str, digest_key: str, domain: str, install: str) -> str:
    return f"<mw-digest.{_hash('digest', install, rule, digest_key)}@{domain}>"


@dataclass
class AlertRow:
    rule: str
    story_id: str
    article_id: str
    mode: str
    schedule: str
    state: str
    digest_id: str | None
    message_id: str | None
    attempts: int
    last_error: str | None
    next_attempt_at: float
    matched_at: float
    indexed_at: float | None
    published_at: float | None
    sent_at: float | None
    query: str
    recipients: list[str]
    article: Article
    undelivered: list[str] | None = None  # whom the next attempt is for (None: every recipient)

    @classmethod
    def from_row(cls, row: sqlite3.Row, articles: dict[str, Article] | None = None) -> "AlertRow":
        """``articles``: a memo by stored JSON, so the rows of an article that matched several rules
        share one parsed copy (the mails only read it)."""
        data = dict(row)
        data["recipients"] = json.loads(data["recipients"])
        data["undelivered"] = _list(data.get("undelivered"))
        stored = data["article"]
        article = articles.get(stored) if articles is not None else None
        if article is None:
            article = Article.from_dict(json.loads(stored))
            if articles is not None:
                articles[stored] = article
        data["article"] = article
        return cls(**data)


@dataclass
class DigestRow:
    digest_id: str
    rule: str
    period_end: float
    state: str
    message_id: str
    attempts: int
    last_error: str | None
    next_attempt_at: float
    created_at: float
    sent_at: float | None
    recipients: list[str]
    undelivered: list[str] | None = None  # as AlertRow's

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "DigestRow":
        data = dict(row)
        data["recipients"] = json.loads(data["recipients"])
        data["undelivered"] = _list(data.get("undelivered"))
        return cls(**data)


def _list(stored: str | None) -> list[str] | None:
    return json.loads(stored) if stored is not None else None


def list_json(values: list[str] | None) -> str | None:
    """How a nullable list column is stored (``undelivered``)."""
    return json.dumps(values) if values is not None else None


@dataclass
class NewAlert:
    """What the engine asks the ledger to remember before anything is sent."""

    rule: str
    article: Article
    mode: str
    schedule: str
    query: str
    recipients: list[str]
    channels: list[str] = field(default_factory=list)  # channel ids of the rule's notify URLs


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """Seconds to wait after the ``attempts``-th failure: initial, 2×, 4×, … capped at maximum."""
    return min(maximum, initial * (2 ** max(0, attempts - 1)))
