"""`mediawatch search`, and the printing of hits and lines that the other commands share."""

from __future__ import annotations

import json
import sys

from scheduler.config import Config
from scheduler.errors import EXIT_OK, UsageError


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def open_backend(cfg: Config):
    from indexer.backends import open_backend as open_index

    return open_index(cfg.index)


def parse_query(query: str):
    from indexer.query import QueryError, parse

    try:
        return parse(query)
    except QueryError as err:
        raise UsageError(f"invalid query: {err}") from None


def print_hits(hits, as_json: bool) -> None:
    if as_json:
        for hit in hits:
            out(json.dumps({**hit.article.to_dict(), "score": hit.score, "snippet": hit.snippet.html,
                            "snippet_text": hit.snippet.text,
                            "copies": getattr(hit, "copies", 1)}, ensure_ascii=False))
        return
    for hit in hits:
        a = hit.article
        when = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else "undated"
        more = getattr(hit, "copies", 1) - 1  # search hits of a collapsed story
        outlets = f"  (+{more} outlet{'s' if more != 1 else ''})" if more > 0 else ""
        out(f"{when}  [{a.source}] {a.title}{outlets}\n    {a.url}\n    {hit.snippet.text}")


def cmd_search(cfg: Config, args) -> int:
    node = parse_query(args.query)
    if args.since and args.until and args.since >= args.until:
        raise UsageError(f"the window is empty: --since starts at {args.since.isoformat()}, "
                         f"--until ends at {args.until.isoformat()}")
    backend = open_backend(cfg)
    try:
        if args.sources:
            _check_sources(args.sources, {s.name for s in cfg.sources} | set(backend.source_names()))
        hits = backend.search(node, since=args.since, until=args.until, sources=args.sources,
                              languages=_flat(args.languages), limit=args.limit, collapse=not args.all_copies)
    finally:
        backend.close()
    print_hits(hits, args.json)
    if not args.json:
        more = f" (the newest {args.limit}: --limit for more)" if len(hits) >= args.limit else ""
        out(f"{len(hits)} hit(s){more}")
    note_operator_words(args.query)
    return EXIT_OK


def note_operator_words(query: str) -> None:
    """On stderr, so that --json output stays clean."""
    from indexer.query import operator_words

    for word in operator_words(query):
        sys.stderr.write(f"note: {word!r} is searched as a word; as an operator it is written {word.upper()}\n")


def _flat(lists: list[list[str]] | None) -> list[str] | None:
    """``--lang en --lang de,fr``: each option's codes, in one list."""
    return [item for items in lists for item in items] if lists else None


def _check_sources(asked: list[str], known: set[str]) -> None:
    """A --source that neither the config nor the index knows is a typo, not a source without hits."""
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise UsageError(f"no source named {', '.join(map(repr, unknown))} in the config or the index "
                         f"(known: {', '.join(sorted(known)) or 'none'})")
