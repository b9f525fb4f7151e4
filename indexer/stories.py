"""Stories: the copies of one story (a wire story on several sites, or lightly edited) share a ``story_id``.

An article's signature and band keys come from :mod:`indexer.signatures`. A shared band key only makes a
candidate; the verdict is the signatures' estimated similarity >= ``SIMILAR`` (thresholds tested on
dev-set pairs in tests/unit/test_stories.py).

The state is the index itself: both backends keep ``story_keys`` and ``story_sig`` on the article and
answer ``story_candidates`` (articles sharing a key whose effective date is within the window of the
new one's; at least the newest ``PER_KEY`` of each key, the only ones compared) and ``story_state``
(the stored version of the batch's ids). A restart, or another daemon on the same Elasticsearch, sees the
same stories. The only memory is :class:`Stories`' short list of
what this process wrote lately, which covers Elasticsearch's refresh interval (a copy indexed two
seconds ago is not searchable yet); SQLite reads its own writes and needs none.

A page whose ``original_url`` (a cross-site rel=canonical) names a stored article joins that article's
story whatever the text says; a new story's id derives from ``original_url`` when there is one, so the
original, crawled later, lands in the story its copies already started.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Protocol

import numpy as np
import structlog

from indexer.article import Article, doc_id, utcnow
from indexer.signatures import decode, sign, similarity

# Estimated Jaccard similarity of the 3-gram sets at or above which two articles are one story.
SIMILAR = 0.5
DEFAULT_WINDOW = timedelta(days=7)
RECENT_S = 60.0  # how long this process remembers its own writes (longer than any refresh interval)
# A band key shared by many articles in the window (a wire story run by hundreds of outlets, or a site's
# boilerplate) is compared with its newest PER_KEY holders only: copies of one story are alike, so the newest
# stand for the rest, and an article costs at most BANDS * PER_KEY comparisons however big its story grew.
PER_KEY = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
log = structlog.get_logger(__name__)


def new_story_id(article: Article) -> str:
    """A new story's id: from the original it credits, else its own URL (so a replay gives the same)."""
    return "s-" + doc_id(article.original_url or article.canonical_url)[:16]


@dataclass
class Known:
    """What a backend keeps of an article for stories and versions."""

    id: str
    story_id: str
    version: int = 1
    content_hash: str = ""
    sig: np.ndarray | None = None
    keys: frozenset[str] = frozenset()
    at: datetime | None = None  # effective date: published, else indexed
    published_at: datetime | None = None
    published_at_source: str = ""
    modified_at: datetime | None = None


class StoryStore(Protocol):
    """The two reads a backend answers for :class:`Stories`."""

    def story_state(self, ids: list[str]) -> dict[str, Known]: ...

    def story_candidates(self, keys: list[str], since: datetime, until: datetime) -> list[Known]: ...


def known_from(article: Article) -> Known:
    return Known(id=article.id, story_id=article.story_id, version=article.version,
                 content_hash=article.content_hash, sig=decode(article.story_sig), keys=frozenset(article.story_keys),
                 at=_at(article), published_at=article.published_at,
                 published_at_source=article.published_at_source, modified_at=article.modified_at)


@dataclass
class Prepared:
    write: list[Article]  # new or changed: to upsert
    unchanged: list[Article]  # the stored version already says the same: nothing to write


