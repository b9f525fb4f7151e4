"""structlog set up once: JSON lines for machines, a readable console for people.

Context (source, url, job) travels in contextvars; Scrapy's and the other libraries'
stdlib logging is routed through the same processors so every line looks alike.
"""

from __future__ import annotations

import logging
import sys

import structlog

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]

# Libraries that are chatty at INFO; their warnings still come through.
_QUIET = ("scrapy", "twisted", "elastic_transport", "elasticsearch", "apscheduler", "urllib3",
          "trafilatura", "htmldate", "readability", "mail.log", "filelock", "asyncio")


# Scrapy reports a failed download here and again via our errback, which logs it once with
# source, url and status; keep only ours.
_DUPLICATES = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt",
               "scrapy.core.scraper")
# Apprise's warnings come back in its notify() result and are logged once, in alerts.channel_failed
# with the rule, the article and the masked channel. Its level stays: the result is captured from it.
_KEPT_APART = ("apprise",)


def configure(level: str = "info", fmt: str = "auto", stream=None) -> None:
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _DUPLICATES:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for name in _KEPT_APART:
        logging.getLogger(name).propagate = False
    structlog.configure(
        # filter first: a per-URL debug line below the level costs a level check, not the chain
        processors=[structlog.stdlib.filter_by_level, *_SHARED,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
