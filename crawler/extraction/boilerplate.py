"""Line-level boilerplate that survives DOM-based extraction.

These are phrasings, not site markup: "Read more:" teasers, skip links, image credits,
share/newsletter calls, cookie notes, agency credit lines. Each pattern applies only to
short lines so a real paragraph that merely starts with "Image" is never lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Lines longer than this (words) are prose; boilerplate lines are short.
MAX_BOILERPLATE_WORDS = 30

_PATTERNS = [
    # related-story teasers and skip links
    r"(read|see|watch|listen)( also| more)?\s*[:|>»-]",
    r"(also read|read also|related( stories| articles| coverage)?|more on this( story)?)\s*[:|>»-]",
    r"(lesen sie auch|mehr zum thema|auch interessant|weiterlesen|lire aussi|leer más|leia também)\b",
    r"also on [\w.-]+\.\w+\b",
    r"skip (to|next section)\b",
    r"(dw|bbc|cnn)'s top stor(y|ies)\s*$",
    # image credits glued in by the renderer
    r"(image|photo|picture|foto|bild|fotos?|photograph|credit|quelle|source)s?\s*(credit)?\s*:\s*\S",
    r"\(?(photo|image|picture)\s*(by|credit|courtesy)\b",
    # share bars, newsletter and app promos, cookie notes
    r"(share|tweet|email|print)( this( article| story)?)?( on| via)?\s*(facebook|twitter|whatsapp|linkedin|e-?mail)?\s*$",
    r"like this story\?",
    r"(follow|like) us on\b",
    r"(sign up|subscribe)( now)? (for|to)\b",
    r"click here\b",
    r"(we|this (web)?site) uses? cookies\b",
    r"(copyright\s*)?(©|\(c\)|copyright)\s*(\d{4}|[A-Z])",
    r"all rights reserved\.?\s*$",
    r"(advertisement|anzeige|publicité)\s*$",
    r"(comments?|kommentare?)\s*(\(\d+\))?\s*$",
    r"post comment\b",
]
# One alternation of them all: a line is scanned once, not once per pattern.
BOILERPLATE = re.compile("|".join(rf"^\W{{0,3}}(?:{p})" for p in _PATTERNS), re.I)
# Calls that a short line makes after a sentence of its own ("There's plenty more. Sign up for ..."),
# or that name the outlet before the networks ("Follow Newsbeat on Instagram, Facebook ...").
CALLS = re.compile(
    r"(?:^|[.!?]\s+)\W{0,3}(?:please\s+)?(?:"
    r"follow\b[^.!?]{0,60}\bon (?:facebook|twitter|instagram|youtube|linkedin|tiktok|threads|bluesky)\b"
    r"|(?:sign up|subscribe)(?: now| today)? (?:for|to)\b)", re.I)

# "mm/rc (AFP, AP, Reuters)", "dpa/AFP", "jsi/sms (dpa, Reuters)": DW-style editor
# initials plus wire agencies. Kept out of the body; authors.py reads them as a byline.
AGENCY_CREDIT = re.compile(
    r"^\s*(?:[a-z]{1,4}(?:\s*/\s*[a-z]{1,4})*\s*)?"
    r"\(?\s*(?:AFP|AP|Reuters|dpa|KNA|epd|EFE|ANSA|Xinhua|TASS|Interfax|Kyodo|IANS|PTI|UPI|APA|SDA|Belga|rtr|afp|ap)"
    r"(?:\s*[,/;]\s*(?:AFP|AP|Reuters|dpa|KNA|epd|EFE|ANSA|Xinhua|TASS|Interfax|Kyodo|IANS|PTI|UPI|APA|SDA|Belga|rtr|afp|ap|[a-z]{1,4}))*\s*\)?\s*$"
)


def is_boilerplate(line: str, extra: Iterable[re.Pattern[str]] = (), *, keep_credits: bool = False) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    if len(stripped.split()) > MAX_BOILERPLATE_WORDS:
        return False
    if AGENCY_CREDIT.match(stripped):
        return not keep_credits
    return bool(BOILERPLATE.match(stripped) or CALLS.search(stripped)) or any(p.search(stripped) for p in extra)


def drop_boilerplate(lines: Iterable[str], extra: Iterable[re.Pattern[str]] = (), *,
                     keep_credits: bool = False) -> list[str]:
    extra = tuple(extra)
    return [ln for ln in lines if not is_boilerplate(ln, extra, keep_credits=keep_credits)]
