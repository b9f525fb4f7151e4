"""Alert mails as ``EmailMessage`` objects: instant and digest, multipart text + HTML.

Safety rules, all enforced here rather than trusted to the templates:

* every header value goes through :func:`clean_header` (CR, LF and every other control or line-separator
  character become a space), and the message uses ``email.policy.SMTP``, which refuses a raw newline
  in a header anyway — an article title cannot add headers;
* every value placed in the HTML template is ``html.escape``-d (quotes included); the only markup we add
  is ``<mark>`` around matched terms, built from already-escaped pieces;
* links are only rendered as ``href`` when they are http(s).

Templates are ``string.Template`` files in ``templates/`` (no template engine dependency).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Iterable, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from indexer.article import Article
from indexer.query import tokenize

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_PREFIX = "[mediawatch]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"(?:\w|[\u0300-\u036f])+", re.UNICODE)  # word runs (combining marks stay inside)


@lru_cache(maxsize=None)
def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def clean_header(value: str, limit: int = 200) -> str:
    """One line, no control characters, at most ``limit`` characters."""
    value = _SPACES.sub(" ", _CONTROL.sub(" ", value or "")).strip()
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def clean_text(value: str) -> str:
    """Single-line text for bodies: controls and newlines collapsed to spaces."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", value or "")).strip()


def fold(word: str) -> str:
    """Our folded token form (``indexer.query.tokenize``: case, accents, ß→ss …), space-joined."""
    return " ".join(tokenize(word))


@dataclass(frozen=True)
class Terms:
    """The positive terms of a query, folded: words, prefixes (``pris*``) and phrases."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.prefixes or self.phrases)


def _marks(tokens: Sequence[str], terms: Terms) -> list[bool]:
    marked = [False] * len(tokens)
    for i, tok in enumerate(tokens):
        if tok in terms.words or any(tok.startswith(p) for p in terms.prefixes):
            marked[i] = True
    for phrase in terms.phrases:
        n = len(phrase)
        if not n:
            continue
        for i in range(len(tokens) - n + 1):
            if tokens[i] == phrase[0] and tuple(tokens[i : i + n]) == phrase:
                for j in range(i, i + n):
                    marked[j] = True
    return marked


def _span_marks(value: str, spans: list[tuple[int, int]], terms: Terms) -> list[bool]:
    """Which word spans contain a matched token (a span may fold to several tokens: ``e_mail``)."""
    if not terms:
        return [False] * len(spans)
    flat: list[str] = []
    owner: list[int] = []
    for i, (a, b) in enumerate(spans):
        for tok in tokenize(value[a:b]):
            flat.append(tok)
            owner.append(i)
    marked = [False] * len(spans)
    for j, m in enumerate(_marks(flat, terms)):
        if m:
            marked[owner[j]] = True
    return marked


@dataclass
class Snippet:
    text: str  # plain, matched terms as *term*
    html: str  # escaped, matched terms in <mark>
    matched: bool


def highlight(value: str, terms: Terms, max_words: int | None = None, before: int = 12) -> Snippet:
    """Highlight ``terms`` in ``value``; with ``max_words`` cut a window around the first match."""
    value = clean_text(value)
    spans = [(m.start(), m.end()) for m in _WORD.finditer(value)]
    marked = _span_marks(value, spans, terms)
    first = next((i for i, m in enumerate(marked) if m), None)
    lo, hi = 0, len(spans)
    if max_words is not None and len(spans) > max_words:
        lo = max(0, (first or 0) - before)
        hi = min(len(spans), lo + max_words)
        lo = max(0, hi - max_words)
    if not spans:
        return Snippet(value, html.escape(value), False)
    start = 0 if lo == 0 else spans[lo][0]
    end = len(value) if hi == len(spans) else spans[hi - 1][1]
    plain: list[str] = []
    rich: list[str] = []
    pos = start
    for i in range(lo, hi):
        a, b = spans[i]
        gap = value[pos:a]
        plain.append(gap)
        rich.append(html.escape(gap))
        word = value[a:b]
        if marked[i]:
            plain.append(f"*{word}*")
            rich.append(f"<mark>{html.escape(word)}</mark>")
        else:
            plain.append(word)
            rich.append(html.escape(word))
        pos = b
    tail = value[pos:end]
    plain.append(tail)
    rich.append(html.escape(tail))
    text, rich_text = "".join(plain), "".join(rich)
    if lo > 0:
        text, rich_text = "… " + text, "… " + rich_text
    if hi < len(spans):
        text, rich_text = text + " …", rich_text + " …"
    return Snippet(text, rich_text, first is not None)


def article_snippet(article: Article, terms: Terms, max_words: int = 60) -> Snippet:
    """The body window around the first matched term; else the description, else the body's start."""
    body = highlight(article.text or "", terms, max_words=max_words)
    if body.matched or not article.description:
        return body
    desc = highlight(article.description, terms, max_words=max_words)
    return desc if desc.matched else body


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


