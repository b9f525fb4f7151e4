"""What every page handler shares: the templates (autoescaped), rendering with the CSRF token, the 503 page, the services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from web.safety import csrf_token, safe_href
from web.services import Services

HERE = Path(__file__).resolve().parent


def templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["safe_href"] = safe_href
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M") if d else ""
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    jinja: Jinja2Templates = request.app.state.templates
    return jinja.TemplateResponse(request, name, {"csrf": csrf_token(request), **context}, status_code=status)


def unavailable(request: Request, why: str) -> Response:
    """The daemon is still opening its stores (or the index is down): say so, with the status code."""
    return render(request, "unavailable.html", {"why": why}, status=503)


def services_of(request: Request) -> Services:
    return request.app.state.services
