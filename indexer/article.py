"""The one Article record; the ES mapping and the SQLite schema are derived from FIELDS."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

# An article's language: a two-letter ISO 639-1 code (the extraction maps the three-letter ones to it).
LANGUAGE_CODE = re.compile(r"[a-z]{2}")


def language_codes(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """Language filters as typed ("EN", " de", "en,fr") as articles carry them, and those that are no
    code at all ("english", "deu"), which could never match."""
    codes = [code.strip().lower() for value in values for code in value.split(",") if code.strip()]
    return codes, [code for code in codes if not LANGUAGE_CODE.fullmatch(code)]

# Field kinds drive both backends: "text" is analysed full text, "keyword" exact values
# (lists allowed), "date" a tz-aware UTC datetime, "integer" a count, "stored" an opaque string
# kept but neither searched nor aggregated.
FIELDS: dict[str, str] = {
    "url": "keyword",
    "canonical_url": "keyword",
    "original_url": "keyword",
    "source": "keyword",
    "title": "text",
    "text": "text",
    "description": "text",
    "authors": "keyword",
    "published_at": "date",
    "published_at_source": "keyword",
    "modified_at": "date",
    "language": "keyword",
    "section": "keyword",
    "tags": "keyword",
    "image": "keyword",
    "word_count": "integer",
    "content_hash": "keyword",
    "story_id": "keyword",
    "story_keys": "keyword",
    "story_sig": "stored",
    "version": "integer",
    "fetched_at": "date",
    "indexed_at": "date",
}

LIST_FIELDS = frozenset({"authors", "tags", "story_keys"})
# What the index keeps to find an article's story (indexer.stories); reads of articles leave them out.
STORY_STATE_FIELDS = ("story_keys", "story_sig")
TEXT_FIELDS = tuple(name for name, kind in FIELDS.items() if kind == "text")
DATE_FIELDS = tuple(name for name, kind in FIELDS.items() if kind == "date")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def doc_id(canonical_url: str) -> str:
    """Stable document id, so re-indexing one URL overwrites instead of duplicating."""
    return hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()


def content_hash(title: str, text: str) -> str:
    return hashlib.sha1(f"{title}\n{text}".encode("utf-8")).hexdigest()


@dataclass
class Article:
    url: str
    title: str
    text: str
    canonical_url: str = ""
    # a rel=canonical to another site: the original this page republishes (its story, never its document)
    original_url: str = ""
    source: str = ""
    description: str = ""
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    published_at_source: str = ""
    modified_at: datetime | None = None
    language: str = ""
    section: str = ""
    tags: list[str] = field(default_factory=list)
    image: str = ""
    word_count: int = 0
    content_hash: str = ""
    story_id: str = ""
    story_keys: list[str] = field(default_factory=list)
    story_sig: str = ""
    version: int = 1
    fetched_at: datetime | None = None
    indexed_at: datetime | None = None
    # The text fields as the index tokenises them, folded where the cores are (the extraction workers:
    # indexer.query.folding.fold_article) with the very strings they were folded from, so a field set anew
    # since is folded again. Never stored or shown.
    folded: Any = field(default=None, repr=False, compare=False, metadata={"transient": True})

    def __post_init__(self) -> None:
        if not self.canonical_url:
            self.canonical_url = self.url
        if not self.word_count:
            self.word_count = len(self.text.split())
        if not self.content_hash:
            self.content_hash = content_hash(self.title, self.text)

    @property
    def id(self) -> str:
        return doc_id(self.canonical_url)

    @property
    def story(self) -> str:
        """The story this article tells: its ``story_id`` once indexed, else its own id (a story of one)."""
        return self.story_id or self.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: dates as ISO 8601 strings, each in the offset it carries: UTC once stored and
        read back (``from_dict``), the page's own offset fresh from extraction, so that its calendar day
        is the one the publisher wrote. Both backends compare and order the instants."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("transient"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Article":
        kwargs: dict[str, Any] = {}
        for name in FIELDS:
            if name not in data or data[name] is None:
                continue
            value = data[name]
            if name in DATE_FIELDS and isinstance(value, str):
                value = parse_iso(value)
            kwargs[name] = value
        return cls(**kwargs)


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_optional_iso(value: str | None) -> datetime | None:
    """A stored date that may be missing (None or empty): ``parse_iso`` of it, else None."""
    return parse_iso(value) if value else None
