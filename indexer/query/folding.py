"""Text folding: the one tokenisation that indexing, querying, matching and highlighting share.

Every character is lower-cased, NFKD-decomposed, its combining marks dropped, and a few letters without a
decomposition folded (ß→ss, ł→l …); letters and digits form tokens, everything else separates them
(see the package docstring for the full text model).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from indexer.article import Article

TEXT_QUERY_FIELDS: tuple[str, ...] = ("title", "text", "description")
DEFAULT_FIELDS: tuple[str, ...] = TEXT_QUERY_FIELDS
KEYWORD_QUERY_FIELDS: tuple[str, ...] = ("source", "language", "authors", "section", "tags", "url")
QUERY_FIELDS = TEXT_QUERY_FIELDS + KEYWORD_QUERY_FIELDS
MAX_TOKEN = 100
MAX_KEYWORD = 8191  # longer keyword values are not searchable (ES keyword ignore_above; Lucene term limit)

# One prefix letter per keyword field for the FTS5 kw column tokens (letter + hex of the folded value).
KW_CODES: dict[str, str] = {"source": "s", "language": "l", "authors": "p", "section": "n", "tags": "g", "url": "u"}

_EXTRA = {
    "ß": "ss", "ẞ": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
    "ı": "i", "ħ": "h", "ŧ": "t", "ŀ": "l", "ĸ": "k", "ŋ": "n", "ς": "σ", "ǥ": "g", "ƀ": "b", "ɨ": "i",
}


def _is_ideograph(c: str) -> bool:
    o = ord(c)
    return (0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0x20000 <= o <= 0x3FFFF or 0x3040 <= o <= 0x309F)


def _fold_chars(c: str, keep_punct: bool) -> str:
    """Fold one character: lower, NFKD, drop marks, extra letters; non-alnum → ' ' unless keep_punct."""
    if unicodedata.category(c)[0] == "M":
        return ""
    if not c.isalnum():
        if keep_punct:
            return " " if c.isspace() else c
        return " "
    if _is_ideograph(c):
        return c if keep_punct else f" {c} "
    out = []
    for ch in unicodedata.normalize("NFKD", c.lower()):
        if unicodedata.category(ch)[0] == "M":
            continue
        ch = _EXTRA.get(ch, ch)
        if len(ch) == 1 and not ch.isalnum():
            out.append(ch if keep_punct and not ch.isspace() else " ")
        else:
            out.append(ch.lower())
    return "".join(out)


class _FoldTable(dict):
    """str.translate table filled lazily (translate calls __missing__ through __getitem__)."""

    def __init__(self, keep_punct: bool) -> None:
        super().__init__()
        self.keep_punct = keep_punct
        for o in range(128):  # prime ASCII so translate's fast path kicks in
            self[o] = _fold_chars(chr(o), keep_punct)

    def __missing__(self, o: int) -> str:
        value = _fold_chars(chr(o), self.keep_punct)
        self[o] = value
        return value


_TOKEN_TABLE = _FoldTable(keep_punct=False)
_KW_TABLE = _FoldTable(keep_punct=True)


# Fast path, same result as text.translate(_TOKEN_TABLE): fold the (few) non-ASCII runs with the table,
# then, if everything is ASCII now (typical for Latin-script news), finish with bytes.translate (C speed).
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_ASCII_BYTES = bytes(
    (ord(_fold_chars(chr(o), False)) if len(_fold_chars(chr(o), False)) == 1 else 32) for o in range(128)
) + b" " * 128


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_TOKEN_TABLE)


# Typographic punctuation is most of the non-ASCII in Latin-script news, one sub() callback per mark;
# blanking it first with str.replace (C speed) leaves most such texts pure ASCII for the bytes path.
_COMMON_BLANKS = tuple(
    c for c in "\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb\u201e\u2022\u00b7\u2010\u2011\u2032"
    if _fold_chars(c, False) == " "
)


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def fold(text: str) -> str:
    """The folded form of ``text``: only lower-case alnum characters and spaces."""
    if not text.isascii():
        for c in _COMMON_BLANKS:
            text = text.replace(c, " ")
    if not text.isascii():
        # Latin-1 text has few non-ASCII runs (accents) that fold to ASCII; other scripts are mostly
        # non-ASCII, where one translate beats a callback per word.
        partly = _NON_ASCII.sub(_fold_run, text) if _latin1(text) else text
        if not partly.isascii():
            return text.translate(_TOKEN_TABLE)
        text = partly
    return text.encode("ascii").translate(_ASCII_BYTES).decode("ascii")


@lru_cache(maxsize=1)
def fold_sources() -> dict[str, str]:
    """Where folding and lower-casing part: per character a folded token can hold, the letters of the Basic
    Multilingual Plane whose folding holds it though their lower case differs (``е``: ``ёЁ``, ``s``: ``ßẞ``
    …); under ``""`` the combining marks, which folding drops. Built on first use (snippets use it to tell
    when ``str.lower`` finds a word where folding would)."""
    out: dict[str, set[str]] = {"σ": {"Σ"}}  # str.lower makes it ς at a word's end
    for o in range(0x10000):
        c = chr(o)
        if not c.isalnum():
            if unicodedata.category(c)[0] == "M":
                out.setdefault("", set()).add(c)
            continue
        low = c.lower()
        if low == c and c not in _EXTRA and unicodedata.normalize("NFKD", c) == c:
            continue  # folds to itself (an ideograph between spaces): found lower-cased all the same
        folded = _fold_chars(c, False)
        if folded != low:
            for ch in folded.replace(" ", ""):
                out.setdefault(ch, set()).add(c)
    return {k: "".join(sorted(v)) for k, v in out.items()}


def _cut(folded: str) -> list[str]:
    tokens = folded.split()
    if len(folded) > MAX_TOKEN and max(map(len, tokens), default=0) > MAX_TOKEN:
        tokens = [t[i:i + MAX_TOKEN] for t in tokens for i in range(0, len(t), MAX_TOKEN)]
    return tokens


def tokenize(text: str | None) -> list[str]:
    """Our tokens of ``text`` (see module docstring). Shared by indexing, querying and matching."""
    return _cut(fold(text)) if text else []


_LONG_RUN = b"x" * (MAX_TOKEN + 1)
_RUN_BYTES = bytes(32 if b == 32 else ord("x") for b in range(256))


def folded_text(text: str | None) -> str:
    """Our tokens between runs of spaces: what the ES ``*_folded`` fields (``whitespace`` analyzer) and the
    FTS5 columns (``ascii`` tokenizer) index; both split exactly where ``str.split`` does, since folding
    leaves no separator but the ASCII space. The spaces are left as :func:`fold` made them: splitting and
    re-joining cost as much as the folding itself. Only a text with a token longer than ``MAX_TOKEN`` (or
    non-ASCII tokens, too rare to find the long ones fast) is re-joined from :func:`tokenize`'s pieces."""
    if not text:
        return ""
    folded = fold(text)
    if folded.isascii() and _LONG_RUN not in folded.encode("ascii").translate(_RUN_BYTES):
        return folded
    return " ".join(_cut(folded))


