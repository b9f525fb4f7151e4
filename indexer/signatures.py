"""Story signatures: the MinHash of an article's title and text, its band keys, and the similarity
of two signatures. Functions of the text alone: the extraction workers sign
(crawler.pipelines.extract_page), the writer keeps or redoes it (indexer.stories).

An article's signature is a MinHash (128 permutations whose constants derive from their names, so
every process and every version computes the same values) of the word 3-grams of its title and text. Cut into ``BANDS`` bands
of ``ROWS`` values it gives ``BANDS`` band keys. Two texts whose 3-gram sets have Jaccard similarity s
share a key with probability 1 - (1 - s^ROWS)^BANDS: 0.996 at s = 0.5, 0.94 at 0.4, 0.29 at 0.2
(``indexer.stories.SIMILAR`` is 0.5).
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib

import numpy as np

from indexer.article import Article, content_hash

NUM_PERM = 128
BANDS, ROWS = 42, 3  # 126 of the 128 values
SHINGLE_WORDS = 3
_WORD_CODES_MAX = 200_000  # word -> CRC-32 kept across articles (a vocabulary, not the texts)
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")


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
    ``content_hash``. The extraction workers call it (crawler.pipelines.extract_page), so the writer's
    thread seldom has to: a signature already there is kept when ``content_hash`` still matches the title and text (it is
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


__all__ = ["BANDS", "NUM_PERM", "band_keys", "decode", "encode", "sign", "signature", "similarity"]
