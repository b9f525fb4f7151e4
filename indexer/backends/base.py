"""The backend interface both stores implement (Elasticsearch and the embedded SQLite/FTS5 index).

Semantics shared by both (the contract suite in tests/integration/test_backend_parity.py checks them):

* ``index(articles)`` stamps ``indexed_at`` (now, UTC) on every article it is given (the caller's objects
  are updated), gives each its story (:mod:`indexer.stories`: ``story_id``, and for a changed page
  ``version`` + 1 and ``modified_at``), upserts by ``article.id`` (sha1 of ``canonical_url``), and returns
  an :class:`IndexResult`: ids that landed, ids whose stored version already had the same title and text
  (nothing written), ids rejected for good with the reason (to quarantine), ids that failed transiently
  (to retry / spool). When the store is unreachable it raises :class:`BackendUnavailable` and nothing of
  the batch should be assumed written (a replay is harmless: upserts are idempotent).
* ``search(..., collapse=True)`` returns one hit per story (the best-ranked copy) with ``copies`` = how
  many matching articles the story has.
* Dates: ``effective_at`` = ``published_at`` or else ``indexed_at``; ``since`` (inclusive) / ``until``
  (exclusive) filter on it, ``sort="published_at"`` sorts on it newest first, ``delete_older_than`` uses it.
* ``sources`` / ``languages`` filters compare exact values.
* A hit's snippet comes from :func:`snippet_of` (``indexer.query.article_snippet``, the highlighter alert
  mails use too), in both forms: ``.html`` escaped with matched words in ``<mark>…</mark>`` (the web app),
  ``.text`` plain with them as ``*word*`` (a terminal).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Literal

from indexer.article import Article, FIELDS, utcnow
from indexer.query import Node, Snippet, Terms, article_snippet, parse
from indexer.stories import Known, Stories

Sort = Literal["published_at", "indexed_at", "relevance"]

INT32 = (-(2**31), 2**31 - 1)
SNIPPET_WORDS = 40  # about the 240 characters a search snippet had when it was cut by characters
SNIPPET_FIELDS = ("text", "description", "title")


class BackendError(RuntimeError):
    """A store error that retrying will not fix (bad request, bad config)."""


class BackendUnavailable(BackendError):
    """The store cannot be reached or is overloaded (connection error, timeout, 429, 5xx): retry later."""


@dataclass
class IndexResult:
    indexed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason): rejected, quarantine
    deferred: list[str] = field(default_factory=list)  # transient per-document failures: retry / spool
    unchanged: list[str] = field(default_factory=list)  # already stored with the same title and text

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return bool(self.indexed)


@dataclass
class Hit:
    article: Article
    score: float
    snippet: Snippet
    copies: int = 1  # with collapse: the matching articles of this hit's story


def snippet_of(terms: Terms, article: Article) -> Snippet:
    """A hit's snippet: the window around the first match in the text, else the description, else the title."""
    return article_snippet(article, terms, max_words=SNIPPET_WORDS, fields=SNIPPET_FIELDS)


def effective_at(article: Article) -> datetime | None:
    return article.published_at or article.indexed_at


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_node(query: str | Node | None) -> Node | None:
    if query is None:
        return None
    if isinstance(query, str):
        return parse(query) if query.strip() else None
    return query