class Stories:
    """Gives each article of a batch its story and version before a backend writes it (thread-safe)."""

    def __init__(self, window: timedelta = DEFAULT_WINDOW, similar: float = SIMILAR,
                 recent_s: float = RECENT_S) -> None:
        """``recent_s`` 0: the index answers for what was just written (SQLite), nothing to remember."""
        self.window = window
        self.similar = similar
        self.recent_s = recent_s
        self._lock = threading.Lock()
        # What this process wrote lately: by id (the current state), by band key (newest last: a batch reads
        # only its own keys' newest writes, however many a minute of a fast crawl holds), and every write in
        # order, which expiry pops from the front. A key's writes are a list, not a deque: nearly every key
        # holds one write, 42 keys per article, and an empty deque alone is 760 bytes (96 MB for the keys
        # of 3,000 articles, every one of them walked by each full garbage collection).
        self._recent: dict[str, tuple[float, Known]] = {}
        self._recent_keys: dict[str, list[tuple[float, Known]]] = {}
        self._recent_log: deque[tuple[float, Known]] = deque()
        # what stories cost: articles prepared and the CPU seconds of the thread that prepared them
        # (signatures and lookups; CPU, not wall time, which other threads' turns on the GIL inflate)
        self.counters = {"articles": 0, "cpu_s": 0.0}

    def prepare(self, articles: list[Article], store: StoryStore) -> Prepared:
        """Sign the articles, fetch what the index knows, and decide story, version and what to write.

        Articles must be stamped (``indexed_at``). Mutates them: ``story_id``, ``story_sig``,
        ``story_keys``, and for a changed page ``version``, ``modified_at`` and the first publication date."""
        started = time.thread_time()
        try:
            return self._prepare(articles, store)
        finally:
            with self._lock:
                self.counters["articles"] += len(articles)
                self.counters["cpu_s"] += time.thread_time() - started

    def _prepare(self, articles: list[Article], store: StoryStore) -> Prepared:
        signed = []
        for a in articles:
            try:
                sign(a)
            except (AttributeError, TypeError) as err:  # malformed: the backend's validation rejects it
                log.warning("stories.unsigned", url=str(a.url)[:300], error=str(err)[:200])
                a.story_sig = ""
                continue
            signed.append(a)
        originals = {doc_id(a.original_url) for a in signed if a.original_url}
        stored = self._recall(list({a.id for a in signed} | originals), store)
        pool = self._candidates(signed, store)
        out = Prepared([a for a in articles if not a.story_sig], [])
        for a in signed:
            before = stored.get(a.id)
            if before is not None and before.content_hash == a.content_hash:
                a.story_id, a.version = before.story_id or new_story_id(a), before.version
                a.published_at = before.published_at or a.published_at
                a.modified_at = before.modified_at
                out.unchanged.append(a)
                continue
            if before is not None:
                _revise(a, before)
            else:
                a.story_id = self._story_of(a, stored, pool)
            mine = known_from(a)
            stored[a.id] = mine  # a second copy of this URL later in the batch is compared with this one
            _add(pool, mine)
            out.write.append(a)
        return out

    def written(self, articles: Iterable[Article]) -> None:
        """Remember what landed, for lookups the index cannot answer yet (refresh interval)."""
        if not self.recent_s:
            return
        now = time.monotonic()
        with self._lock:
            for a in articles:
                entry = (now, known_from(a))
                self._recent[a.id] = entry
                self._recent_log.append(entry)
                for key in entry[1].keys:
                    self._recent_keys.setdefault(key, []).append(entry)
            self._expire(now)

    def _expire(self, now: float) -> None:
        cutoff = now - self.recent_s
        while self._recent_log and self._recent_log[0][0] < cutoff:
            entry = self._recent_log.popleft()
            known = entry[1]
            if self._recent.get(known.id) is entry:
                del self._recent[known.id]
            for key in known.keys:
                held = self._recent_keys.get(key)
                if held is None:
                    continue
                gone = 0
                while gone < len(held) and held[gone][0] < cutoff:
                    gone += 1
                del held[:gone]
                if not held:
                    del self._recent_keys[key]

    def _recent_state(self, article_id: str, now: float) -> Known | None:
        entry = self._recent.get(article_id)
        return entry[1] if entry is not None and now - entry[0] <= self.recent_s else None

    def _recall(self, ids: list[str], store: StoryStore) -> dict[str, Known]:
        found = store.story_state(ids) if ids else {}
        if self.recent_s:
            now = time.monotonic()
            with self._lock:
                for i in ids:
                    known = self._recent_state(i, now)
                    if known is not None:
                        found[i] = known  # what this process wrote last is at least as new as the index's answer
        return found

    def _recent_candidates(self, keys: set[str]) -> list[Known]:
        """This process's newest ``PER_KEY`` recent writes of each key (current versions only)."""
        now = time.monotonic()
        out = []
        with self._lock:
            for key in keys:
                taken = 0
                for t, known in reversed(self._recent_keys.get(key, ())):
                    if taken == PER_KEY or now - t > self.recent_s:
                        break
                    if self._recent_state(known.id, now) is known:  # not rewritten since
                        out.append(known)
                        taken += 1
        return out

    def _candidates(self, articles: list[Article], store: StoryStore) -> dict[str, list[Known]]:
        """Articles sharing a band key with the batch (the index's, and this process's recent writes),
        by key: only the batch's keys, oldest first."""
        keys = {k for a in articles for k in a.story_keys}
        if not keys:
            return {}
        times = [_at(a) for a in articles]
        since, until = _shifted(min(times), -self.window), _shifted(max(times), self.window)
        found = {k.id: k for k in store.story_candidates(sorted(keys), since, until)}
        if self.recent_s:
            found.update((k.id, k) for k in self._recent_candidates(keys))
        pool: dict[str, list[Known]] = {}
        # oldest first: the batch's own articles are appended after them, and _story_of reads each key's tail
        for k in sorted(found.values(), key=lambda k: (k.at is not None, k.at or _EPOCH)):
            for key in keys.intersection(k.keys):
                pool.setdefault(key, []).append(k)
        return pool

    def _story_of(self, article: Article, stored: dict[str, Known], pool: dict[str, list[Known]]) -> str:
        if article.original_url:
            original = stored.get(doc_id(article.original_url))
            if original is not None and original.story_id:
                return original.story_id
        sig = decode(article.story_sig)
        at = _at(article)
        best, best_sim = "", self.similar
        seen: set[str] = {article.id}  # a property that hashes the URL: read once
        for key in article.story_keys:
            for other in pool.get(key, ())[-PER_KEY:]:
                if other.id in seen or not other.story_id or other.sig is None:
                    continue
                seen.add(other.id)
                if other.at is not None and abs(other.at - at) > self.window:
                    continue
                sim = similarity(sig, other.sig)
                if sim >= best_sim:
                    best, best_sim = other.story_id, sim
        return best or new_story_id(article)


