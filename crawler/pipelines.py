"""Item pipelines: extraction off the reactor thread, then the sink, then the frontier.

    PageItem --ExtractPipeline--> (article | not an article: recorded, a section page's links listed)
             --IngestPipeline --> sink.submit(article) -> counted new/updated -> frontier.mark_done after a flush

Both talk only to the run's ``Outcomes`` (and the pool), which they take from the item's run
(``PageItem.run``, one crawler carries many sources' runs); never to the engine.

* Extraction runs in the pool of ``crawler.offload``, never on the reactor thread.
* The sink (the Ingestor) is called on the reactor/loop thread, the thread that runs
  ``crawl_sources``: ``submit`` should buffer or spool and return quickly.
* The frontier marks a URL done only after a flush that followed its ``submit`` returned; an
  exception from ``submit``, or a flush that could store nothing, counts the URL as ``error:ingest``
  and leaves it to the next run.
"""

from __future__ import annotations

import asyncio
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from crawler.decoding import Decoded, decode_html, log_decision
from crawler.items import PageItem
from indexer.query import fold_article
from indexer.signatures import sign

if TYPE_CHECKING:
    from crawler.outcomes import Outcomes

log = structlog.get_logger("crawler.pipelines")

__all__ = ["ExtractPipeline", "IngestPipeline", "extract_page", "page_links"]


# -- the work done in the pool ------------------------------------------------------------------
def extract_page(
    body: bytes,
    content_type: bytes | str | None,
    url: str,
    feed_date: datetime | None,
    fetched_at: datetime | None,
    source: str,
    want_links: bool,
) -> tuple[str, Any, list[tuple[str, str]], Decoded | None]:
    """("article", Article, [], how it decoded), ("not_article", reason, links-if-wanted, how it
    decoded) or ("error:decode", reason, [], None). Runs in a worker, decoding included: the reactor's
    thread then neither decodes the page nor pickles its text (bytes pickle as they are). The article
    leaves signed for stories (``indexer.signatures.sign``) and its text fields folded for the index
    (``indexer.query.fold_article``): they were the writer thread's largest costs per article outside the
    index itself, and the workers have the cores to spare."""
    from crawler.extraction import NotArticle, extract

    try:
        decoded = decode_html(body, content_type)
    except (UnicodeError, ValueError, LookupError) as err:
        return "error:decode", str(err), [], None
    how = Decoded("", decoded.encoding, decoded.why, decoded.header)  # the text travels in the article
    try:
        article = extract(decoded.text, url, feed_date=feed_date, fetched_at=fetched_at, source=source)
    except NotArticle as err:
        links: list[tuple[str, str]] = []
        if want_links:
            from crawler.discovery.links import extract_links

            links = extract_links(decoded.text, url)
        return "not_article", getattr(err, "reason", "") or str(err), links, how
    try:
        sign(article)
        fold_article(article)
    except Exception as err:  # a malformed article: left to the writer, which signs and folds what arrives bare
        log.warning("stories.sign_failed", url=url[:300], error=repr(err)[:200])
    return "article", article, [], how


def page_links(html: str, url: str) -> list[tuple[str, str]]:
    from crawler.discovery.links import extract_links

    return extract_links(html, url)


# -- pipelines -----------------------------------------------------------------------------------
class ExtractPipeline:
    """PageItem -> Article in the pool; a non-article (its links too, for a section page above
    max depth) and a failed extraction are recorded in the run's Outcomes."""

    async def process_item(self, item: PageItem, spider: Any = None) -> PageItem:
        if not isinstance(item, PageItem) or item.run is None or item.run.closed:
            return item
        context = item.run.context
        source, outcomes = context.source.name, context.outcomes
        want_links = item.kind == "page" and item.depth < context.source.sections.max_depth
        try:
            outcome, value, links, how = await context.offloader.run(
                extract_page, item.body, item.content_type, item.final_url, item.feed_date, item.fetched_at, source,
                want_links,
            )
        except asyncio.TimeoutError:
            outcomes.finish(item.canon, item.canon, "error:extract_timeout", "extraction took too long",
                                 kind=item.kind)
            return item
        except BrokenProcessPool as err:
            outcomes.finish(item.canon, item.canon, "error:extract_crash", str(err), kind=item.kind)
            return item
        except Exception as err:  # a bug in extraction: count it, keep crawling
            log.warning("extract_failed", source=source, url=item.canon, error=repr(err))
            outcomes.finish(item.canon, item.canon, "error:extract", repr(err)[:200], kind=item.kind)
            return item
        item.body = b""  # the text is in the article now; free the page early
        if how is None:
            outcomes.finish(item.canon, item.url, "error:decode", value, kind=item.kind)
            return item
        log_decision(log, item.final_url, how, source=source)
        if outcome == "article":
            if not value.title and item.title_hint:
                value.title = item.title_hint
            item.article = value
            return item
        outcomes.not_article(item, value, links if want_links else None)
        return item


class IngestPipeline:
    """Article -> sink.submit -> counted (new / updated / not_modified); the frontier marks it
    done once the sink's ``flush`` returned after it (every ``Outcomes.FLUSH_EVERY`` articles, in
    the background, and at the end of the run): the Ingestor's ``submit`` only buffers, ``flush``
    is what makes it indexed or spooled. A crash before that refetches the article next run; the
    index keeps one document per canonical URL, so that is a re-index, never a duplicate. An
    article waits here only while a whole batch is already waiting for a flush."""

    async def process_item(self, item: PageItem, spider: Any = None) -> PageItem:
        if not isinstance(item, PageItem) or item.article is None or item.run is None or item.run.closed:
            return item
        outcomes: Outcomes = item.run.outcomes
        if item.previous_hash is not None and item.article.content_hash == item.previous_hash:
            outcomes.unchanged(item)
            return item
        await outcomes.room()
        if not item.run.closed:  # a run that ended meanwhile has counted it already
            outcomes.submit(item)
        return item
