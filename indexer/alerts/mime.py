"""An alert mail as bytes: multipart/alternative (text/plain + text/html), written by hand.

Why not ``email.message.EmailMessage``: building one (content manager, header registry, parameter
parsing) and flattening it through the generator cost about 1 ms per mail, half the cost of an
alert. Our mails have one fixed shape, so writing it out is a few string joins, and the
``email`` package still reads every mail back in the tests.

What the writer guarantees:

* a header value holding CR or LF is refused (``ValueError``): a value cannot add a header;
* ASCII values are folded at their spaces into lines of at most 78 characters where a word allows
  it; unfolding gives the value back exactly;
* other values (and ASCII that looks like an encoded word) become RFC 2047 UTF-8 encoded words,
  except in address headers, which are written as UTF-8 (RFC 6532) and mark the mail
  ``international`` so SMTP asks for SMTPUTF8;
* both parts are quoted-printable, so the body is 7-bit and, since that encoding writes every
  ``=`` as ``=3D``, no part can contain a boundary that starts with ``=``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

MAX_LINE = 78
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
_ENCODED_WORD_OVERHEAD = len("=?utf-8?b??=")


def boundary_for(message_id: str) -> str:
    """The same mail gets the same bytes; the leading ``=`` keeps it out of quoted-printable text."""
    return "==mw_" + hashlib.sha1(message_id.encode("utf-8", "replace")).hexdigest()[:24] + "=="


def _fold_ascii(name: str, value: str) -> str:
    lines: list[str] = []
    line = f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines)


def _encoded_words(name: str, value: str) -> str:
    """RFC 2047: base64 encoded words, each cut at a character boundary and short enough that
    every line stays within ``MAX_LINE``; a reader joins adjacent encoded words without the
    folding space between them."""
    words: list[str] = []
    room = MAX_LINE - len(name) - 2  # the first line also holds "Name: "
    chunk, size = "", 0  # size: UTF-8 bytes of chunk
    for char in value:
        width = len(char.encode("utf-8"))
        if chunk and 4 * ((size + width + 2) // 3) + _ENCODED_WORD_OVERHEAD > room:
            words.append(chunk)
            room = MAX_LINE - 1  # continuation lines start with one space
            chunk, size = "", 0
        chunk, size = chunk + char, size + width
    words.append(chunk)
    encoded = [f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words]
    return f"{name}: " + "\r\n ".join(encoded)


def header_line(name: str, value: str) -> tuple[str, bool]:
    """``Name: value`` folded and encoded for the wire, and whether it needs SMTPUTF8."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} holds a line break")
    if value.isascii():
        if "=?" in value:  # a reader would decode it: say it as an encoded word instead
            return _encoded_words(name, value), False
        return _fold_ascii(name, value), False
    if name.casefold() in _ADDRESS_HEADERS:
        return f"{name}: {value}", True
    return _encoded_words(name, value), False


def _qp(text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return binascii.b2a_qp("\r\n".join(lines).encode("utf-8"), quotetabs=False, istext=True, header=False)


@dataclass(frozen=True)
class Mail:
    """One mail: headers in order (values already cleaned, see ``render.clean_header``), a text and
    an HTML alternative. ``as_bytes`` is what is sent and what an outbox file holds."""

    headers: tuple[tuple[str, str], ...]
    text: str
    html: str
    recipients: tuple[str, ...]  # the envelope's RCPT TO
    sender: str  # the envelope's MAIL FROM
    _wire: bytes = field(init=False, repr=False, compare=False)
    international: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        lines, international = [], False
        for name, value in self.headers:
            line, needs_utf8 = header_line(name, value)
            lines.append(line)
            international = international or needs_utf8
        boundary = boundary_for(self["Message-ID"] or "")
        head = "\r\n".join(lines) + (
            f'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        )
        parts = [head.encode("utf-8")]
        for subtype, body in (("plain", self.text), ("html", self.html)):
            parts.append(f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                         "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii"))
            parts.append(_qp(body))
            parts.append(b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode("ascii"))
        object.__setattr__(self, "_wire", b"".join(parts))
        object.__setattr__(self, "international", international)

    def __getitem__(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), as given; None if absent."""
        key = name.casefold()
        return next((value for n, value in self.headers if n.casefold() == key), None)

    @property
    def message_id(self) -> str:
        return self["Message-ID"] or ""

    def as_bytes(self) -> bytes:
        return self._wire
