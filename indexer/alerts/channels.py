"""Alert channels other than mail: chat and webhook URLs (``notify:`` of a rule), sent through Apprise.
A message is one story of an instant rule (:func:`story_message`) or one period of a digest rule
(:func:`digest_message`, its stories in the mail digest's order).

A channel is one Apprise URL (``mmost://``, ``slack://``, ``msteams://``, ``tgram://``, ``discord://``,
``json://``, ``form://``, …). What the ledger keeps of it is :func:`channel_id`, a hash: a URL often holds
a token, so it is never stored, logged or printed in clear (:func:`display` masks it the way Apprise does).

:class:`ChannelSender` delivers one message and raises :class:`~indexer.alerts.mailer.SendError` when the
service did not accept it, like the mail senders, so the engine keeps one retry and backoff policy. Each
message carries a delivery id, derived from (rule, story, channel) as a mail's Message-ID is; services
that take extra HTTP headers (json, form, xml, …) get it as ``X-Mediawatch-Delivery`` (what an
idempotency key is), so a receiver can fold the one repeat a crash between its answer and our ledger
write may cause.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Sequence
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import apprise

from indexer.addresses import networks, reachable
from indexer.alerts.mailer import SendError
from indexer.alerts.render import format_date, safe_link
from indexer.article import Article
from indexer.query import Terms, article_snippet, clean_text

DELIVERY_HEADER = "X-Mediawatch-Delivery"
SNIPPET_WORDS = 40  # a chat message is read at a glance: shorter than the mail's window


def channel_id(url: str) -> str:
    """Stable key of a channel URL in the ledger (the URL itself holds secrets)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def delivery_id(rule: str, story_id: str, channel: str) -> str:
    return "mw." + hashlib.sha256(f"delivery\x00{rule}\x00{story_id}\x00{channel}".encode()).hexdigest()[:32]


def _asset() -> apprise.AppriseAsset:
    # memory: Apprise's persistent store would otherwise write caches under the user's home
    return apprise.AppriseAsset(storage_mode="memory")


def _plugin(url: str):
    return apprise.Apprise.instantiate(url, asset=_asset())


@lru_cache(maxsize=1)
def _known_schemes() -> frozenset[str]:
    return frozenset(s.lower() for s in apprise.NotificationManager().schemas())


def check_channel_url(url: str) -> str:
    """The URL, stripped, if Apprise can send to it; else ValueError saying why (without the secret parts)."""
    url = url.strip()
    scheme, sep, _rest = url.partition("://")
    if not sep or not scheme:
        raise ValueError("not a channel URL (expected scheme://…, e.g. json://host/path or mmost://host/token)")
    if scheme.lower() not in _known_schemes():
        raise ValueError(f"unknown channel scheme {scheme + '://'!r} (Apprise knows no such service)")
    if _plugin(url) is None:
        raise ValueError(f"Apprise cannot use this {scheme}:// URL: a required part is missing or malformed")
    return url


# Schemes whose URL names the server Apprise connects to: generic webhooks and self-hosted services. The
# other schemes name a cloud service by themselves; what stands where a host would is a token.
_SELF_HOSTED = """apprise amqp bark emby enigma2 form gotify gorush goalert hassio humhub irc jellyfin json kodi lametric
mastodon matrix misskey mmost mqtt nctalk ncloud ntfy rocket rsyslog signal smseagle synology toot xbmc xml xmpp""".split()
SELF_HOSTED_SCHEMES = frozenset(_SELF_HOSTED) | {f"{scheme}s" for scheme in _SELF_HOSTED}  # and their TLS forms


def private_target(url: str, allowed_networks: Sequence[str] = ()) -> str | None:
    """The address the internet does not reach (this machine, its network, a cloud's metadata service) outside
    ``allowed_networks`` that sending to ``url`` would make the daemon connect to; None when there is none, or
    when its host does not resolve (nothing is sent there either). Asked of the URLs a web-app user types: a
    browser must not point the daemon at its own network. The host is resolved now; a name that answers
    otherwise later (DNS rebinding) is not caught here."""
    scheme, _, _ = url.partition("://")
    if scheme.lower() not in SELF_HOSTED_SCHEMES:
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None  # Apprise cannot use it either: check_channel_url says so
    if not host:
        return None
    try:
        found = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    allowed = networks(allowed_networks)
    for *_, sockaddr in found:
        if not reachable(str(sockaddr[0]), allowed):
            return str(sockaddr[0])
    return None


# Generic webhooks, whose path is often their secret (``json://host/hooks/T0K3N``); Apprise shows it
_PATH_SECRETS = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})


def display(url: str) -> str:
    """The URL with its secrets masked (Apprise's privacy form, and a generic webhook's path), for logs,
    pages and the CLI."""
    plugin = _plugin(url)
    if plugin is None:
        return url.partition("://")[0] + "://…"
    shown = plugin.url(privacy=True).split("?", 1)[0]
    scheme, _, rest = shown.partition("://")
    if scheme.lower() in _PATH_SECRETS and "/" in rest.strip("/"):
        return f"{scheme}://{rest.split('/', 1)[0]}/…"
    return shown


def _with_header(url: str, name: str, value: str) -> str:
    """The URL with one more HTTP header, in Apprise's URL syntax (``+Name=value``), before any fragment."""
    base, hash_, fragment = url.partition("#")
    glue = "&" if "?" in base else "?"
    return f"{base}{glue}{quote('+' + name)}={quote(value)}{hash_}{fragment}"


def _accepts_headers(plugin) -> bool:
    return "headers" in getattr(type(plugin), "template_kwargs", {})


