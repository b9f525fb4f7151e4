"""The order a newest-first search must give, worked out by brute force over the stored articles: the
reference the backends' order tests compare with."""

from __future__ import annotations

from indexer.query import matches, parse


def brute(stored, q, since=None, until=None, sources=None, languages=None):
    """Matches of ``q`` (None: all) within the filters, newest first by effective date, then by URL."""
    node = parse(q) if q else None
    out = []
    for a in stored:
        at = a.published_at or a.indexed_at
        if node is not None and not matches(node, a):
            continue
        if (since and at < since) or (until and at >= until) or (sources and a.source not in sources) \
                or (languages and a.language not in languages):
            continue
        out.append(a)
    out.sort(key=lambda a: a.url)
    out.sort(key=lambda a: a.published_at or a.indexed_at, reverse=True)
    return out


def collapsed(ordered):
    """One (id, copies) per story, its first article in ``ordered`` standing for it."""
    best, copies = {}, {}
    for a in ordered:
        key = a.story_id or a.id
        best.setdefault(key, a)
        copies[key] = copies.get(key, 0) + 1
    return [(a.id, copies[k]) for k, a in best.items()]