def clean_str(value: str) -> str:
    """Lone surrogates (from broken decoders) would break JSON/UTF-8 for a whole batch: replace them."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")


def sanitize(article: Article) -> None:
    """Make an article serialisable in place (strings valid UTF-8)."""
    for name, kind in FIELDS.items():
        value = getattr(article, name, None)
        if isinstance(value, str):
            setattr(article, name, clean_str(value))
        elif isinstance(value, list):
            setattr(article, name, [clean_str(v) if isinstance(v, str) else v for v in value])


def stamp(articles: Iterable[Article], now: datetime | None = None) -> datetime:
    now = now or utcnow()
    for a in articles:
        a.indexed_at = now
        sanitize(a)
    return now


class Backend(abc.ABC):
    """One index of articles. Thread-safe for one writer plus readers."""

    name: str = "abstract"
    stories: Stories  # set by each backend's constructor

    @abc.abstractmethod
    def init(self) -> dict[str, Any]:
        """Create or upgrade the schema idempotently; return what was done."""

    def index(self, articles: list[Article]) -> IndexResult:
        """Stamp, give stories and versions, upsert (see module docstring); raises BackendUnavailable
        when unreachable."""
        if not articles:
            return IndexResult()
        stamp(articles)
        prepared = self.stories.prepare(articles, self)
        result = self._write(prepared.write) if prepared.write else IndexResult()
        result.unchanged = [a.id for a in prepared.unchanged]
        landed = set(result.indexed)
        self.stories.written(a for a in prepared.write if a.id in landed)
        return result

    @abc.abstractmethod
    def _write(self, articles: list[Article]) -> IndexResult:
        """Upsert stamped, prepared articles as they are."""

    @abc.abstractmethod
    def story_state(self, ids: list[str]) -> dict[str, Known]:
        """What the index holds of these ids (story, version, content hash, signature)."""

    @abc.abstractmethod
    def story_candidates(self, keys: list[str], since: datetime, until: datetime) -> list[Known]:
        """Articles with any of these band keys whose effective date is in [since, until]."""

    @abc.abstractmethod
    def story_articles(self, story_ids: list[str], limit: int = 50) -> dict[str, list[Article]]:
        """The stored copies of each story (up to ``limit`` each), earliest indexed first."""

    @abc.abstractmethod
    def search(
        self,
        query: str | Node | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
        limit: int = 20,
        sort: Sort = "published_at",
        collapse: bool = False,
    ) -> list[Hit]:
        """Matching articles, newest first (or best first with sort="relevance"); one per story with
        ``collapse``."""

    @abc.abstractmethod
    def count(
        self,
        query: str | Node | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
    ) -> int:
        """How many articles match."""

    def ids(
        self,
        query: str | Node | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
    ) -> set[str]:
        """All matching ids (no limit); for tests, parity checks and alert backfills."""
        n = self.count(query, since=since, until=until, sources=sources, languages=languages)
        if n == 0:
            return set()
        hits = self.search(query, since=since, until=until, sources=sources, languages=languages, limit=n)
        return {h.article.id for h in hits}

    def counts_per_day(
        self,
        query: str | Node | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
        hourly: bool = False,
    ) -> dict[tuple[str, str], int]:
        """Matching articles per UTC day (``YYYY-MM-DD`` of ``effective_at``; with ``hourly``, per hour:
        ``YYYY-MM-DDTHH``) and source; buckets and sources without a match are absent. The coverage chart
        of the web app draws it."""
        raise NotImplementedError(f"{type(self).__name__} has no counts_per_day")

    @abc.abstractmethod
    def source_names(self, limit: int = 500) -> list[str]:
        """The sources of the stored articles, sorted, at most ``limit``: a filter must offer those too that
        the config does not name (an import's hosts, a source since removed)."""

    @abc.abstractmethod
    def get(self, id: str) -> Article | None:
        """The stored article with this id."""

    @abc.abstractmethod
    def ids_indexed_since(self, t: datetime, *, limit: int = 10000) -> list[str]:
        """Ids with indexed_at >= t, oldest indexing first (alerting catch-up after a restart)."""

    @abc.abstractmethod
    def delete_older_than(self, days: int) -> int:
        """Delete articles whose effective date is older than ``days``; return how many."""

    @abc.abstractmethod
    def status(self) -> dict[str, Any]:
        """Counts, health, schema/template version, backend-specific details."""

    def refresh(self) -> None:
        """Make everything indexed so far visible to search (no-op where writes are immediate)."""

    def maintenance(self) -> dict[str, Any]:
        """Periodic housekeeping (rollover, optimise); returns what was done."""
        return {}

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def finite_limit(limit: int) -> int:
    if limit is None or limit <= 0 or (isinstance(limit, float) and math.isinf(limit)):
        raise ValueError("limit must be a positive integer")
    return int(limit)
