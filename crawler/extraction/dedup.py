"""Near-duplicate stories: MinHash over word shingles, banded LSH for lookup.

Wire copy republished by several sites (or lightly edited: new headline, a paragraph added
or cut) shares most of its word 3-grams; unrelated stories on the same topic share almost
none. ``SIMILAR`` sits between the two (see tests/unit/extraction/test_dedup.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
from collections.abc import Iterable

from datasketch import MinHash, MinHashLSH

from crawler.extraction.normalize import clean_text
from indexer.article import Article, content_hash

NUM_PERM = 128
SHINGLE_WORDS = 3
# Estimated Jaccard similarity of shingle sets above which two texts are one story.
SIMILAR = 0.5
_SEED = 1  # fixed so signatures stored by one process compare with another's
_SCHEME = "affine32"  # pinned: a datasketch upgrade must not silently change stored signatures
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")


def shingles(text: str, n: int = SHINGLE_WORDS) -> set[str]:
    """Word n-grams, lower-cased; character 4-grams for scripts written without spaces."""
    text = clean_text(text).casefold()
    if len(_CJK.findall(text[:2000])) > 200:
        chars = "".join(_WORD.findall(text))
        return {chars[i:i + 4] for i in range(max(1, len(chars) - 3))} if chars else set()
    words = _WORD.findall(text)
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def minhash(text: str) -> MinHash:
    mh = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
    grams = shingles(text)
    if grams:
        mh.update_batch([g.encode("utf-8") for g in grams])
    return mh


def signature(text: str) -> list[int]:
    """Storable form of the MinHash (one int per permutation)."""
    return [int(v) for v in minhash(text).hashvalues]


def from_signature(values: Iterable[int]) -> MinHash:
    import numpy as np

    return MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME,
                   hashvalues=np.array(list(values), dtype=np.uint64))


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return minhash(a).jaccard(minhash(b))


def new_story_id(article: Article) -> str:
    return "s-" + hashlib.sha1((article.canonical_url or article.url).encode("utf-8")).hexdigest()[:16]


class StoryIndex:
    """In-memory LSH over the signatures of recent articles.

    Storage-agnostic: feed it saved ``(story_id, signature)`` pairs with ``add`` at start-up
    and persist what ``assign`` returns; the backend keeps ``story_id`` on the Article.
    """

    def __init__(self, threshold: float = SIMILAR) -> None:
        self.threshold = threshold
        # LSH is tuned a little below the verdict threshold so borderline pairs are still
        # fetched as candidates and then judged by their estimated Jaccard.
        self._lsh = MinHashLSH(threshold=max(0.1, threshold - 0.15), num_perm=NUM_PERM)
        self._stories: dict[str, tuple[str, MinHash]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._stories)

    def add(self, key: str, story_id: str, mh: MinHash | Iterable[int]) -> None:
        if not isinstance(mh, MinHash):
            mh = from_signature(mh)
        with self._lock:
            if key in self._stories:
                return
            self._stories[key] = (story_id, mh)
            self._lsh.insert(key, mh)

    def match(self, mh: MinHash) -> str | None:
        """story_id of the most similar known article above the threshold, if any."""
        best, best_sim = None, self.threshold
        for key in self._lsh.query(mh):
            story_id, other = self._stories[key]
            sim = mh.jaccard(other)
            if sim >= best_sim:
                best, best_sim = story_id, sim
        return best

    def assign(self, article: Article) -> str:
        """The story_id for ``article``: a near-duplicate's, else a new one; remembers it."""
        mh = minhash(f"{article.title}\n{article.text}")
        key = article.canonical_url or article.url
        with self._lock:
            known = self._stories.get(key)
        story_id = known[0] if known else (self.match(mh) or new_story_id(article))
        self.add(key, story_id, mh)
        article.story_id = story_id
        return story_id


def revise(stored: Article | None, fresh: Article) -> Article | None:
    """What to write for a re-crawled URL: None when nothing changed, else the new version.

    An unchanged page (same title and text) emits nothing; a changed one keeps the stored
    story_id, bumps ``version`` and gets a ``modified_at`` (the page's own, else fetch time).
    """
    if stored is None:
        return fresh
    if content_hash(fresh.title, fresh.text) == stored.content_hash:
        return None
    return dataclasses.replace(
        fresh,
        story_id=stored.story_id or fresh.story_id,
        version=stored.version + 1,
        published_at=stored.published_at or fresh.published_at,
        published_at_source=stored.published_at_source or fresh.published_at_source,
        modified_at=fresh.modified_at if fresh.modified_at and fresh.modified_at != stored.modified_at
        else (fresh.fetched_at or stored.modified_at),
        content_hash="",
    )
