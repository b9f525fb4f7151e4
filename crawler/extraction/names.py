"""Names as bylines write them: a raw credit ("Text und Interview: Jana Kiel", "Posted on
September 21, 2020 by Jana Kiel and Ada Berg", "Jana Kiel/dpa") cleaned into the list of
names it gives, without labels, roles, dates, handles and what a CMS writes where nobody signed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crawler.extraction.normalize import clean_inline
from crawler.extraction.shown_dates import without_days

BY_PREFIX = re.compile(
    r"^(?:(?:written|posted|published|reported|text|story|words|photos?|view all posts|all posts|erstellt|verfasst|"
    r"(?:zeige )?alle beiträge|artikel|beitrag|article|interview)\s+)?"
    r"(?:by|von|vom|par|por|di|da|door|av|af|przez|autor(?:in)?|auteur|author|redakt(?:ion|eur)|text|texte|words|interview|"
    r"текст|автор|от|بقلم|كتب|作者|记者|文)"
    r"\s*[:\-]?\s+",
    re.I,
)
_SPLIT = re.compile(r"\s*(?:;|,|\||/|\s&\s|\s+(?:and|und|et|y|e|en|og|och|i)\s+)\s*", re.I)
# Digits mean a date, a time or a handle glued to the byline, never part of a name.
NOT_A_NAME = re.compile(r"https?://|www\.|@|\d|^\W+$", re.I)
_TRAILING = re.compile(r"(?:\s+|\s*[,|•·–-]\s*)(?:updated|aktualisiert|published|veröffentlicht|posted|am|on)\b.*$", re.I)
MAX_NAME_WORDS = 6
# A name that ends in an initial or "Jr."/"Sr." keeps that dot: it is part of the spelling.
_ABBREVIATED = re.compile(r"\s(?:[^\W\d_]|jr|sr)\.\s*$", re.I)
# A degree split off a name by its comma ("Grant Tinsley, PhD") is no second author.
_DEGREE = re.compile(r"(?:ph\.?\s?d|m\.?\s?d|m\.?\s?sc|b\.?\s?sc|mba|m\.?\s?a|b\.?\s?a|rd|rn|mph|dipl\.?[\w.-]*|prof|dr)\.?", re.I)
# A social handle beside the name ("Williams Perdomo @wperdomod") is no part of it; a whole
# e-mail address ("x@y.org") is no name at all and stays for NOT_A_NAME to reject.
_HANDLE_TOKEN = re.compile(r"(?:^|\s)@\w+\b(?!\.)")
# A role written after the name in brackets ("Jana Kiel (Pressesprecherin des Vereins)"); one
# word in brackets may be an agency ("(AFP)") and stays.
_ROLE_NOTE = re.compile(r"\s*\([^()]*\s[^()]*\)\s*$")
# A credit line names the writers first and then whoever made the pictures ("Text von Jana Kiel
# Illustration von Ada Berg", "Words: Jana Kiel, Photos: Ada Berg"): the line stops being a
# byline at the first of those other roles.
_OTHER_ROLE = re.compile(
    r"(?:^|[\s,;|/•·–—-])(?:fotos?|photos?|photography|pictures|bilder|illustrations?|grafik(?:en)?|graphics|"
    r"infografik|kamera|camera|video)\s*(?::|(?:von|by|par|de|di)\s)", re.I)
# Several roles of one person before the name ("Text und Interview: Jana Kiel", "Words and
# pictures by Jana Kiel"): a label, not a second author that the splitting would make of "Text".
_ROLE_LIST = re.compile(
    r"^\s*(?:text|texte|words|interview|recherche|fotos?|photos?|pictures|bilder?)"
    r"(?:\s*(?:und|and|et|&|\+|/|,)\s*(?:text|texte|words|interview|recherche|fotos?|photos?|pictures|bilder?))+"
    r"\s*(?::|(?:von|by|par)\s)\s*", re.I)
# What a CMS writes where nobody signed.
_PLACEHOLDERS = frozenset({"no author", "unknown", "unknown author", "anonymous", "admin", "administrator", "none"})
# A by-label after a day written out in the line (the day replaced by a bar by without_days).
_BY_AFTER_DAY = re.compile(r"\|\s*((?:by|von|par|por|door)\s.*)$", re.I)
# What Cloudflare shows in place of an e-mail address it hides from scrapers.
_HIDDEN_EMAIL = re.compile(r"\s*[-–—|,(]?\s*\[email\s+protected\]\)?", re.I)


def until_other_role(line: str) -> str:
    """A credit line up to the first role other than writing; the whole line when it starts
    with one (then it credits nobody else)."""
    m = _OTHER_ROLE.search(line, 1)
    return line[:m.start()] if m else line


def _writers(line: str) -> str:
    """The writers' part of a credit line, without a label that lists several roles nor the
    day written before a by-label ("Posted on September 21, 2020 by Jana Kiel")."""
    if any(c.isdigit() for c in line):
        m = _BY_AFTER_DAY.search(without_days(line, " | "))
        line = m.group(1) if m else line
    return until_other_role(_ROLE_LIST.sub("", line))


def clean_name(raw: str) -> str:
    name = _HANDLE_TOKEN.sub("", _HIDDEN_EMAIL.sub("", clean_inline(raw)))
    name = _ROLE_NOTE.sub("", BY_PREFIX.sub("", name))
    name = _TRAILING.sub("", name).strip(" .,:;-–—|'\"‘’“”«»\ufffd") + ("." if _ABBREVIATED.search(name) else "")
    if not name or NOT_A_NAME.search(name) or len(name.split()) > MAX_NAME_WORDS or _DEGREE.fullmatch(name) \
            or name.casefold() in _PLACEHOLDERS:
        return ""
    return name


def clean_names(raws: Iterable[str], *, split: bool = True) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in raws:
        line = _writers(clean_inline(raw)) if split else raw
        if NOT_A_NAME.search(line.split(" ")[0] if line else ""):
            continue  # a profile URL or e-mail in place of a name: nothing to split
        pieces = _SPLIT.split(line) if split else [raw]
        for piece in pieces:
            name = clean_name(piece)
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                out.append(name)
    return out
