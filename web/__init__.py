"""The web app: search, coverage, articles, rules, sources and alerts in a browser (Starlette + Jinja2).

The daemon serves it on ``http.host:http.port`` beside ``/healthz`` and ``/metrics``; ``mediawatch web``
serves it alone, read-only beside a running daemon. Everything it needs comes in a :class:`Services`.
"""

from web.app import create_app
from web.services import Services

__all__ = ["Services", "create_app"]