def _add(pool: dict[str, list[Known]], known: Known) -> None:
    for key in known.keys:
        pool.setdefault(key, []).append(known)


def _shifted(at: datetime, by: timedelta) -> datetime:
    """``at + by``, held at the calendar's first or last day (an article dated 0001-01-01 by its page)."""
    try:
        return at + by
    except OverflowError:
        return (datetime.min if by < timedelta(0) else datetime.max).replace(tzinfo=at.tzinfo)


def _at(article: Article) -> datetime:
    """The article's effective date (published, else indexed), the clock for the story window."""
    for value in (article.published_at, article.indexed_at):
        if isinstance(value, datetime):
            return value
    return utcnow()


def _revise(article: Article, before: Known) -> None:
    """A changed page: same story, next version, first publication date kept, modified now (or as it says)."""
    article.story_id = before.story_id or new_story_id(article)
    article.version = before.version + 1
    article.published_at = before.published_at or article.published_at
    article.published_at_source = before.published_at_source or article.published_at_source
    if not article.modified_at or article.modified_at == before.modified_at:
        article.modified_at = article.fetched_at or article.indexed_at


__all__ = ["DEFAULT_WINDOW", "Known", "PER_KEY", "Prepared", "SIMILAR", "Stories", "StoryStore", "known_from",
           "new_story_id"]
