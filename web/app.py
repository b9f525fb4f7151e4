"""The app factory: routes, static files, /healthz and /metrics, the token and CSRF guard."""

from __future__ import annotations

import json

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from web import pages_ops, pages_rules, pages_search, pages_sources
from web.pages import HERE, services_of, templates
from web.safety import GuardMiddleware
from web.services import Services


def healthz(request: Request) -> Response:
    report = services_of(request).health()
    status = 200 if report.get("status") in ("ok", "degraded") else 503
    if not request.scope.get("mw_trusted", True):  # a probe without the token: the status, no names
        report = {"status": report.get("status")}
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
    app.state.templates = templates()
    app.add_middleware(GuardMiddleware, token=services.token)
    return app
