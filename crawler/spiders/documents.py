"""The feeds, sitemaps and section pages of one run, and their validators.

A document's validators (ETag, Last-Modified, body hash) are saved only when everything it
listed reached a final status, so a crashed or capped run reads it again next time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import structlog
from scrapy.http import Response

from crawler.accounting import is_retryable
from crawler.frontier import Frontier
from crawler.outcomes import Outcomes

log = structlog.get_logger("crawler.spider")

__all__ = ["Doc", "Documents"]


@dataclass
class Doc:
    """A feed, sitemap or section page of this run, and what it listed."""

    canon: str
    url: str
    kind: str
    stage: int
    depth: int = 0
    parent: str | None = None
    lastmod: datetime | None = None  # as given by the parent sitemap index
    children: list[str] = field(default_factory=list)
    child_docs: list[str] = field(default_factory=list)
    pending: dict[str, Any] | None = None  # validators to save once everything listed is finished


class Documents:
    """``found(stage)`` is told when a document is unchanged: for discovery, its stage found something."""

    def __init__(self, source: str, frontier: Frontier, outcomes: Outcomes, found: Callable[[int], None]) -> None:
        self.source = source
        self.frontier = frontier
        self.outcomes = outcomes
        self.found = found
        self.docs: dict[str, Doc] = {}
        self._log = log.bind(source=source)

    def __getitem__(self, canon: str) -> Doc:
        return self.docs[canon]

    def add(self, doc: Doc) -> None:
        self.docs[doc.canon] = doc

    def none_read(self) -> bool:
        """True when there were entry documents and none of them could be read."""
        top = [d for d in self.docs.values() if d.parent is None and d.depth == 0]
        ok = ("listing", "not_modified", "seen")
        return bool(top) and not any(self.outcomes.status(d.canon) in ok for d in top)

    def body(self, response: Response) -> tuple[Doc, bytes] | None:
        """The document and its body to parse; None when it is finished already (a 304, an
        HTTP error, or the same body as last time)."""
        meta = response.meta
        doc = self.docs[meta["mw_canon"]]
        if response.status == 304:
            self.found(doc.stage)
            self.outcomes.finish(doc.canon, doc.url, "not_modified", "304", kind=doc.kind, final=True)
            return None
        if response.status >= 300:
            self.outcomes.finish(doc.canon, doc.url, f"error:http_{response.status}", kind=doc.kind)
            return None
        body = response.body
        body_hash = hashlib.sha256(body).hexdigest()
        etag = (response.headers.get(b"ETag") or b"").decode("latin-1") or None
        last_modified = (response.headers.get(b"Last-Modified") or b"").decode("latin-1") or None
        pending = {"etag": etag, "last_modified": last_modified, "body_hash": body_hash,
                   "full_fetch": bool(meta.get("mw_unconditional"))}
        prev_hash, prev_etag = meta.get("mw_prev_hash"), meta.get("mw_prev_etag")
        if etag and prev_etag == etag and prev_hash and prev_hash != body_hash:
            self._log.warning("etag_unreliable", url=doc.url, etag=etag,
                              reason="same ETag for a changed body: conditional GET disabled for it")
            pending["etag_unreliable"] = True
            self.frontier.flag_unreliable_etag(doc.canon)
        doc.pending = pending
        if meta.get("mw_prev_done") and prev_hash == body_hash:
            self.found(doc.stage)
            self.outcomes.finish(doc.canon, doc.url, "not_modified", "same body hash", kind=doc.kind, final=True)
            return None
        return doc, body

    def _complete(self, canon: str, guard: set[str] | None = None) -> bool:
        guard = guard if guard is not None else set()
        if canon in guard:
            return True
        guard.add(canon)
        status = self.outcomes.status(canon)
        doc = self.docs.get(canon)
        if status is None:
            return False
        if doc is None or status != "listing":
            return not is_retryable(status)
        statuses = self.outcomes.accounting.statuses
        if any(statuses.get(c) is None or is_retryable(statuses[c]) for c in doc.children):
            return False
        return all(self._complete(c, guard) for c in doc.child_docs)

    def save_validators(self) -> None:
        for canon, doc in self.docs.items():
            if doc.pending is None:
                continue
            status = self.outcomes.status(canon) or ""
            if status == "listing" and not self._complete(canon):
                self._log.debug("document_incomplete", url=doc.url)
                continue
            p = doc.pending
            self.frontier.save_document(
                canon, url=doc.url, source=self.source, kind=doc.kind, status=status, etag=p["etag"],
                last_modified=p["last_modified"], body_hash=p["body_hash"], lastmod=doc.lastmod,
                full_fetch=p["full_fetch"], etag_unreliable=p.get("etag_unreliable"),
            )
