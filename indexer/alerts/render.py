"""Alert mails as ``email.message.EmailMessage``: instant and digest, multipart text + HTML.

Safety rules, all enforced here rather than trusted to the templates:

* every header value goes through :func:`clean_header` (CR, LF and every other control or line-separator
  character become a space), and the message's policy (``email.policy.SMTP``) refuses a raw newline in a
  header anyway — an article title cannot add headers;
* addresses are ``Address`` objects, so a display name (``Müller``) is encoded once by the policy and an
  address is never taken for an encoded word; a mail with a non-ASCII address uses ``email.policy.SMTPUTF8``
  (RFC 6532), which the outbox writes as is and ``smtplib`` sends with SMTPUTF8;
* every value placed in the HTML template is ``html.escape``-d (quotes included); the only markup we add
  is ``<mark>`` around matched terms (``indexer.query.highlight``), built from already-escaped pieces;
* links are only rendered as ``href`` when they are http(s).

Templates are ``string.Template`` files in ``templates/`` (no template engine dependency).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy as email_policy
from email.header import Header
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any, Hashable, Iterable, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from indexer.article import Article
from indexer.query import Terms, article_snippet, clean_text, highlight, tokenize

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_PREFIX = "[mediawatch]"


@lru_cache(maxsize=None)
def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def clean_header(value: str, limit: int = 200) -> str:
    """One line, no control characters, at most ``limit`` characters."""
    value = clean_text(value)
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def safe_link(url: str) -> str:
    url = clean_text(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def format_date(value: datetime | None, tz: ZoneInfo | timezone | None = None) -> str:
    if value is None:
        return "date unknown"
    tz = tz or timezone.utc
    local = value.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "UTC")


def _outlets(others: Sequence[Article]) -> tuple[str, str]:
    """The other outlets that ran the story (text and HTML lines), "" when none."""
    text, rich = [], []
    for other in others:
        link = safe_link(other.url)
        source = clean_text(other.source) or (urlsplit(link).netloc if link else "unknown source")
        text.append(f"   - {source}: {link or '(no link)'}\n")
        rich.append(f'<a href="{html.escape(link or "#", quote=True)}">{html.escape(source)}</a>')
    if not text:
        return "", ""
    return ("Also reported by:\n" + "".join(text),
            "<p>Also reported by: " + ", ".join(rich) + "</p>")


def _article_fields(article: Article, terms: Terms, tz: ZoneInfo | timezone | None,
                    others: Sequence[Article] = ()) -> tuple[dict[str, str], dict[str, str]]:
    title = clean_text(article.title) or "(untitled)"
    snip = article_snippet(article, terms)
    link = safe_link(article.url or article.canonical_url)
    date = format_date(article.published_at or article.indexed_at, tz)
    source = clean_text(article.source) or (urlsplit(link).netloc if link else "unknown source")
    outlets_text, outlets_html = _outlets(others)
    text = {"title": title, "source": source, "date": date, "link": link or "(no link)", "snippet": snip.text,
            "outlets": outlets_text}
    rich = {
        "outlets": outlets_html,
        "title": html.escape(title),
        "title_marked": highlight(title, terms).html,
        "source": html.escape(source),
        "date": html.escape(date),
        "link": html.escape(link or "#", quote=True),
        "snippet": snip.html,
    }
    return text, rich


@dataclass
class Envelope:
    from_addr: str
    from_name: str = "mediawatch"
    domain: str = field(init=False)

    def __post_init__(self) -> None:
        self.domain = self.from_addr.rpartition("@")[2] or "mediawatch.local"


def boundary_for(message_id: str) -> str:
    """The MIME boundary of a mail: from its Message-ID, so the same mail gets the same bytes."""
    return "==mw_" + hashlib.sha1(message_id.encode("utf-8", "replace")).hexdigest()[:24] + "=="


def address(addr: str, name: str = "") -> Address:
    """``addr`` as an ``Address``, split at its last ``@`` rather than parsed: the parser refuses a
    non-ASCII local part, which an SMTPUTF8 mail carries (the rules have validated the address)."""
    local, at, domain = addr.rpartition("@")
    return Address(display_name=name, username=local if at else addr, domain=domain)


class _EncodedText(str):
    """An unstructured header value holding ``=?`` or non-ASCII text, written as RFC 2047 encoded words.

    The policy writes ASCII as it is, and a reader would decode ``=?utf-8?q?Bcc:_x?=`` in a title into
    other text; encoded, it reads back as written. ``EmailPolicy.header_store_parse`` keeps a value that has
    the header's ``name``, and the generator asks it to ``fold`` itself.
    """

    name: str

    def __new__(cls, name: str, value: str) -> "_EncodedText":
        if len(value.splitlines()) > 1:  # as the policy refuses every other value with one
            raise ValueError(f"header {name!r}: values may not contain linefeed or carriage return characters")
        obj = super().__new__(cls, value)
        obj.name = name
        return obj

    def fold(self, *, policy: Any) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(
            linesep=policy.linesep, maxlinelen=policy.max_line_length)
        return f"{self.name}: {encoded}{policy.linesep}"


def _value_key(value: Any) -> Hashable | None:
    if isinstance(value, str):
        return value
    addresses = value if isinstance(value, list) else [value]
    if all(isinstance(a, Address) for a in addresses):
        return tuple((a.display_name, a.username, a.domain) for a in addresses)
    return None


class _SharedHeaders(HeaderRegistry):
    """A header registry that parses each (name, value) once.

    Every alert mail repeats most of its headers (From, To, the rule, its parts' Content-Type), and
    parsing them was most of building one. Header objects are immutable, so mails can share them; the
    cache empties itself when full, since Date passes through a few times only. A mail's own headers
    (its Subject, Message-ID and MIME boundary) are never kept: each holds a parse tree of dozens of
    objects, for nothing, that every full garbage collection walked (90,000 of them after 2,000 mails).
    """

    LIMIT = 4096
    OWN = frozenset({"subject", "message-id"})

    @classmethod
    def own(cls, name: str, value: Any) -> bool:
        """A header that no other mail has: not worth keeping parsed or folded."""
        return name.lower() in cls.OWN or (name.lower() == "content-type" and "boundary=" in str(value))

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[str, Hashable], Any] = {}
        self._classes: dict[str, type] = {}
        self.folds: dict[tuple, tuple[Any, bytes]] = {}  # for _FoldOnce: a policy holds no state of its own

    def __getitem__(self, name: str) -> type:
        # The base class builds a new class on every lookup, and the policy looks a header's class up on
        # every assignment (its max_count); the class depends on the name alone.
        cls = self._classes.get(name.lower())
        if cls is None:
            cls = self._classes[name.lower()] = super().__getitem__(name)
        return cls

    def map_to_type(self, name: str, cls: type) -> None:
        super().map_to_type(name, cls)
        self._classes.pop(name.lower(), None)

    def __call__(self, name: str, value: Any) -> Any:
        key = _value_key(value)
        if key is None or self.own(name, value):
            return super().__call__(name, value)
        header = self._parsed.get((name, key))
        if header is None:
            if len(self._parsed) >= self.LIMIT:
                self._parsed.clear()
            header = self._parsed[name, key] = super().__call__(name, value)
        return header


class _FoldOnce(email_policy.EmailPolicy):
    """``EmailPolicy`` that remembers how it folded a header object: with :class:`_SharedHeaders` the
    repeated headers of every mail are the same objects, and folding them was most of writing a mail out.
    Keyed by the object (held, so its id stays its own) and by what folding depends on."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if _SharedHeaders.own(name, value):
            return super().fold_binary(name, value)
        folds = self.header_factory.folds
        key = (id(value), name, self.utf8, self.max_line_length, self.linesep, self.cte_type, self.refold_source)
        hit = folds.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        if len(folds) >= _SharedHeaders.LIMIT:
            folds.clear()
        folded = super().fold_binary(name, value)
        folds[key] = (value, folded)
        return folded


_SMTP = _FoldOnce(linesep="\r\n", header_factory=_SharedHeaders())  # email.policy.SMTP, plus the caches
_SMTPUTF8 = _SMTP.clone(utf8=True)  # email.policy.SMTPUTF8, plus the caches


def _policy(headers: list[tuple[str, Any]]) -> email_policy.EmailPolicy:
    """``SMTP``, or ``SMTPUTF8`` when an address is not ASCII (RFC 6532: it cannot be encoded)."""
    values = [v for _, v in headers]
    addresses = [a for v in values for a in (v if isinstance(v, list) else [v]) if isinstance(a, Address)]
    return _SMTP if all(a.addr_spec.isascii() for a in addresses) else _SMTPUTF8


def _stored(policy: email_policy.EmailPolicy, name: str, value: Any) -> Any:
    # Non-ASCII text goes through Header too: the policy's own folder puts a space that falls between
    # two encoded words outside them, where a reader drops it (RFC 2047 6.2), so "Рост цен" could read
    # back as "Ростцен". Under SMTPUTF8 nothing is encoded and the policy's folding is right.
    if (isinstance(value, str) and ("=?" in value or not (policy.utf8 or value.isascii()))
            and issubclass(policy.header_factory[name], UnstructuredHeader)):
        return _EncodedText(name, value)
    return value


def compose(headers: Iterable[tuple[str, Any]], text: str, rich: str) -> EmailMessage:
    """A multipart/alternative mail (text, then HTML) with ``headers`` in order: strings for unstructured
    values, ``Address`` objects (or lists of them) for address headers. A line break in a value raises
    ``ValueError``."""
    headers = list(headers)
    policy = _policy(headers)
    msg = EmailMessage(policy=policy)
    for name, value in headers:
        msg[name] = _stored(policy, name, value)
    msg.set_content(text, subtype="plain", charset="utf-8")
    boundary = boundary_for(str(msg["Message-ID"] or ""))
    # a body holding the boundary would end its part early: then a random one the generator checks
    msg.make_alternative(boundary=None if boundary in text or boundary in rich else boundary)
    msg.add_alternative(rich, subtype="html", charset="utf-8")
    return msg


def _message(
    envelope: Envelope, recipients: Iterable[str], subject: str, message_id: str, text: str, rich: str,
    extra: dict[str, str] | None = None, now: datetime | None = None,
) -> EmailMessage:
    to = [address(r) for r in map(clean_header, recipients) if r]
    headers: list[tuple[str, Any]] = [
        ("From", address(clean_header(envelope.from_addr), clean_header(envelope.from_name))),
        *([("To", to)] if to else []),
        ("Subject", clean_header(subject, limit=250)),
        ("Date", format_datetime(now or datetime.now(timezone.utc))),
        ("Message-ID", clean_header(message_id)),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
    ]
    headers += [(key, clean_header(value)) for key, value in (extra or {}).items()]
    return compose(headers, text, rich)


def _footer(rule: str, query: str, description: str) -> tuple[dict[str, str], dict[str, str]]:
    """The rule's name, query and description for the mail's footer, as text and as escaped HTML."""
    about = clean_header(description, 500) if description.strip() else ""
    text = {"rule": rule, "query": clean_text(query), "about": f"\n{about}" if about else ""}
    rich = {"rule": html.escape(rule), "query": html.escape(text["query"]),
            "about": f"<br>{html.escape(about)}" if about else ""}
    return text, rich


def _instant_bodies(rule: str, query: str, article: Article, terms: Terms,
                    tz: ZoneInfo | timezone | None, others: Sequence[Article] = (),
                    description: str = "") -> tuple[str, str, str]:
    """The article's title, and the text and HTML bodies of its instant mail."""
    text, rich = _article_fields(article, terms, tz, others)
    footer_text, footer_html = _footer(rule, query, description)
    body_text = template("instant.txt").substitute(text, **footer_text)
    body_html = template("instant.html").substitute(rich, **footer_html)
    return text["title"], body_text, body_html


def instant_message(
    envelope: Envelope, rule: str, query: str, recipients: Sequence[str], article: Article, terms: Terms,
    message_id: str, tz: ZoneInfo | timezone | None = None, others: Sequence[Article] = (),
    description: str = "",
) -> EmailMessage:
    """The mail for one story: ``article`` is the copy that matched first, ``others`` the other outlets'
    copies known now; ``description`` the rule's, in the footer."""
    title, body_text, body_html = _instant_bodies(rule, query, article, terms, tz, others, description)
    extra = {"X-Mediawatch-Rule": rule, "X-Mediawatch-Article": article.id, "X-Mediawatch-Story": article.story}
    return _message(envelope, recipients, f"{SUBJECT_PREFIX} {rule}: {title}", message_id, body_text, body_html,
                    extra)


@dataclass
class DigestEntry:
    """One story of a digest: the copy that matched first, and the other outlets' copies."""

    article: Article
    terms: Terms
    others: Sequence[Article] = ()


def digest_message(
    envelope: Envelope, rule: str, query: str, recipients: Sequence[str], entries: Sequence[DigestEntry],
    message_id: str, kind: str, period_end: datetime, tz: ZoneInfo | timezone | None = None,
    description: str = "", more: int = 0,
) -> EmailMessage:
    """One mail for one rule; ``entries`` are rendered in the given order (newest first by the caller), and
    ``more`` stories of the period beyond them are counted, not listed."""
    n = len(entries) + more
    until = format_date(period_end, tz)
    heading = f"{n} new article{'s' if n != 1 else ''} for “{rule}” ({kind} digest, until {until})"
    text_items, html_items = [], []
    for number, entry in enumerate(entries, 1):
        text, rich = _article_fields(entry.article, entry.terms, tz, entry.others)
        text_items.append(template("digest_item.txt").substitute(text, number=number))
        html_items.append(template("digest_item.html").substitute(rich, number=number))
    if more:
        rest = f"and {more} more, older: this mail lists the newest {len(entries)}; a search in the web app finds them"
        text_items.append(f"\n{rest}\n")
        html_items.append(f'<p id="digest-more">{html.escape(rest)}</p>')
    footer_text, footer_html = _footer(rule, query, description)
    body_text = template("digest.txt").substitute(footer_text, heading=heading, items="".join(text_items))
    body_html = template("digest.html").substitute(footer_html, heading=html.escape(heading),
                                                   items="\n".join(html_items))
    subject = f"{SUBJECT_PREFIX} {rule}: {n} new article{'s' if n != 1 else ''} ({kind} digest)"
    extra = {"X-Mediawatch-Rule": rule, "X-Mediawatch-Digest": f"{rule}@{period_end.isoformat()}"}
    return _message(envelope, recipients, subject, message_id, body_text, body_html, extra)


def notice_message(envelope: Envelope, recipients: Sequence[str], subject: str, text: str,
                   message_id: str) -> EmailMessage:
    """An operator notice (a source gone quiet): plain facts, no article."""
    return _message(envelope, recipients, f"{SUBJECT_PREFIX} {subject}", message_id, text,
                    f"<pre>{html.escape(text)}</pre>")


def test_message(envelope: Envelope, rule: str, query: str, recipients: Sequence[str], message_id: str) -> EmailMessage:
    """What ``mediawatch alerts send-test`` sends: proves the route from mediawatch to the recipients."""
    sample = Article(
        url="https://example.org/mediawatch-test",
        title=f"Test alert for rule {rule}",
        text=f"This is a test message for the mediawatch rule {rule}, whose query is: {query}. "
        "If you can read it, alert mails for this rule reach you.",
        source="mediawatch",
        published_at=datetime.now(timezone.utc),
    )
    _title, body_text, body_html = _instant_bodies(rule, query, sample, Terms(words=frozenset(tokenize(rule))), None)
    return _message(envelope, recipients, f"{SUBJECT_PREFIX} test mail for rule {rule}", message_id, body_text,
                    body_html)