@dataclass(frozen=True)
class FoldedTexts:
    sources: tuple[str, ...]  # the TEXT_QUERY_FIELDS values folded, the same objects
    texts: tuple[str, ...]


def fold_article(article: Article) -> None:
    """Fold the article's text fields for the index once, in the extraction worker that made it: folding is
    most of what indexing spends on an article's text in the writer, the one thread every article goes through.
    The strings travel with it (a pickle keeps one copy of a string held twice)."""
    sources = tuple(getattr(article, name) for name in TEXT_QUERY_FIELDS)
    article.folded = FoldedTexts(sources, tuple(folded_text(s) for s in sources))


def article_folded(article: Article) -> tuple[str, ...]:
    """The article's TEXT_QUERY_FIELDS as :func:`folded_text` makes them: as :func:`fold_article` left them
    while every field is still the string it folded, else folded now."""
    sources = tuple(getattr(article, name) for name in TEXT_QUERY_FIELDS)
    done = article.folded
    if isinstance(done, FoldedTexts) and len(done.sources) == len(sources) and \
            all(a is b for a, b in zip(done.sources, sources)):
        return done.texts
    return tuple(folded_text(s) for s in sources)


def fold_keyword(value: str | None) -> str | None:
    """Whole-value folding for keyword fields; None when empty or too long to be searchable."""
    if not value:
        return None
    out = " ".join(value.translate(_KW_TABLE).split())
    if not out or len(out) > MAX_KEYWORD:
        return None
    return out


def kw_token(field_name: str, folded_value: str) -> str:
    """The FTS5 token standing for one keyword value (hex keeps prefixes: prefix(hex(v)) = hex(prefix(v)))."""
    return KW_CODES[field_name] + folded_value.encode("utf-8").hex()


def article_keywords(article: Article) -> dict[str, list[str]]:
    """Folded keyword values of an article, per query keyword field."""
    out: dict[str, list[str]] = {}
    for name in KEYWORD_QUERY_FIELDS:
        raw = getattr(article, name, None)
        values = raw if isinstance(raw, list) else [raw]
        folded = [f for f in (fold_keyword(v) for v in values if isinstance(v, str)) if f]
        out[name] = list(dict.fromkeys(folded))
    return out
