"""Text normalisation shared by every field: entities, Unicode NFC, whitespace."""

from __future__ import annotations

import html
import re
import unicodedata

_INLINE_WS = re.compile(r"[^\S\n]+")
# Zero-width and soft-hyphen characters survive rendering invisibly but split tokens.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_MANY_NEWLINES = re.compile(r"\n{2,}")


def clean_inline(value: str | None) -> str:
    """One-line value (title, author, tag): entities decoded, NFC, single spaces."""
    if not value:
        return ""
    value = html.unescape(str(value))
    value = _INVISIBLE.sub("", unicodedata.normalize("NFC", value))
    return " ".join(value.split())


def clean_text(value: str | None) -> str:
    """Body text: one paragraph per line, no blank lines, inline whitespace collapsed."""
    if not value:
        return ""
    value = _INVISIBLE.sub("", unicodedata.normalize("NFC", html.unescape(value)))
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    lines = (_INLINE_WS.sub(" ", ln).strip() for ln in value.split("\n"))
    return _MANY_NEWLINES.sub("\n", "\n".join(ln for ln in lines if ln)).strip()