def _article_fields(article: Article, terms: Terms, tz: ZoneInfo | timezone | None) -> tuple[dict[str, str], dict[str, str]]:
    title = clean_text(article.title) or "(untitled)"
    snip = article_snippet(article, terms)
    link = safe_link(article.url or article.canonical_url)
    date = format_date(article.published_at or article.indexed_at, tz)
    source = clean_text(article.source) or (urlsplit(link).netloc if link else "unknown source")
    text = {"title": title, "source": source, "date": date, "link": link or "(no link)", "snippet": snip.text}
    rich = {
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


def _message(
    envelope: Envelope, recipients: Iterable[str], subject: str, message_id: str, text: str, rich: str,
    extra: dict[str, str] | None = None, now: datetime | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = formataddr((clean_header(envelope.from_name), clean_header(envelope.from_addr)))
    msg["To"] = ", ".join(str(Address(addr_spec=clean_header(r))) for r in recipients)
    msg["Subject"] = clean_header(subject, limit=250)
    msg["Date"] = format_datetime(now or datetime.now(timezone.utc))
    msg["Message-ID"] = clean_header(message_id)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    for key, value in (extra or {}).items():
        msg[key] = clean_header(value)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(rich, subtype="html", charset="utf-8")
    return msg


def instant_message(
    envelope: Envelope, rule: str, query: str, recipients: Sequence[str], article: Article, terms: Terms,
    message_id: str, tz: ZoneInfo | timezone | None = None,
) -> EmailMessage:
    text, rich = _article_fields(article, terms, tz)
    common = {"rule": rule, "query": clean_text(query)}
    body_text = template("instant.txt").substitute(text, **common)
    body_html = template("instant.html").substitute(rich, **{k: html.escape(v) for k, v in common.items()})
    subject = f"{SUBJECT_PREFIX} {rule}: {text['title']}"
    extra = {"X-Mediawatch-Rule": rule, "X-Mediawatch-Article": article.id}
    return _message(envelope, recipients, subject, message_id, body_text, body_html, extra)


@dataclass
class DigestEntry:
    article: Article
    terms: Terms


def digest_message(
    envelope: Envelope, rule: str, query: str, recipients: Sequence[str], entries: Sequence[DigestEntry],
    message_id: str, kind: str, period_end: datetime, tz: ZoneInfo | timezone | None = None,
) -> EmailMessage:
    """One mail for one rule; ``entries`` are rendered in the given order (newest first by the caller)."""
    n = len(entries)
    until = format_date(period_end, tz)
    heading = f"{n} new article{'s' if n != 1 else ''} for “{rule}” ({kind} digest, until {until})"
    text_items, html_items = [], []
    for number, entry in enumerate(entries, 1):
        text, rich = _article_fields(entry.article, entry.terms, tz)
        text_items.append(template("digest_item.txt").substitute(text, number=number))
        html_items.append(template("digest_item.html").substitute(rich, number=number))
    common = {"rule": rule, "query": clean_text(query)}
    body_text = template("digest.txt").substitute(common, heading=heading, items="".join(text_items))
    body_html = template("digest.html").substitute(
        {k: html.escape(v) for k, v in common.items()}, heading=html.escape(heading), items="\n".join(html_items)
    )
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
    terms = Terms(words=frozenset(tokenize(rule)))
    msg = instant_message(envelope, rule, query, recipients, sample, terms, message_id)
    del msg["Subject"]
    msg["Subject"] = clean_header(f"{SUBJECT_PREFIX} test mail for rule {rule}")
    return msg
