"""The app factory: routes, templates (autoescaped), static files, the token and CSRF guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from web.safety import GuardMiddleware, csrf_token, safe_href
from web.services import Services

HERE = Path(__file__).resolve().parent


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["safe_href"] = safe_href
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M") if d else ""
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, {"csrf": csrf_token(request), **context}, status_code=status)


def unavailable(request: Request, why: str) -> Response:
    """The daemon is still opening its stores (or the index is down): say so, with the status code."""
    return render(request, "unavailable.html", {"why": why}, status=503)


def services_of(request: Request) -> Services:
    return request.app.state.services


def healthz(request: Request) -> Response:
    report = services_of(request).health()
    status = 200 if report.get("status") in ("ok", "degraded") else 503
    return Response(json.dumps(report), status, media_type="application/json")


def metrics(request: Request) -> Response:
    services = services_of(request)
    services.health()  # the health gauges say what /healthz would say now
    return Response(services.metrics(), 200, media_type=CONTENT_TYPE_LATEST)


def not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(("/healthz", "/metrics")):
        return Response("not found\n", 404, media_type="text/plain")
    return HTMLResponse(request.app.state.templates.get_template("not_found.html").render(), 404)


def create_app(services: Services) -> Starlette:
    from web import pages_ops, pages_rules, pages_search, pages_sources

    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        *pages_search.routes,
        *pages_rules.routes,
        *pages_sources.routes,
        *pages_ops.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.services = services
    app.state.templates = _templates()
    app.add_middleware(GuardMiddleware, token=services.token)
    return app
