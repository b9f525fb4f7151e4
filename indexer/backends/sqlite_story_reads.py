"""What :class:`indexer.stories.Stories` asks the embedded index: the stored story state of articles, the
newest holders of band keys within a window (the month tables of :mod:`indexer.backends.sqlite_stories`),
and a story's copies. Mixed into :class:`~indexer.backends.sqlite.SqliteBackend`, which provides ``_run``,
``_ensure`` and ``_article``."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from indexer.article import Article, parse_optional_iso
from indexer.backends import sqlite_stories
from indexer.signatures import decode
from indexer.stories import Known

CHUNK = 500  # ids or keys per IN (...) list
STATE_COLUMNS = "id, story_id, version, content_hash, story_sig, story_keys, effective_at, published_at, " \
                "published_at_source, modified_at"


class SqliteStoryReads:
    """The story lookups of :class:`~indexer.backends.sqlite.SqliteBackend`."""

    @staticmethod
    def _known(row: sqlite3.Row) -> Known:
        """A row of ``STATE_COLUMNS``, read by position: every candidate of every article of a batch is one,
        and a name looks its column up among them all."""
        (doc_id, story_id, version, content_hash, sig, keys, at, published_at, published_at_source,
         modified_at) = row
        return Known(id=doc_id, story_id=story_id or "", version=version or 1, content_hash=content_hash or "",
                     sig=decode(sig or ""), keys=frozenset(json.loads(keys or "[]")),
                     at=parse_optional_iso(at), published_at=parse_optional_iso(published_at),
                     published_at_source=published_at_source or "", modified_at=parse_optional_iso(modified_at))

    def story_state(self, ids: list[str]) -> dict[str, Known]:
        self._ensure()
        out: dict[str, Known] = {}
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            rows = self._run(f"SELECT {STATE_COLUMNS} FROM articles WHERE id IN ({', '.join('?' * len(part))})", part)
            out.update((r["id"], self._known(r)) for r in rows)
        return out

    def story_candidates(self, keys: list[str], since: datetime, until: datetime) -> list[Known]:
        """The newest ``PER_KEY`` holders of each key in the window (what :class:`Stories` compares)."""
        self._ensure()
        if not keys:
            return []
        cols = ", ".join("a." + c.strip() for c in STATE_COLUMNS.split(","))
        names = self._run(sqlite_stories.TABLES_SQL, sqlite_stories.TABLES_PARAMS)
        held = sqlite_stories.month_tables(r[0] for r in names)
        statement = sqlite_stories.candidates(held, cols, keys, since, until)
        return [self._known(r) for r in self._run(*statement)] if statement else []

    def story_articles(self, story_ids: list[str], limit: int = 50) -> dict[str, list[Article]]:
        self._ensure()
        out: dict[str, list[Article]] = {s: [] for s in story_ids}
        for i in range(0, len(story_ids), CHUNK):
            part = story_ids[i:i + CHUNK]
            rows = self._run(
                f"SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY story_id ORDER BY indexed_at, seq) AS n"
                f" FROM articles a WHERE story_id IN ({', '.join('?' * len(part))})) WHERE n <= ?"
                " ORDER BY indexed_at, seq", [*part, limit])
            for row in rows:
                out[row["story_id"]].append(self._article(row))
        return out
