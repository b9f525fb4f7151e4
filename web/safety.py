"""Safe by default: who may talk to the app (a token beyond loopback), CSRF on POST, safe links, rule names."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import structlog
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger("mediawatch.web")

TOKEN_ENV = "MEDIAWATCH_WEB_TOKEN"
TOKEN_COOKIE = "mw_token"
CSRF_COOKIE = "mw_csrf"
CSRF_FIELD = "csrf"
# Probes (a load balancer, systemd) ask /healthz without credentials; with a token set, they are told
# nothing but the status.
OPEN_PATHS = ("/healthz",)
RULE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# A rule's Atom feed, the one page a feed reader asks for: it sends neither a cookie nor a header.
FEED_PATH = re.compile(r"^/rules/([A-Za-z0-9_.-]{1,100})/feed\.atom$")


class BindRefused(ValueError):
    """Serving beyond loopback without a token: refused, and says how to fix it."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name resolves to who knows what: treat it as public


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise BindRefused(f"http.host is {host}, beyond this machine: set {TOKEN_ENV} in the environment "
                          "(a long random string) so the web app can require it, or bind 127.0.0.1")


def feed_key(token: str, rule: str) -> str:
    """The key in a rule's feed address when the app has a token: it opens that feed and nothing else, and
    tells nothing of the token (a new token gives new keys)."""
    return hmac.new(token.encode(), b"mediawatch feed\0" + rule.encode(), hashlib.sha256).hexdigest()[:32]


def feed_link(token: str | None, rule: str) -> str:
    """The address of a rule's feed that a feed reader can use as it is."""
    link = f"/rules/{quote(rule, safe='')}/feed.atom"
    return f"{link}?key={feed_key(token, rule)}" if token else link


def safe_href(url: str | None) -> str | None:
    """The URL when it is an http(s) link, else None: ``javascript:``, ``data:`` and the rest are never links."""
    if not url:
        return None
    cleaned = "".join(ch for ch in url.strip() if ch >= " ")  # browsers ignore tabs/newlines in schemes
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return None
    return cleaned if scheme in ("http", "https") else None


def rule_path(folder: str | Path, name: str) -> Path:
    """The file of rule ``name`` in ``folder``; a name that could leave the folder is a ValueError."""
    if not RULE_NAME.match(name) or name.strip(".") == "":
        raise ValueError(f"invalid rule name {name!r}: letters, digits, '_', '.', '-' only")
    if name.startswith("."):  # a hidden file, which the rules folder skips
        raise ValueError(f"invalid rule name {name!r}: it may not start with '.'")
    base = Path(folder).resolve()
    path = (base / f"{name}.yaml").resolve()
    if path.parent != base:
        raise ValueError(f"invalid rule name {name!r}")
    return path


def csrf_token(request: Request) -> str:
    """The token forms carry: the one in the visitor's cookie (made by CsrfMiddleware)."""
    return request.scope["csrf_token"]


def _host_of(header: str) -> str:
    """The host of a ``Host`` header: ``[::1]:9410`` -> ``::1``, ``localhost:9410`` -> ``localhost``."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def _cross_site(request: Request) -> str | None:
    """Why an unsafe request comes from another page than the app's own, or None. The browser says where
    a request comes from (``Sec-Fetch-Site``; ``Origin`` from older ones), and no page can make it lie: a
    page on another port of this host is "same-site", and may have planted a CSRF cookie of its own."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return None if fetch_site in ("same-origin", "none") else f"Sec-Fetch-Site {fetch_site}"
    origin = request.headers.get("origin")
    if origin is None:
        return None  # not from a browser page: the CSRF token alone decides
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "").split(",")[0].strip()}
    return None if urlsplit(origin).netloc in hosts - {""} else f"Origin {origin[:100]}"


