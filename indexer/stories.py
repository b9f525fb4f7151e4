"""Stories: the copies of one story (a wire story on several sites, or lightly edited) share a ``story_id``.

An article's signature is a MinHash (128 permutations whose constants derive from their names, so
every process and every version computes the same values) of the word 3-grams of its title and text. Cut into ``BANDS`` bands
of ``ROWS`` values it gives ``BANDS`` band keys. Two texts whose 3-gram sets have Jaccard similarity s
share a key with probability 1 - (1 - s^ROWS)^BANDS: 0.996 at s = 0.5, 0.94 at 0.4, 0.29 at 0.2. A
shared key only makes a candidate; the verdict is the signatures' estimated similarity >= ``SIMILAR``
(thresholds tested on dev-set pairs in tests/unit/test_stories.py).

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

import base64
import hashlib
import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Protocol

import numpy as np
import structlog

from indexer.article import Article, content_hash, doc_id, utcnow

NUM_PERM = 128
BANDS, ROWS = 42, 3  # 126 of the 128 values
SHINGLE_WORDS = 3
# Estimated Jaccard similarity of the 3-gram sets at or above which two articles are one story.
SIMILAR = 0.5
DEFAULT_WINDOW = timedelta(days=7)
RECENT_S = 60.0  # how long this process remembers its own writes (longer than any refresh interval)
# A band key shared by many articles in the window (a wire story run by hundreds of outlets, or a site's
# boilerplate) is compared with its newest PER_KEY holders only: copies of one story are alike, so the newest
# stand for the rest, and an article costs at most BANDS * PER_KEY comparisons however big its story grew.
PER_KEY = 8
_WORD_CODES_MAX = 200_000  # word -> CRC-32 kept across articles (a vocabulary, not the texts)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
log = structlog.get_logger(__name__)


def _constants(label: str, n: int) -> np.ndarray:
    """n 32-bit constants from a hash of their name: the same in every process and every version."""
    raw = b"".join(hashlib.blake2b(f"{label}:{i}".encode(), digest_size=4).digest() for i in range(n))
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


# All arithmetic is on uint32 arrays, which wrap: mod 2^32, as the hash definitions want.
# The permutations: h -> A * h + B with odd A, applied to well-mixed 32-bit gram hashes.
_A, _B = _constants("minhash-a", NUM_PERM) | np.uint32(1), _constants("minhash-b", NUM_PERM)
_K = _constants("gram", 4) | np.uint32(1)  # to combine the hashes of a gram's words (or characters)


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, vectorised."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _grams(text: str) -> np.ndarray:
    """32-bit hashes of the text's word 3-grams (case-folded), or of its character 4-grams for scripts
    written without spaces; no string is built per gram."""
    text = text.casefold()
    if len(_CJK.findall(text[:2000])) > 200:
        units = np.frombuffer("".join(_WORD.findall(text)).encode("utf-32-le"), dtype="<u4").astype(np.uint32)
        width = 4
    else:
        words = _WORD.findall(text)
        units = np.fromiter(map(_word_codes(words).__getitem__, words), dtype=np.uint32, count=len(words))
        width = SHINGLE_WORDS
    if units.size == 0:
        return units
    width = min(width, units.size)
    n = units.size - width + 1
    h = np.zeros(n, dtype=np.uint32)
    for j in range(width):
        h = h * _K[j] + units[j:j + n]
    return _fmix(h)  # repeated grams stay: they cannot change a minimum


_codes: dict[str, int] = {}  # bounded by _WORD_CODES_MAX; other threads read it unlocked


def _word_codes(words: list[str]) -> dict[str, int]:
    """A word -> CRC-32 map holding these words: the words of news recur from article to article, so most
    are hashed once per process. A full map is replaced by one of this article's words (a new generation
    of the vocabulary), never searched whole: an article's words are looked up, not the map's."""
    global _codes
    codes = _codes
    distinct = set(words)
    fresh = {w: zlib.crc32(w.encode("utf-8")) for w in distinct.difference(codes)}
    if len(codes) + len(fresh) <= _WORD_CODES_MAX:
        codes.update(fresh)
        return codes
    fresh.update((w, codes[w]) for w in distinct if w not in fresh)
    _codes = fresh  # rebinding, not clearing: a thread reading the old map keeps a whole one
    return fresh


def signature(title: str, text: str) -> np.ndarray:
    """The MinHash of the article's title and text: per permutation, the least permuted gram hash
    (uint32; all ones for an empty text)."""
    grams = _grams(f"{title}\n{text}")
    if grams.size == 0:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    # one permutations-by-grams array, added to in place: a second one of that size (hundreds of
    # KiB) would be a fresh allocation per article
    values = np.multiply.outer(_A, grams)
    values += _B[:, None]
    return values.min(axis=1)


def encode(sig: np.ndarray) -> str:
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def decode(value: str) -> np.ndarray | None:
    try:
        sig = np.frombuffer(base64.b64decode(value), dtype="<u4")
    except (ValueError, TypeError):
        return None
    return sig if sig.size == NUM_PERM else None


def band_keys(sig: np.ndarray) -> list[str]:
    """One key per band: its number and a hash of its ROWS values."""
    raw = sig.astype("<u4").tobytes()
    width = ROWS * 4
    return [f"{b:02d}{hashlib.blake2b(raw[b * width:(b + 1) * width], digest_size=8).hexdigest()}"
            for b in range(BANDS)]


def sign(article: Article) -> None:
    """Give the article its ``story_sig`` and ``story_keys`` for its title and text, and the matching
    ``content_hash``. The extraction workers call it (crawler.offload), so the writer's thread seldom has
    to: a signature already there is kept when ``content_hash`` still matches the title and text (it is
    computed with them; a title changed after signing, or a malformed one, gets a fresh signature)."""
    current = content_hash(article.title, article.text)
    if article.story_sig and article.content_hash == current and len(article.story_keys) == BANDS:
        if decode(article.story_sig) is not None:
            return
    sig = signature(article.title, article.text)
    article.content_hash = current
    article.story_sig = encode(sig)
    article.story_keys = band_keys(sig)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


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
        # order, which expiry pops from the front.
        self._recent: dict[str, tuple[float, Known]] = {}
        self._recent_keys: dict[str, deque[tuple[float, Known]]] = {}
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
                    self._recent_keys.setdefault(key, deque()).append(entry)
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
                while held and held[0][0] < cutoff:
                    held.popleft()
                if not held:
                    self._recent_keys.pop(key, None)

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
        since, until = min(times) - self.window, max(times) + self.window
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


__all__ = ["BANDS", "Known", "PER_KEY", "Prepared", "SIMILAR", "Stories", "StoryStore", "band_keys", "decode", "encode",
           "known_from", "new_story_id", "sign", "signature", "similarity"]
