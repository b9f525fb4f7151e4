"""Language as ISO 639-1: declared (html lang, meta, JSON-LD, og:locale), else a light detector.

The detector is script ranges plus stop-word overlap (justext's stoplists, already a
trafilatura dependency): no model, microseconds per page, right for the languages a
news crawler meets; a page whose declaration is wrong but plausible keeps it.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from crawler.extraction.page import Page

_CODE = re.compile(r"^([a-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")
_ISO3_TO_1 = {"eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it",
              "por": "pt", "rus": "ru", "ara": "ar", "zho": "zh", "chi": "zh", "jpn": "ja", "nld": "nl"}
_STOPLISTS = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian_Bokmal", "pl": "Polish", "cs": "Czech",
    "tr": "Turkish", "id": "Indonesian", "ro": "Romanian", "hu": "Hungarian", "fi": "Finnish",
    "ru": "Russian", "uk": "Ukrainian", "bg": "Bulgarian", "sr": "Serbian", "fa": "Persian", "ar": "Arabic",
    "ur": "Urdu", "hr": "Croatian", "sk": "Slovak", "sl": "Slovenian", "vi": "Vietnamese", "ca": "Catalan",
}
_SCRIPTS = [  # (regex, language or None when stop words must decide among a script's languages)
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u0600-\u06ff]"), None),
    (re.compile(r"[\u0400-\u04ff]"), None),
]
_WORD = re.compile(r"[^\W\d_]+")
# any character of a script that decides the language alone (the _SCRIPTS with a code)
_DECIDING_SCRIPTS = re.compile("|".join(p.pattern for p, code in _SCRIPTS if code))


def normalise_code(value: str | None) -> str:
    value = (value or "").strip().replace("_", "-")
    m = _CODE.match(value.casefold())
    if not m:
        return ""
    code = m.group(1)
    return _ISO3_TO_1.get(code, code if len(code) == 2 else "")


def declared(page: Page) -> str:
    root = page.tree.getroottree().getroot()
    candidates = [root.get("lang"), root.get("xml:lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += [page.meta_first("content-language", "language", "dc.language", "og:locale")]
    in_lang = page.jsonld_article.get("inLanguage")
    candidates.append(in_lang if isinstance(in_lang, str) else "")
    for c in candidates:
        code = normalise_code(c)
        if code:
            return code
    return ""


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    import justext

    return {code: frozenset(w.casefold() for w in justext.get_stoplist(name)) for code, name in _STOPLISTS.items()}


@lru_cache(maxsize=1)
def _stopword_langs() -> dict[str, tuple[str, ...]]:
    """Stop word -> the languages listing it: one dict lookup per distinct word of the text
    instead of one pass over the text's words per language (29 of them)."""
    index: dict[str, list[str]] = {}
    for code, stops in _stopwords().items():
        for w in stops:
            index.setdefault(w, []).append(code)
    return {w: tuple(codes) for w, codes in index.items()}


def _guess(text: str) -> tuple[str, dict[str, int]]:
    """(best code, stop-word scores); scores are empty when the script alone decided."""
    sample = text[:4000]
    # map over a C method rather than a generator; the first 200 characters nearly always
    # settle "at least 20 letters", and the full count is only needed for a script's share
    if sum(map(str.isalpha, sample[:200])) < 20 and sum(map(str.isalpha, sample)) < 20:
        return "", {}
    if _DECIDING_SCRIPTS.search(sample):  # one scan instead of one per script, for most pages
        letters = sum(map(str.isalpha, sample))
        for pattern, code in _SCRIPTS:
            if code and len(pattern.findall(sample)) > 0.3 * letters:
                return code, {}
    words = Counter(map(str.casefold, _WORD.findall(sample)))
    scores = dict.fromkeys(_STOPLISTS, 0)  # in _STOPLISTS order: max() breaks ties by it
    langs = _stopword_langs()
    for w, n in words.items():
        for code in langs.get(w, ()):
            scores[code] += n
    best = max(scores, key=scores.__getitem__)
    return (best if scores[best] >= 3 else ""), scores


def language(page: Page, text: str) -> str:
    found = declared(page)
    detected, scores = _guess(text)
    if not found or not detected or found == detected:
        return found or detected
    # CMS templates often ship lang="en" on every edition: overrule the declaration only
    # when the text clearly disagrees, not when close relatives (da/no, sr/hr) compete.
    if not scores:
        return detected
    if scores.get(found, 0) < 0.5 * scores[detected]:
        return detected
    return found
