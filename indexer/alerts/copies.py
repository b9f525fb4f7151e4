"""The other outlets' copies of the stories an alert names, as known when it is sent."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import structlog

from indexer.article import Article

log = structlog.get_logger(__name__)


class StoryRow(Protocol):
    """What an alert row tells about its story: the story, and the copy it was recorded with."""

    @property
    def story_id(self) -> str: ...

    @property
    def article_id(self) -> str: ...


class Copies:
    """Every copy known per story. Two rules on one story may each have been recorded with a different
    copy (one reads only some sources), so each row leaves out its own copy, not a story's first."""

    def __init__(self, by_story: dict[str, dict[str, Article]]) -> None:
        self._by_story = by_story

    def others(self, row: StoryRow) -> list[Article]:
        return [a for key, a in self._by_story.get(row.story_id, {}).items() if key != row.article_id]


def gather(backend: Any, rows: Sequence[StoryRow], fresh: Sequence[Article] = ()) -> Copies:
    """The copies of the rows' stories: what the index holds, plus ``fresh`` (the batch just indexed,
    which Elasticsearch may not show until its next refresh). Without a backend, or when it cannot
    answer, the alert goes out with what it has."""
    wanted = sorted({r.story_id for r in rows})
    found: dict[str, list[Article]] = {}
    if backend is not None and wanted:
        try:
            found = backend.story_articles(wanted)
        except Exception as err:  # the index being down must not hold the alert back
            log.warning("alerts.copies_unavailable", stories=len(wanted), error=str(err)[:300])
    by_story: dict[str, dict[str, Article]] = {s: {a.id: a for a in found.get(s, ())} for s in wanted}
    for article in fresh:
        known = by_story.get(article.story)
        if known is not None:
            known[article.id] = article
    return Copies(by_story)
