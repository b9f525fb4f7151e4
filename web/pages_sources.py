"""Adding a source from the Sources page: type a homepage, see what the probe found and a test crawl, confirm.

The probe and the write are the daemon's (``Services.find_source`` / ``add_source``, the same two that
`mediawatch sources add` uses), so the config file is written as the CLI writes it and the daemon
schedules the new source at once. What the probe proposed stays on the server, under a random key
the confirm form carries: the browser never sends the source to write, only which proposal it saw.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote
from collections import OrderedDict
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from web.pages import render, services_of

log = structlog.get_logger("mediawatch.web")

MAX_HOMEPAGE = 2000
MAX_PROPOSALS = 32  # held for confirmation; the oldest go first
PROPOSAL_TTL_S = 3600.0


def _proposals(request: Request) -> OrderedDict[str, tuple[float, Any]]:
    state = request.app.state
    if not hasattr(state, "proposals"):
        state.proposals = OrderedDict()
    held: OrderedDict[str, tuple[float, Any]] = state.proposals
    now = time.monotonic()
    for key in [k for k, (at, _p) in held.items() if now - at > PROPOSAL_TTL_S]:
        del held[key]
    return held


def _read_only(request: Request) -> Response | None:
    if services_of(request).find_source is None:
        return render(request, "unavailable.html", {"why": "read-only: `mediawatch web` cannot add sources; the "
                                                           "daemon's own app (or `mediawatch sources add`) can"},
                      status=409)
    return None


def add_form(request: Request) -> Response:
    refused = _read_only(request)
    if refused is not None:
        return refused
    return render(request, "sources_add.html", {"homepage": "", "name": "", "found": None, "key": "", "error": ""})


async def probe(request: Request) -> Response:
    """Run the probe and the test crawl (seconds: the page answers when they are done) and show them."""
    refused = _read_only(request)
    if refused is not None:
        return refused
    form = await request.form()
    homepage = str(form.get("homepage") or "").strip()[:MAX_HOMEPAGE]
    name = str(form.get("name") or "").strip()[:100]
    context: dict[str, Any] = {"homepage": homepage, "name": name, "found": None, "key": "", "error": ""}
    if not homepage:
        context["error"] = "type the site's homepage, e.g. https://www.example.com/"
        return render(request, "sources_add.html", context, status=400)
    found = await services_of(request).find_source(homepage, name or None)
    context["found"] = found
    if found.source is None:
        context["error"] = f"{found.error}; nothing can be added"
        log.info("web_source_probe_failed", homepage=homepage, error=found.error)
        return render(request, "sources_add.html", context, status=422)
    key = secrets.token_urlsafe(16)
    held = _proposals(request)
    held[key] = (time.monotonic(), found)
    while len(held) > MAX_PROPOSALS:
        held.popitem(last=False)
    context.update(key=key, name=found.name)
    log.info("web_source_probed", homepage=homepage, source=found.name, articles=len(found.articles))
    return render(request, "sources_add.html", context)


async def confirm(request: Request) -> Response:
    refused = _read_only(request)
    if refused is not None:
        return refused
    form = await request.form()
    held = _proposals(request)
    entry = held.get(str(form.get("key") or ""))
    if entry is None:
        return render(request, "sources_add.html", {
            "homepage": "", "name": "", "found": None, "key": "",
            "error": "that proposal has expired or was already added: probe the homepage again"}, status=410)
    found = entry[1]
    try:
        services_of(request).add_source(found)
    except ValueError as err:
        return render(request, "sources_add.html", {"homepage": found.homepage, "name": found.name, "found": found,
                                                    "key": "", "error": str(err)}, status=409)
    held.pop(str(form.get("key")), None)
    log.info("web_source_added", source=found.name, homepage=found.homepage)
    return RedirectResponse(f"/sources?added={quote(found.name)}", 303)


routes = [
    Route("/sources/add", add_form),
    Route("/sources/add/probe", probe, methods=["POST"]),
    Route("/sources/add/confirm", confirm, methods=["POST"]),
]