# What notifies a whole room when a chat message holds it: Discord's @everyone and @here, Mattermost's
# and Rocket.Chat's @channel, @all and @here, Matrix's @room; and Discord's <@id> and <@&id>. And the
# Markdown those services render, where "[text](url)" hides where a link goes and "![](url)" shows an
# image from anywhere. A headline or a snippet may hold any of them: a word joiner after the "@", the
# "<" or the "]" leaves the text as it reads, and it pings nobody and links nowhere.
_MENTION = re.compile(r"@(?=(?:everyone|here|channel|all|room)\b)|<(?=@)", re.IGNORECASE)
_ACTIVE = re.compile(f"{_MENTION.pattern}|\\](?=\\()", re.IGNORECASE)


def _inert(text: str) -> str:
    """Text from the web, made unable to ping a chat room or to hide a link."""
    return _ACTIVE.sub(lambda m: m[0] + "\u2060", text)


def _link(article: Article) -> str:
    """The story's link; an "@" that would ping in its path or query is written %40, as servers read it."""
    link = safe_link(article.url or article.canonical_url)
    if not link or "@" not in link:
        return link or "(no link)"
    scheme, _, rest = link.partition("://")
    end = len(rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0])  # the authority: user@host stays
    tail = _MENTION.sub(lambda m: "%40" if m[0] == "@" else m[0], rest[end:])
    return f"{scheme}://{rest[:end]}{tail}"


@dataclass(frozen=True)
class ChannelMessage:
    title: str
    body: str


def story_message(rule: str, article: Article, terms: Terms, tz: ZoneInfo | timezone | None = None,
                  outlets: Sequence[str] = ()) -> ChannelMessage:
    """Title, outlet, date, snippet and link of a story, and the outlets that carry it, as plain text."""
    title = _inert(clean_text(article.title)) or "(untitled)"
    outlet = _inert(clean_text(article.source)) or "unknown source"
    lines = [f"{outlet} · {format_date(article.published_at or article.indexed_at, tz)}"]
    others = [_inert(o) for o in dict.fromkeys(clean_text(o) for o in outlets) if o]
    if len(others) > 1:
        lines.append("Outlets: " + ", ".join(others))
    snippet = _inert(article_snippet(article, terms, max_words=SNIPPET_WORDS).text)
    if snippet:
        lines += ["", snippet]
    lines += ["", _link(article), "", f"mediawatch rule {rule}"]
    return ChannelMessage(title=f"{rule}: {title}", body="\n".join(lines))


DIGEST_SNIPPET_WORDS = 20  # many stories in one chat message: each a glance


@dataclass(frozen=True)
class DigestStory:
    """One story of a digest: the copy it was recorded with, the query's terms, the outlets carrying it."""

    article: Article
    terms: Terms
    outlets: Sequence[str] = ()


def digest_message(rule: str, stories: Sequence[DigestStory], kind: str, period_end: datetime,
                   tz: ZoneInfo | timezone | None = None) -> ChannelMessage:
    """A digest as one chat message: the stories in the mail digest's order (newest first), numbered,
    each with its outlet, date, outlets, a short snippet and its link."""
    n = len(stories)
    lines = [f"{n} new article{'s' if n != 1 else ''} ({kind} digest, until {format_date(period_end, tz)})"]
    for number, story in enumerate(stories, 1):
        a = story.article
        lines += ["", f"{number}. {_inert(clean_text(a.title)) or '(untitled)'}",
                  f"   {_inert(clean_text(a.source)) or 'unknown source'} · "
                  f"{format_date(a.published_at or a.indexed_at, tz)}"]
        others = [_inert(o) for o in dict.fromkeys(clean_text(o) for o in (a.source, *story.outlets)) if o]
        if len(others) > 1:
            lines.append("   Outlets: " + ", ".join(others))
        snippet = _inert(article_snippet(a, story.terms, max_words=DIGEST_SNIPPET_WORDS).text)
        if snippet:
            lines.append(f"   {snippet}")
        lines.append(f"   {_link(a)}")
    lines += ["", f"mediawatch rule {rule}"]
    return ChannelMessage(title=f"{rule}: {n} new article{'s' if n != 1 else ''} ({kind} digest)",
                          body="\n".join(lines))


class ChannelSender:
    """Sends to one channel URL. A plugin without per-message headers is kept, so its own rate
    limit (Slack's one message a second) holds across the messages of a burst."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.id = channel_id(url)
        self.name = display(url)
        self._lock = threading.Lock()
        self._shared = None

    def send(self, message: ChannelMessage, delivery: str | None = None) -> None:
        with self._lock:
            if self._shared is None:
                self._shared = _plugin(self.url)
            plugin = self._shared
            if plugin is None:
                raise SendError(f"{self.name}: Apprise cannot use this URL", temporary=False)
            if delivery and _accepts_headers(plugin):
                plugin = _plugin(_with_header(self.url, DELIVERY_HEADER, delivery)) or plugin
            try:
                result = apprise.Apprise(plugin, asset=_asset()).notify(
                    body=message.body, title=message.title, body_format=apprise.NotifyFormat.TEXT)
            except Exception as err:  # a plugin bug must look like a failed send, never escape the lane
                raise SendError(f"{self.name}: {type(err).__name__}: {err}") from err
        if not result:
            why = "; ".join(clean_text(e.message) for e in result.logs() if e.level in ("WARNING", "ERROR"))
            raise SendError(f"{self.name}: {why or 'not accepted'}"[:1000])


__all__ = [
    "ChannelMessage", "ChannelSender", "DELIVERY_HEADER", "DigestStory", "channel_id", "check_channel_url",
    "private_target",
    "delivery_id", "digest_message", "display", "story_message",
]
