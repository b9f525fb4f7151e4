"""The item a spider hands to the item pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["PageItem"]


@dataclass
class PageItem:
    """A fetched page on its way to extraction (article candidates only)."""

    canon: str  # the URL as requested, in canonical form: the frontier key
    final_url: str  # after redirects
    body: bytes  # as fetched: decoded in the extraction pool, which spares the reactor's thread the work
    content_type: bytes | None = None  # the response's header, which decoding weighs
    url: str = ""  # as requested (the frontier's record of a page that cannot be decoded)
    kind: str = "article"  # "article" (from a feed/sitemap) | "page" (a link of a section page)
    depth: int = 0
    lastmod: datetime | None = None
    feed_date: datetime | None = None
    title_hint: str = ""
    fetched_at: datetime | None = None
    previous_hash: str | None = None  # content hash indexed last time (a refetch), else None
    article: Any = None  # set by ExtractPipeline
    extra: dict[str, Any] = field(default_factory=dict)
    run: Any = None  # the source's run it belongs to (crawler.spiders.source.SourceRun): its context, its outcomes