class GuardMiddleware:
    """Token check (when a token is configured), then on every unsafe method: the request must come from
    the app's own pages (``_cross_site``), and double-submit CSRF: the form's ``csrf`` field (or
    ``X-CSRF-Token`` header) must equal the ``mw_csrf`` cookie. Without a token the app serves this machine
    only, and answers only to this machine's names: a site whose name an attacker turns to 127.0.0.1 (DNS
    rebinding) would otherwise be the app's own origin in the victim's browser."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if not self.token and not is_loopback(_host_of(request.headers.get("host", "127.0.0.1"))):
            log.warning("web_refused", reason="host", host=request.headers.get("host", "")[:100], path=scope["path"])
            await PlainTextResponse("refused: this address is not this machine's; open the app at 127.0.0.1 "
                                    f"or localhost (or set ${TOKEN_ENV} to serve it under other names)", 403)(
                scope, receive, send)
            return
        # /healthz answers everyone, but its details (sources, runs, spool) only those with the token
        scope["mw_trusted"] = trusted = not self.token or self._carries_token(request)
        if not trusted and scope["path"] not in OPEN_PATHS:
            refusal = self._without_token(request)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = not re.fullmatch(r"[A-Za-z0-9_-]{32,64}", cookie)
        scope["csrf_token"] = secrets.token_urlsafe(32) if fresh else cookie
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            elsewhere = _cross_site(request)
            if elsewhere is not None:
                log.warning("web_refused", reason="cross_site", detail=elsewhere, method=request.method,
                            path=scope["path"])
                await PlainTextResponse("refused: this form was sent from another page than the app's own", 403)(
                    scope, receive, send)
                return
            body = await _read_body(receive)
            if body is None:  # cut short, it would be read as a form missing its last fields
                await PlainTextResponse(f"refused: a request body is at most {MAX_BODY} bytes", 413)(
                    scope, receive, send)
                return
            sent = request.headers.get("x-csrf-token") or _form_field(request, body, CSRF_FIELD)
            if fresh or not sent or not hmac.compare_digest(sent.encode(), cookie.encode()):
                log.warning("web_refused", reason="csrf", method=request.method, path=scope["path"],
                            client=request.client.host if request.client else None)
                await PlainTextResponse("refused: missing or wrong CSRF token (reload the page)", 403)(
                    scope, receive, send)
                return
            receive = _replay(body, receive)

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start" and fresh:
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", f"{CSRF_COOKIE}={scope['csrf_token']}; Path=/; HttpOnly; "
                                               "SameSite=Strict".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _carries_token(self, request: Request) -> bool:
        given = (request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                 or request.cookies.get(TOKEN_COOKIE, ""))
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _without_token(self, request: Request) -> Response | None:
        """A request that carries no token: None for a rule's feed opened by its key, else the redirect that
        turns ``?token=`` into a cookie, or the refusal."""
        feed = FEED_PATH.match(request.url.path)
        key = request.query_params.get("key", "")
        if (feed and key and request.method in ("GET", "HEAD")
                and hmac.compare_digest(key.encode(), feed_key(self.token, feed[1]).encode())):
            return None
        in_url = request.query_params.get("token", "")
        if in_url and hmac.compare_digest(in_url.encode(), self.token.encode()):
            # Once from a link, then from a cookie: the token leaves the address bar and the history.
            clean = URL(str(request.url)).remove_query_params("token")
            response = RedirectResponse(str(clean), 303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        log.warning("web_refused", reason="token", path=request.url.path,
                    client=request.client.host if request.client else None)
        return PlainTextResponse(f"refused: this mediawatch needs its token (${TOKEN_ENV}); "
                                 "open the address once with ?token=...", 401)


MAX_BODY = 1_000_000  # a rule form is a few hundred bytes


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_BODY bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY:
            return None
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once more for the route, which reads it after the CSRF check did; then the real channel."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _form_field(request: Request, body: bytes, name: str) -> str:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return ""
    values = parse_qs(body.decode("utf-8", "replace")).get(name)
    return values[0] if values else ""
