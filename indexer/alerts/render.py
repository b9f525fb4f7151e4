"""Alert mails (``mime.Mail``): instant and digest, multipart text + HTML.

Safety rules, all enforced here rather than trusted to the templates:

* every header value goes through :func:`clean_header` (CR, LF and every other control or line-separator
  character become a space), and ``mime.Mail`` refuses a raw newline in a header anyway — an article
  title cannot add headers;
* every value placed in the HTML template is ``html.escape``-d (quotes included); the only markup we add
  is ``<mark>`` around matched terms, built from already-escaped pieces;
* links are only rendered as ``href`` when they are http(s).

Templates are ``string.Template`` files in ``templates/`` (no template engine dependency).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, formataddr
from functools import lru_cache
from operator import not_
from pathlib import Path
from string import Template
from typing import Iterable, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from indexer.alerts.mime import Mail
from indexer.article import Article
from indexer.query import tokenize

TEMPLATES = Path(__file__).with_name("templates")
SUBJECT_PREFIX = "[mediawatch]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_WORD_SPLIT = re.compile(r"([\w\u0300-\u036f]+)")  # word runs (combining marks stay inside), kept by split


@lru_cache(maxsize=None)
def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def clean_header(value: str, limit: int = 200) -> str:
    """One line, no control characters, at most ``limit`` characters."""
    value = clean_text(value)
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def clean_text(value: str) -> str:
    """Single-line text for bodies: controls and newlines collapsed to spaces."""
    # str.split() collapses every whitespace run at C speed (the regexes took ~30 ns a character);
    # a control character it leaves makes the result non-printable, and only then do they run.
    value = " ".join((value or "").split())
    return value if value.isprintable() else _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


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


def _phrase_marks(flat: Sequence[str], phrases: Iterable[tuple[str, ...]]) -> list[bool]:
    """Which tokens of ``flat`` are inside an occurrence of one of ``phrases``."""
    marked = [False] * len(flat)
    for phrase in phrases:
        n = len(phrase)
        if not n:
            continue
        for i in range(len(flat) - n + 1):
            if flat[i] == phrase[0] and tuple(flat[i : i + n]) == phrase:
                for j in range(i, i + n):
                    marked[j] = True
    return marked


@lru_cache(maxsize=1 << 14)
def _word_tokens(word: str) -> tuple[str, ...]:
    # News text repeats its words, within an article and across the mails of a batch.
    return tuple(tokenize(word))


@dataclass(frozen=True)
class _Words:
    """A cleaned value cut into word runs: ``parts`` alternates gap, word, gap, …, word, gap."""

    value: str
    parts: list[str]
    tokens: list[tuple[str, ...]]  # per word (a word may fold to several tokens: ``e_mail``)
    vocabulary: frozenset[str]  # every token of the value


@lru_cache(maxsize=16)
def _words(value: str) -> _Words:
    # Cached: an article matching several rules is highlighted once per mail, with the same text,
    # and its mails go out one after the other.
    value = clean_text(value)
    parts = _WORD_SPLIT.split(value)
    tokens = list(map(_word_tokens, parts[1::2]))
    return _Words(value, parts, tokens, frozenset().union(*tokens))


def _marked_words(cut: _Words, terms: Terms) -> list[bool]:
    """Per word: does it hold a matched token. All False, cheaply, when the value holds none."""
    n = len(cut.tokens)
    if not terms:
        return [False] * n
    hits = cut.vocabulary & terms.words
    if terms.prefixes:
        hits |= {tok for tok in cut.vocabulary if tok.startswith(terms.prefixes)}
    # map over a C method: a Python loop over every word of a body cost more than the mail around it
    marked = list(map(not_, map(hits.isdisjoint, cut.tokens))) if hits else [False] * n
    phrases = [p for p in terms.phrases if cut.vocabulary.issuperset(p)]  # only those that can occur
    if phrases:
        flat = [tok for toks in cut.tokens for tok in toks]
        owner = [i for i, toks in enumerate(cut.tokens) for _ in toks]
        for j, m in enumerate(_phrase_marks(flat, phrases)):
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
    cut = _words(value or "")
    n = len(cut.tokens)
    if not n:
        return Snippet(cut.value, html.escape(cut.value), False)
    marked = _marked_words(cut, terms)
    first = marked.index(True) if True in marked else None
    lo, hi = 0, n
    if max_words is not None and n > max_words:
        lo = max(0, (first or 0) - before)
        hi = min(n, lo + max_words)
        lo = max(0, hi - max_words)
    # parts[2i + 1] is word i; the window keeps the gaps between its words, and the value's
    # leading / trailing gap only when it reaches that end.
    p0 = 0 if lo == 0 else 2 * lo + 1
    window = cut.parts[p0 : len(cut.parts) if hi == n else 2 * hi]
    plain = list(window)
    rich: list[str] = []
    run = 0  # html.escape works per character, so unmarked runs are escaped in one call
    for i in range(lo, hi):
        if not marked[i]:
            continue
        k = 2 * i + 1 - p0
        word = window[k]
        plain[k] = f"*{word}*"
        rich.append(html.escape("".join(window[run:k])))
        rich.append(f"<mark>{html.escape(word)}</mark>")
        run = k + 1
    rich.append(html.escape("".join(window[run:])))
    text, rich_text = "".join(plain), "".join(rich)
    if lo > 0:
        text, rich_text = "… " + text, "… " + rich_text
    if hi < n:
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


@lru_cache(maxsize=1024)
def _from_header(name: str, addr: str) -> str:
    # formataddr quotes the display name and encodes a non-ASCII one (RFC 2047)
    return formataddr((clean_header(name), clean_header(addr)), charset="utf-8")


def _message(
    envelope: Envelope, recipients: Iterable[str], subject: str, message_id: str, text: str, rich: str,
    extra: dict[str, str] | None = None, now: datetime | None = None,
) -> Mail:
    to = tuple(r for r in map(clean_header, recipients) if r)
    headers = [
        ("From", _from_header(envelope.from_name, envelope.from_addr)),
        ("To", ", ".join(to)),
        ("Subject", clean_header(subject, limit=250)),
        ("Date", format_datetime(now or datetime.now(timezone.utc))),
        ("Message-ID", clean_header(message_id)),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
    ]
    headers += [(key, clean_header(value)) for key, value in (extra or {}).items()]
    return Mail(tuple(headers), text, rich, recipients=to, sender=clean_header(envelope.from_addr))


def _instant_bodies(rule: str, query: str, article: Article, terms: Terms,
                    tz: ZoneInfo | timezone | None) -> tuple[str, str, str]:
    """The article's title, and the text and HTML bodies of its instant mail."""
    text, rich = _article_fields(article, terms, tz)
    common = {"rule": rule, "query": clean_text(query)}
    body_text = template("instant.txt").substitute(text, **common)
    body_html = template("instant.html").substitute(rich, **{k: html.escape(v) for k, v in common.items()})
    return text["title"], body_text, body_html


def instant_message(
    envelope: Envelope, rule: str, query: str, recipients: Sequence[str], article: Article, terms: Terms,
    message_id: str, tz: ZoneInfo | timezone | None = None,
) -> Mail:
    title, body_text, body_html = _instant_bodies(rule, query, article, terms, tz)
    extra = {"X-Mediawatch-Rule": rule, "X-Mediawatch-Article": article.id}
    return _message(envelope, recipients, f"{SUBJECT_PREFIX} {rule}: {title}", message_id, body_text, body_html,
                    extra)


@dataclass
class DigestEntry:
    article: Article
    terms: Terms


def digest_message(
    envelope: Envelope, rule: str, query: str, recipients: Sequence[str], entries: Sequence[DigestEntry],
    message_id: str, kind: str, period_end: datetime, tz: ZoneInfo | timezone | None = None,
) -> Mail:
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
                   message_id: str) -> Mail:
    """An operator notice (a source gone quiet): plain facts, no article."""
    return _message(envelope, recipients, f"{SUBJECT_PREFIX} {subject}", message_id, text,
                    f"<pre>{html.escape(text)}</pre>")


def test_message(envelope: Envelope, rule: str, query: str, recipients: Sequence[str], message_id: str) -> Mail:
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
