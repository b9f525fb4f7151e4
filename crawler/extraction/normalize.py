"""Text normalisation shared by every field: entities, Unicode NFC, whitespace."""

from __future__ import annotations

import html
import re
import unicodedata

# Zero-width and soft-hyphen characters survive rendering invisibly but split tokens. Control characters
# (a "&amp;#27;" the second unescaping makes an ESC) are no text, and would drive a terminal that prints a title.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x9f\u00ad\u200b\u200c\u200d\u2060\ufeff]")


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
    # within a line, str.split() splits on exactly the inline whitespace (the class [^\S\n]) at C speed
    lines = (" ".join(ln.split()) for ln in value.split("\n"))
    return "\n".join(ln for ln in lines if ln)
